// Command lambda is the s3xguard function as deployed (the stack builds it
// as bootstrap for provided.al2023): S3 Express CloudTrail events in, a
// decision, alerts and quarantines out. It holds the function only; the
// operator's commands are lambda/cmd/s3xguard.
package main

import "github.com/s3xguard/s3xguard/lambda/handler"

func main() { handler.Start() }

// Command s3xguard guards data in Amazon S3 Express One Zone directory
// buckets. Anywhere but AWS Lambda it is the operator's tool: it checks
// CloudTrail log files offline against an allowlist, prints the allowlist
// as SQL, suggests one, checks a deployment and undoes quarantines. Inside
// AWS Lambda (AWS_LAMBDA_RUNTIME_API set) the same binary serves events,
// exactly as the deployed function does.
package main

import (
	"os"

	"github.com/s3xguard/s3xguard/lambda/cli"
	"github.com/s3xguard/s3xguard/lambda/handler"
)

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		handler.Start()
		return
	}
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Package alert turns a decision and the response to it into one SNS
// publish that reads well as email and as SMS and parses as JSON.
package alert

import (
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// Severity orders alerts: policy changes above writes and deletes above
// reads; a failed call one step below the same call succeeding.
type Severity int

const (
	Low Severity = iota
	Medium
	High
	Critical
)

func (s Severity) String() string {
	switch s {
	case Critical:
		return "critical"
	case High:
		return "high"
	case Medium:
		return "medium"
	}
	return "low"
}

// bucketChanges are calls that change who can reach a bucket, or the bucket.
var bucketChanges = map[string]bool{
	"PutBucketPolicy": true, "DeleteBucketPolicy": true, "DeleteBucket": true, "CreateBucket": true,
	"PutBucketEncryption": true, "DeleteBucketEncryption": true,
}

// SeverityOf rates an unauthorized record. Invalid records are their own
// kind (see Kind) and rate Medium: something unreadable reached the guard.
func SeverityOf(r *cloudtrail.Record) Severity {
	var s Severity
	switch {
	case bucketChanges[r.EventName]:
		s = Critical
	case !r.ReadOnly:
		s = High
	default:
		s = Medium
	}
	if r.ErrorCode != "" {
		s--
	}
	return s
}

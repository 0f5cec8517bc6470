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
	case writes(r):
		s = High
	default:
		s = Medium
	}
	if r.ErrorCode != "" {
		s--
	}
	return s
}

// writes reports whether the call can change data. CloudTrail logs every
// CreateSession with readOnly true, even for a ReadWrite session (S3 user
// guide, "CloudTrail log file examples for directory buckets"), so a
// session is rated by its mode: requested (x-amz-create-session-mode) and
// applied (sessionModeApplied). It is a read only when every mode logged
// is ReadOnly; a missing mode means ReadWrite, the API's default
// (CreateSession API reference, x-amz-create-session-mode).
func writes(r *cloudtrail.Record) bool {
	if r.EventName != "CreateSession" {
		return !r.ReadOnly
	}
	if r.SessionMode == "" && r.SessionModeApplied == "" {
		return true
	}
	for _, m := range [...]string{r.SessionMode, r.SessionModeApplied} {
		if m != "" && m != "ReadOnly" {
			return true
		}
	}
	return false
}

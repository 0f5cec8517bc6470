package ownrole

import (
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

func TestAllows(t *testing.T) {
	r, err := Parse("arn:aws:iam::123456789012:role/service/guard-fn")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arn, call string
		want      bool
	}{
		{"arn:aws:sts::123456789012:assumed-role/guard-fn/s3xguard", "PutBucketPolicy", true},
		{"arn:aws:sts::123456789012:assumed-role/guard-fn/s3xguard", "DeleteBucketPolicy", true},
		{"arn:aws:sts::123456789012:assumed-role/guard-fn/s3xguard", "GetBucketPolicy", true},
		{"arn:aws:sts::123456789012:assumed-role/guard-fn/s3xguard", "PutObject", false},
		{"arn:aws:sts::123456789012:assumed-role/guard-fn/s3xguard", "DeleteBucket", false},
		{"arn:aws:sts::210987654321:assumed-role/guard-fn/s3xguard", "PutBucketPolicy", false},
		{"arn:aws:sts::123456789012:assumed-role/guard-fn2/s3xguard", "PutBucketPolicy", false},
		{"arn:aws:iam::123456789012:user/guard-fn", "PutBucketPolicy", false},
		{"arn:aws-cn:sts::123456789012:assumed-role/guard-fn/s", "PutBucketPolicy", false},
	} {
		id := cloudtrail.Identity{ARN: tc.arn}
		if got := r.Allows(&cloudtrail.Record{EventName: tc.call}, rules.PrincipalOf(id)); got != tc.want {
			t.Errorf("%s %s: got %v; want %v", tc.arn, tc.call, got, tc.want)
		}
	}
	var zero Role
	if zero.Allows(&cloudtrail.Record{EventName: "PutBucketPolicy"}, rules.Principal{Kind: rules.KindRole}) {
		t.Error("the zero Role allowed a call")
	}
	for _, bad := range []string{"arn:aws:iam::123456789012:user/x", "role/x", "arn:aws:sts::123456789012:assumed-role/r/s"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

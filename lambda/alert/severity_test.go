package alert

import (
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

func TestSeverityOf(t *testing.T) {
	for _, tc := range []struct {
		event    string
		readOnly bool
		errCode  string
		want     Severity
	}{
		{"PutBucketPolicy", false, "", Critical},
		{"DeleteBucketPolicy", false, "AccessDenied", High},
		{"PutObject", false, "", High},
		{"DeleteObject", false, "", High},
		{"DeleteObjects", false, "AccessDenied", Medium},
		{"GetObject", true, "", Medium},
		{"CreateSession", true, "", Medium},
		{"GetObject", true, "AccessDenied", Low},
	} {
		got := SeverityOf(&cloudtrail.Record{EventName: tc.event, ReadOnly: tc.readOnly, ErrorCode: tc.errCode})
		if got != tc.want {
			t.Errorf("%s readOnly=%v error=%q: got %v; want %v", tc.event, tc.readOnly, tc.errCode, got, tc.want)
		}
	}
}

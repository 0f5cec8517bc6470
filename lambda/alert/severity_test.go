package alert

import (
	"os"
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
		{"GetObject", true, "AccessDenied", Low},
	} {
		got := SeverityOf(&cloudtrail.Record{EventName: tc.event, ReadOnly: tc.readOnly, ErrorCode: tc.errCode})
		if got != tc.want {
			t.Errorf("%s readOnly=%v error=%q: got %v; want %v", tc.event, tc.readOnly, tc.errCode, got, tc.want)
		}
	}
}

// TestSeverityCreateSession: CloudTrail logs CreateSession with readOnly
// true whatever the mode, so the mode decides: a ReadWrite session can
// write and delete, so it rates as a write.
func TestSeverityCreateSession(t *testing.T) {
	for _, tc := range []struct {
		name            string
		requested, mode string // requestParameters x-amz-create-session-mode, additionalEventData.sessionModeApplied
		errCode         string
		want            Severity
	}{
		{"ReadWrite requested and applied", "ReadWrite", "ReadWrite", "", High},
		{"ReadWrite applied only", "", "ReadWrite", "", High},
		{"ReadWrite requested only", "ReadWrite", "", "", High},
		{"no mode: the API's default is ReadWrite", "", "", "", High},
		{"ReadOnly", "ReadOnly", "ReadOnly", "", Medium},
		{"ReadOnly requested only", "ReadOnly", "", "", Medium},
		{"ReadOnly applied only", "", "ReadOnly", "", Medium},
		{"requested and applied disagree", "ReadOnly", "ReadWrite", "", High},
		{"unknown mode rates as a write", "ReadOnly", "Admin", "", High},
		{"failed ReadWrite", "ReadWrite", "", "AccessDenied", Medium},
		{"failed ReadOnly", "ReadOnly", "", "AccessDenied", Low},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &cloudtrail.Record{EventName: "CreateSession", ReadOnly: true, SessionMode: tc.requested, SessionModeApplied: tc.mode, ErrorCode: tc.errCode}
			if got := SeverityOf(r); got != tc.want {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}

// TestSeverityCreateSessionFixture reads the mode from a real-looking
// record (readOnly true, ReadWrite in both places).
func TestSeverityCreateSessionFixture(t *testing.T) {
	data, err := os.ReadFile("../../test/testdata/records/createsession-etl-issuer-path.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := cloudtrail.DecodeEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	if !r.ReadOnly || r.SessionModeApplied != "ReadWrite" {
		t.Fatalf("fixture: readOnly %v, sessionModeApplied %q; want true, ReadWrite", r.ReadOnly, r.SessionModeApplied)
	}
	if got := SeverityOf(r); got != High {
		t.Fatalf("got %v; want high", got)
	}
}

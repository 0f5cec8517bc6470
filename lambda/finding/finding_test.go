package finding

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/asff"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func record() *cloudtrail.Record {
	return &cloudtrail.Record{
		EventID: "e1", EventTime: "2026-11-20T10:00:00Z", EventSource: cloudtrail.EventSource, EventName: "PutObject",
		AWSRegion: "us-east-1", RecipientAccountID: "111122223333", SourceIPAddress: "::ffff:203.0.113.9",
		UserAgent: "curl", Bucket: "b--use1-az4--x-s3", AvailabilityZone: "use1-az4",
		UserIdentity: cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::444455556666:assumed-role/w/s",
			AccountID: "444455556666", AccessKeyID: "ASIAX"},
		HasUserIdentity: true,
	}
}

func decision(r *cloudtrail.Record, reasons ...string) rules.Decision {
	return rules.Decision{Verdict: rules.Unauthorized, Reasons: reasons, Principal: rules.PrincipalOf(r.UserIdentity)}
}

func TestKindAndSeverity(t *testing.T) {
	r := record()
	if k := KindOf(decision(r, "x: y")); k != Unauthorized {
		t.Errorf("KindOf = %s", k)
	}
	if k := KindOf(decision(r, "x", "session-moved: session s created from a, used from b")); k != SessionMoved {
		t.Errorf("KindOf = %s", k)
	}
	if k := KindOf(rules.Decision{Verdict: rules.Invalid}); k != Invalid {
		t.Errorf("KindOf = %s", k)
	}
	r.EventName, r.ReadOnly = "GetObject", true
	if s := SeverityOf(SessionMoved, r); s != alert.High {
		t.Errorf("a moved session's read: %s; want high", s)
	}
	if s := SeverityOf(Unauthorized, r); s != alert.Medium {
		t.Errorf("a read: %s; want medium", s)
	}
}

func TestIDs(t *testing.T) {
	a := EventID("us-east-1", "111122223333", Unauthorized, "e1", "f:1")
	if a != EventID("us-east-1", "111122223333", Unauthorized, "e1", "g:2") || a != "s3xguard/us-east-1/111122223333/unauthorized/e1" {
		t.Errorf("EventID = %s: want it by event ID alone", a)
	}
	// Forged IDs are hashed with the location: no slashes or long values
	// in the ID, and two inputs without an ID stay apart.
	b := EventID("us-east-1", "111122223333", Invalid, "../x/"+strings.Repeat("y", 600), "f:1")
	c := EventID("us-east-1", "111122223333", Invalid, "", "f:2")
	if strings.Count(b, "/") != 4 || len(b) > 100 || b == c || c == EventID("us-east-1", "111122223333", Invalid, "", "f:3") {
		t.Errorf("hashed IDs %s, %s", b, c)
	}
	// ... short ones too: only letters, digits and '-' stand as they are.
	for _, id := range []string{"../x", "a/b", "e 1", "e\u00e91", "e.1"} {
		if got := EventID("us-east-1", "111122223333", Invalid, id, "f:1"); !strings.HasPrefix(got, "s3xguard/us-east-1/111122223333/invalid/sha256-") {
			t.Errorf("event ID %q: finding ID %s; want it hashed", id, got)
		}
	}
	start := time.UnixMilli(1795169730123)
	w := WindowID("us-east-1", "111122223333", "k", start)
	if w != WindowID("us-east-1", "111122223333", "k", time.UnixMilli(start.UnixMilli())) || w == WindowID("us-east-1", "111122223333", "k", start.Add(time.Millisecond)) {
		t.Errorf("WindowID not a function of key and start ms: %s", w)
	}
}

// TestASFF: the mapping, valid by the reference's validator, and decoded
// by the SDK's own type (what the function sends) with nothing lost.
func TestASFF(t *testing.T) {
	r := record()
	s := &session.Session{Issuer: "arn:aws:iam::444455556666:role/p/w", SourceIP: "10.1.2.3", EventTime: "2026-11-20T09:59:00Z", EventID: "s1", Mode: "ReadWrite"}
	f := &Finding{ID: "s3xguard/x", Kind: SessionMoved, Severity: alert.High, Record: r,
		Decision: decision(r, "session-moved: session s1 created from 10.1.2.3, used from 203.0.113.9"),
		Session:  s, Count: 7, LastSeen: now.Add(-time.Minute), Updated: now, Source: "function"}
	f.Reasons = f.Decision.Reasons
	a, err := f.ASFF()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(a)
	for _, err := range asff.Validate(js) {
		t.Error(err)
	}
	for got, want := range map[string]string{
		a.AwsAccountId: "111122223333",
		a.ProductArn:   "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
		a.Severity.Label + a.FindingProviderFields.Severity.Label: "HIGHHIGH",
		a.Types[0]:                                 "TTPs/Credential Access/s3xguard-session-moved",
		a.CreatedAt:                                "2026-11-20T10:00:00.000Z",
		a.LastObservedAt:                           "2026-11-25T11:59:00.000Z",
		a.UpdatedAt:                                "2026-11-25T12:00:00.000Z",
		a.Resources[0].Id:                          "arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3",
		a.Resources[1].Type + a.Resources[1].Id:    "AwsIamRolearn:aws:iam::444455556666:role/w",
		a.ProductFields["s3xguard/Count"]:          "7",
		a.ProductFields["s3xguard/Session/Issuer"]: "arn:aws:iam::444455556666:role/p/w",
		a.Action.AwsApiCallAction.RemoteIpDetails.IpAddressV4: "203.0.113.9",
	} {
		if got != want {
			t.Errorf("got %q; want %q", got, want)
		}
	}
	var sdk types.AwsSecurityFinding
	if err := json.Unmarshal(js, &sdk); err != nil {
		t.Fatal(err)
	}
	back, _ := json.Marshal(sdk)
	var m1, m2 map[string]any
	json.Unmarshal(js, &m1)
	json.Unmarshal(back, &m2)
	b1, _ := json.Marshal(m1)
	b2, _ := json.Marshal(stripNull(m2))
	if string(b1) != string(b2) {
		t.Errorf("the SDK's type loses fields:\n%s\n%s", b1, b2)
	}

	// No account or region: not an ASFF finding.
	r.RecipientAccountID, r.Envelope.Account = "", ""
	if _, err := f.ASFF(); err != ErrNoAccount {
		t.Errorf("no account: %v", err)
	}
}

// stripNull drops the members the SDK's type writes as null or empty.
func stripNull(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil || x == "" || x == false {
				delete(v, k)
				continue
			}
			if m, ok := x.(map[string]any); ok && len(m) == 0 {
				delete(v, k)
				continue
			}
			if l, ok := x.([]any); ok && len(l) == 0 {
				delete(v, k)
				continue
			}
			v[k] = stripNull(x)
		}
	case []any:
		for i := range v {
			v[i] = stripNull(v[i])
		}
	}
	return v
}

// TestASFFHostile: fields at any size and with any bytes still make a
// valid finding, clipped to the limits.
func TestASFFHostile(t *testing.T) {
	r := record()
	big := strings.Repeat("\xff\u202e<\"", 100_000)
	r.EventName, r.Bucket, r.UserAgent, r.SourceIPAddress, r.UserIdentity.ARN = big, big, big, big, big
	r.EventID = big
	d := decision(r, big, big, big, big, big, big, big)
	f := &Finding{Kind: Unauthorized, Severity: alert.Critical, Record: r, Decision: d, Reasons: d.Reasons, Updated: now}
	f.ID = EventID(f.Region(), f.Account(), f.Kind, r.EventID, "loc")
	a, err := f.ASFF()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(a)
	for _, err := range asff.Validate(js) {
		t.Error(err)
	}
	if o, _ := json.Marshal(f.OCSF()); len(o) > 4<<20 {
		t.Errorf("OCSF finding of %d bytes", len(o))
	}
}

func TestFromAlert(t *testing.T) {
	r := record()
	a := &alert.Alert{Kind: alert.KindUnauthorized, Severity: alert.High, Record: r,
		Decision: decision(r, "session-moved: session s1 created from 10.1.2.3, used from 203.0.113.9"),
		Response: alert.Response{Action: alert.ActionAlertOnly},
		Session: &session.Session{Issuer: "arn:aws:iam::444455556666:role/p/w", SourceIP: "10.1.2.3", EventID: "s1",
			EventTime: "2026-11-20T10:00:00Z", Mode: "ReadWrite", VPCEndpointID: "vpce-1"}}
	f := FromAlert(a, "id", now)
	if f.Kind != SessionMoved || f.Action != alert.ActionAlertOnly || f.Count != 1 || f.Source != "function" {
		t.Errorf("FromAlert = %+v", f)
	}
	// The alert's session reaches the finding (ASFF ProductFields).
	f.OwnerAccount, f.OwnerRegion = "111122223333", "us-east-1"
	af, err := f.ASFF()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Issuer": a.Session.Issuer, "SourceIPAddress": "10.1.2.3", "EventID": "s1",
		"EventTime": "2026-11-20T10:00:00Z", "Mode": "ReadWrite", "VpcEndpointId": "vpce-1"} {
		if got := af.ProductFields["s3xguard/Session/"+k]; got != want {
			t.Errorf("session %s in the finding = %q; want %q", k, got, want)
		}
	}
	a.Kind = alert.KindForged
	if f := FromAlert(a, "id", now); f.Kind != Forged {
		t.Errorf("forged: %s", f.Kind)
	}
}

// TestClip: the limits are exact (n bytes fit, n+1 do not), the cut never
// splits a character, and invalid UTF-8 is replaced before measuring.
func TestClip(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefg..."},
		{"abcdef\u00e9ghij", 10, "abcdef..."}, // é is 2 bytes at 6-7: cut before it
		{"abcdefg\u00e9hij", 10, "abcdefg..."},
		{"abcdef\u20acghij", 10, "abcdef..."}, // € is 3 bytes at 6-8
		{"abcdefg\xff", 10, "abcdefg\uFFFD"},
		{"abcdefghi\xff", 10, "abcdefg..."},
	} {
		got := clip(tc.s, tc.n)
		if got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("clip(%q, %d) = %q; want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

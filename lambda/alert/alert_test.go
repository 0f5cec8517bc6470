package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

func sample() *Alert {
	r := &cloudtrail.Record{
		EventName: "PutObject", EventTime: "2026-11-25T01:02:03Z", EventID: "e-1", AWSRegion: "us-east-1",
		SourceIPAddress: "203.0.113.9", UserAgent: "aws-cli/2", VPCEndpointID: "vpce-0a1b2c3d4e5f60718",
		Bucket: "data--use1-az4--x-s3", Key: strings.Repeat("k", 100), AvailabilityZone: "use1-az4",
		UserIdentity: cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::123456789012:assumed-role/writer/s1", AccountID: "123456789012", AccessKeyID: "ASIAEXAMPLE"},
	}
	return &Alert{
		Kind: KindUnauthorized, Severity: SeverityOf(r), Record: r,
		Decision: rules.Decision{Verdict: rules.Unauthorized, Reasons: []string{"etl: source 203.0.113.9 not in 10.0.0.0/8"},
			Principal: rules.PrincipalOf(r.UserIdentity)},
		Response: Response{Action: ActionQuarantined, Mode: "enforce", Statement: `{"Sid":"S3xguardQuarantine"}`, Note: SessionNote},
		Keys:     config.KeysTruncate,
	}
}

func TestBuild(t *testing.T) {
	m, err := sample().Build()
	if err != nil {
		t.Fatal(err)
	}
	if want := "[s3xguard HIGH] unauthorized PutObject on data--use1-az4--x-s3 by role/writer"; m.Subject != want {
		t.Errorf("Subject = %q; want %q", m.Subject, want)
	}
	for k, want := range map[string]string{
		"severity": "high", "bucket": "data--use1-az4--x-s3", "principal": "arn:aws:iam::123456789012:role/writer",
		"account": "123456789012", "eventName": "PutObject", "action": "quarantined", "kind": "unauthorized",
	} {
		if m.Attributes[k] != want {
			t.Errorf("attribute %s = %q; want %q", k, m.Attributes[k], want)
		}
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	var doc document
	if err := json.Unmarshal([]byte(body["default"]), &doc); err != nil {
		t.Fatalf("default is not JSON: %v", err)
	}
	if doc.Principal["accessKeyId"] != "ASIAEXAMPLE" || doc.Event["vpcEndpoint"] != "vpce-0a1b2c3d4e5f60718" ||
		doc.Response.Statement == "" || doc.Decision["verdict"] != "unauthorized" {
		t.Errorf("default document misses who/where/response: %s", body["default"])
	}
	if k := doc.Event["key"].(string); !strings.HasSuffix(k, "…[100 bytes]") || strings.Count(k, "k") != 64 {
		t.Errorf("truncated key = %q", k)
	}
	for _, want := range []string{"principal:", "ASIAEXAMPLE", "203.0.113.9", "use1-az4", "etl: source", "quarantined", "up to 5 minutes"} {
		if !strings.Contains(body["email"], want) {
			t.Errorf("email lacks %q:\n%s", want, body["email"])
		}
	}
	if n := utf8.RuneCountInString(body["sms"]); n > 140 || !strings.Contains(body["sms"], "quarantined") {
		t.Errorf("sms (%d chars) = %q", n, body["sms"])
	}
}

func TestSubjectIsShortASCII(t *testing.T) {
	a := sample()
	a.Record.Bucket = strings.Repeat("é", 80) + "--use1-az4--x-s3"
	m, _ := a.Build()
	if len(m.Subject) >= 100 {
		t.Errorf("subject of %d bytes", len(m.Subject))
	}
	for _, r := range m.Subject {
		if r < 0x20 || r > 0x7e {
			t.Fatalf("subject has %q", r)
		}
	}
}

func TestKeyDisplay(t *testing.T) {
	for _, tc := range []struct {
		mode config.KeyDisplay
		key  string
		want string
	}{
		{config.KeysShow, "a/b.txt", "a/b.txt"},
		{config.KeysTruncate, "a/b.txt", "a/b.txt"},
		{config.KeysRedact, "a/b.txt", "[redacted: 7 bytes, sha256 "},
	} {
		a := &Alert{Keys: tc.mode}
		if got := a.key(tc.key); !strings.HasPrefix(got, tc.want) || (tc.mode == config.KeysRedact && strings.Contains(got, "b.txt")) {
			t.Errorf("%s %q: got %q; want %q", tc.mode, tc.key, got, tc.want)
		}
	}
}

func TestInvalidWithoutRecord(t *testing.T) {
	a := &Alert{Kind: KindInvalid, Severity: Medium, Raw: `{"detail":`, Decision: rules.Decision{Verdict: rules.Invalid, Reasons: []string{"unexpected end of JSON"}},
		Response: Response{Action: ActionAlertOnly, Mode: "enforce"}}
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	if m.Attributes["kind"] != "invalid" || !strings.Contains(m.Subject, "invalid event on - by -") {
		t.Errorf("got %q %v", m.Subject, m.Attributes)
	}
}

func TestSummary(t *testing.T) {
	from := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	m, err := Summary("[s3xguard HIGH] unauthorized PutObject", map[string]string{"bucket": "b--use1-az4--x-s3"}, Repeats{Count: 7, From: from, To: from.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Attributes["kind"] != "summary" || m.Attributes["bucket"] != "b--use1-az4--x-s3" || !strings.HasPrefix(m.Subject, "[s3xguard] 7 repeats: ") {
		t.Errorf("got %q %v", m.Subject, m.Attributes)
	}
	var body map[string]string
	json.Unmarshal([]byte(m.Body), &body)
	if !strings.Contains(body["email"], "7 more alerts") || !strings.Contains(body["default"], `"count":7`) {
		t.Errorf("body = %v", body)
	}
}

// Whatever the input, the message fits SNS's limit, and says what it cut.
func TestBuildFitsAnyInput(t *testing.T) {
	huge := strings.Repeat("\"<\x01é", 300_000) // escaped up to 7x by two layers of JSON
	a := sample()
	r := a.Record
	for _, s := range []*string{&r.UserAgent, &r.EventName, &r.Bucket, &r.Key, &r.SourceIPAddress, &r.ErrorCode, &r.UserIdentity.ARN, &r.UserIdentity.AccessKeyID} {
		*s = huge
	}
	a.Decision.Principal.ARN, a.Decision.Principal.Normalized = huge, huge
	a.Decision.Reasons = []string{huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge, huge}
	a.Response.Detail, a.Response.Statement, a.Raw, a.Duplicate = huge, huge, huge, huge
	a.Keys = config.KeysShow
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	if m.Size() > MaxBytes || len(m.Subject) > 99 {
		t.Fatalf("message %d bytes, subject %d; want at most %d and 99", m.Size(), len(m.Subject), MaxBytes)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body["default"]), &doc); err != nil {
		t.Fatal(err)
	}
	clipped, _ := doc["clipped"].([]any)
	if len(clipped) < 10 || !strings.Contains(body["email"], "Clipped to fit") {
		t.Fatalf("clipped = %v; want every cut field named, in the JSON and the email", clipped)
	}
	// A normal alert is not clipped at all.
	m, _ = sample().Build()
	if strings.Contains(m.Body, "clipped") {
		t.Errorf("a normal alert was clipped: %s", m.Body)
	}
}

func TestBuildDuplicateAndID(t *testing.T) {
	a := sample()
	a.ID, a.Input, a.Duplicate = "e-1", "invoke", "an earlier attempt's claim expired unsent"
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.Unmarshal([]byte(m.Body), &body)
	var doc map[string]any
	json.Unmarshal([]byte(body["default"]), &doc)
	if doc["mayBeDuplicate"] != true || doc["alertId"] != "e-1" || doc["duplicateReason"] == nil || doc["input"] != "invoke" {
		t.Errorf("doc = %v", doc)
	}
	if !strings.Contains(body["email"], "MAY BE A DUPLICATE") || len(m.DedupID) != 64 {
		t.Errorf("email or dedup ID missing: %q %q", body["email"], m.DedupID)
	}
	b, _ := sample().Build()
	if strings.Contains(b.Body, "mayBeDuplicate") {
		t.Error("mayBeDuplicate on a first attempt")
	}
}

// An alert on a zonal call carries its session: the same object, with the
// same member names, as check's JSON output (lambda/report.go,
// appendSessionJSON), in the document and in the email.
func TestSessionObject(t *testing.T) {
	a := sample()
	a.Kind = KindSessionMoved
	a.Decision.Rule = "writers"
	a.Session = &session.Session{EventID: "cs-1", Issuer: "arn:aws:iam::123456789012:role/app/team/writer",
		EventTime: "2026-11-25T01:00:00Z", SourceIP: "10.1.2.3", Mode: "ReadWrite"}
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body["default"]), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"eventID": "cs-1", "issuer": "arn:aws:iam::123456789012:role/app/team/writer",
		"eventTime": "2026-11-25T01:00:00Z", "sourceIPAddress": "10.1.2.3", "mode": "ReadWrite"}
	got, _ := doc["session"].(map[string]any)
	if len(got) != len(want) {
		t.Fatalf("session = %v; want %v (empty members left out)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("session.%s = %v; want %v", k, got[k], v)
		}
	}
	if d, _ := doc["decision"].(map[string]any); d["rule"] != "writers" {
		t.Errorf("decision.rule = %v; want the entry that allowed the principal", d["rule"])
	}
	if m.Attributes["kind"] != "session-moved" || !strings.HasPrefix(m.Subject, "[s3xguard HIGH] session-moved PutObject") {
		t.Errorf("kind %q, subject %q", m.Attributes["kind"], m.Subject)
	}
	for _, line := range []string{"issuer:      arn:aws:iam::123456789012:role/app/team/writer", "from IP:     10.1.2.3", "event ID:    cs-1"} {
		if !strings.Contains(body["email"], line) {
			t.Errorf("email lacks %q:\n%s", line, body["email"])
		}
	}
	a.Session.Issuer = strings.Repeat("x", 5000)
	if m, err = a.Build(); err != nil || !strings.Contains(m.Body, "session.issuer (5000 bytes)") {
		t.Errorf("a long session field is not clipped and named: %v", err)
	}
	a.Session = nil
	m, _ = a.Build()
	if strings.Contains(m.Body, `\"session\"`) {
		t.Errorf("an alert without a session has a session member")
	}
}

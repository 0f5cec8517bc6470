package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/golden"
)

// readmeSample is the alert the README shows: a write by a role the
// allowlist does not know, quarantined in enforce mode with the IAM
// response and the alert bus on.
func readmeSample() *Alert {
	id := cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/reporting/i-0abc", AccountID: "111122223333", AccessKeyID: "ASIAEXAMPLEKEY"}
	r := &cloudtrail.Record{
		EventName: "PutObject", EventTime: "2026-12-06T03:04:05Z", EventID: "6b1a39d5-0c4e-4b6f-9b8e-2f0d7e1c9a10", AWSRegion: "us-east-1",
		RecipientAccountID: "111122223333", SourceIPAddress: "198.51.100.23", UserAgent: "aws-cli/2.22.0 md/arch#x86_64",
		Bucket: "analytics--use1-az4--x-s3", Key: "exports/2026/12/customers.csv", AvailabilityZone: "use1-az4", UserIdentity: id,
	}
	statement := `{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":["arn:aws:iam::111122223333:role/apps/reporting"]},"Action":"s3express:CreateSession","Resource":"arn:aws:s3express:us-east-1:111122223333:bucket/analytics--use1-az4--x-s3"}`
	return &Alert{
		Kind: KindUnauthorized, Severity: SeverityOf(r), Record: r, ID: r.EventID, Input: "invoke", Keys: config.KeysTruncate,
		Guarded: Place{Account: "111122223333", Region: "us-east-1"},
		Ops:     Ops{StateTable: "s3xguard-state", DenyPolicyARN: "arn:aws:iam::111122223333:policy/s3xguard-quarantine-deny", Bus: "s3xguard-111122223333-us-east-1-alerts"},
		Decision: rules.Decision{Verdict: rules.Unauthorized, Principal: rules.PrincipalOf(id),
			Reasons: []string{"etl: principal arn:aws:iam::111122223333:role/reporting does not match arn:aws:iam::111122223333:role/etl"}},
		Response: Response{Action: ActionQuarantined, Mode: "enforce", Statement: statement, Target: "arn:aws:iam::111122223333:role/apps/reporting",
			IAM:   []string{"attached the managed deny policy to role/reporting"},
			Until: "2026-12-07T03:04:07Z", Note: "Sessions already issued may keep working for up to 5 minutes plus the CloudTrail-to-EventBridge delivery delay (typically seconds to a few minutes)."},
	}
}

func indent(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestREADMESamples: the samples in lambda/README.md are what the code
// renders (S3XGUARD_UPDATE_DOCS=1 rewrites them).
func TestREADMESamples(t *testing.T) {
	a := readmeSample()
	email, sms, doc, m := built(t, a)
	chat, _ := json.Marshal(doc["chat"])
	rel, err := Released{Guarded: a.Guarded, Bucket: a.Record.Bucket, Principal: a.Response.Target, Reason: "released",
		Time: time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)}.Document()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	// The SMS is shown inline: as a code line it would read as a command
	// to test/docs (it starts with "s3xguard").
	fmt.Fprintf(&b, "Subject: `%s`\n\nSMS: `%s`\n\nEmail:\n\n```text\n%s```\n\n", m.Subject, sms, email)
	fmt.Fprintf(&b, "Chat (the document's `chat`, what the chat topic receives):\n\n```json\n%s\n```\n\n", indent(t, string(chat)))
	fmt.Fprintf(&b, "The document (the SNS `default` member, and the `detail` of the bus event \"s3xguard alert\"):\n\n```json\n%s\n```\n\n", indent(t, m.Document))
	fmt.Fprintf(&b, "The `detail` of the bus event \"s3xguard quarantine released\" for that principal (same `dedupKey`):\n\n```json\n%s\n```\n", indent(t, rel))
	golden.Section(t, "../README.md", "alert-samples", b.String())
}

// Every kind's runbook link lands on a heading of lambda/RUNBOOK.md.
func TestRunbookSections(t *testing.T) {
	text, err := os.ReadFile("../RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{KindUnauthorized, KindSessionMoved, KindInvalid, KindForged, KindReleased} {
		if !regexp.MustCompile(`(?m)^## ` + regexp.QuoteMeta(string(k)) + `$`).Match(text) {
			t.Errorf("RUNBOOK.md has no section \"## %s\" for %s", k, (&Alert{Kind: k}).Runbook())
		}
	}
	if !strings.HasPrefix(RunbookURL, "https://github.com/s3xguard/s3xguard/blob/main/lambda/RUNBOOK.md") {
		t.Errorf("RunbookURL %s is not lambda/RUNBOOK.md", RunbookURL)
	}
}

// TestFrontDoorSample: the first page the quick start promises (alert
// mode: paged, nothing changed) is in the front README as the code
// renders it (S3XGUARD_UPDATE_DOCS=1 rewrites it).
func TestFrontDoorSample(t *testing.T) {
	a := readmeSample()
	a.Ops = Ops{StateTable: "s3xguard-state"}
	a.Response = Response{Action: ActionAlertOnly, Mode: "alert"}
	email, _, _, m := built(t, a)
	golden.Section(t, "../../README.md", "first-page", fmt.Sprintf("Subject: `%s`\n\n```text\n%s```\n", m.Subject, email))
}

package alert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/printable"
)

// built renders a and returns the email, the SMS and the parsed document.
func built(t *testing.T, a *Alert) (email, sms string, doc map[string]any, m Message) {
	t.Helper()
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body["default"]), &doc); err != nil {
		t.Fatal(err)
	}
	if body["default"] != m.Document {
		t.Error("Message.Document is not the SNS default member")
	}
	return body["email"], body["sms"], doc, m
}

// injections are runes a caller can put in an object key, a user agent or
// an input to forge lines or reorder what on-call reads.
var injections = []struct{ in, out string }{
	{"\n", `\x0a`}, {"\r", `\x0d`}, {"\x1b[31m", `\x1b[31m`}, {"\x7f", `\x7f`}, {"\u0085", `\u{0085}`},
	{"\u009b", `\u{009B}`}, {"\u2028", `\u{2028}`}, {"\u2029", `\u{2029}`}, {"\u202e", `\u{202E}`},
	{"\u2066", `\u{2066}`}, {"\u200f", `\u{200F}`}, {"\\x0a", `\\x0a`},
}

func hasUnsafe(s string) bool {
	for _, r := range s {
		if r != '\n' && (r < 0x20 || r == 0x7f || printableUnsafe(r)) {
			return true
		}
	}
	return false
}

// Every free-text field is escaped in the email and the SMS: no control,
// DEL, C1, line separator or bidi override gets through, and a newline in
// a value never starts a line of its own.
func TestFreeTextIsEscaped(t *testing.T) {
	for _, inj := range injections {
		a := sample()
		a.Guarded = Place{Account: "123456789012", Region: "us-east-1"}
		forged := inj.in + "FORGED: approved by security"
		a.Record.Key, a.Record.UserAgent, a.Record.EventName = "k"+forged, "ua"+forged, "PutObject"+forged
		a.Raw, a.Response.Detail = "raw"+forged, "detail"+forged
		a.Decision.Reasons = []string{"reason" + forged}
		email, sms, _, _ := built(t, a)
		for name, s := range map[string]string{"email": email, "sms": sms} {
			if hasUnsafe(s) {
				t.Errorf("%q: %s carries an unsafe rune: %q", inj.in, name, s)
			}
			for _, line := range strings.Split(s, "\n") {
				if strings.HasPrefix(line, "FORGED") {
					t.Errorf("%q: %s has a forged line: %q", inj.in, name, line)
				}
			}
		}
		if !strings.Contains(email, "ua"+inj.out+"FORGED") {
			t.Errorf("%q: email does not show the user agent escaped as %s:\n%s", inj.in, inj.out, email)
		}
		n, err := Notice{Kind: "expired", Bucket: "b" + forged, Principals: []string{"p" + forged}, Detail: "d" + forged}.Build()
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		json.Unmarshal([]byte(n.Body), &body)
		if hasUnsafe(body["email"]) || hasUnsafe(body["sms"]) || strings.Contains(body["email"], "\nFORGED") {
			t.Errorf("%q: notice not escaped: %q", inj.in, body["email"])
		}
	}
}

// The page says where to act: the guarded account and region in the
// email, the SMS, the document and the message attributes.
func TestGuardedAccountEverywhere(t *testing.T) {
	a := sample()
	a.Guarded = Place{Account: "210987654321", Region: "eu-west-1"}
	email, sms, doc, m := built(t, a)
	if !strings.Contains(email, "in account 210987654321, region eu-west-1") || !strings.Contains(sms, "210987654321/eu-west-1") {
		t.Errorf("email or SMS without the guarded account:\n%s\n%s", email, sms)
	}
	if g, _ := doc["guarded"].(map[string]any); g["account"] != "210987654321" || g["region"] != "eu-west-1" {
		t.Errorf("document guarded = %v", doc["guarded"])
	}
	if m.Attributes["guardedAccount"] != "210987654321" || m.Attributes["guardedRegion"] != "eu-west-1" {
		t.Errorf("attributes = %v", m.Attributes)
	}
	// An SQS subscription with raw message delivery drops a message of
	// more than 10 attributes (Amazon SNS developer guide, "Amazon SNS
	// message attributes").
	a.Response.Action, a.Record.EventName = ActionQuarantined, "PutObject"
	if _, _, _, m := built(t, a); len(m.Attributes) > 10 {
		t.Errorf("%d message attributes; raw-delivery SQS subscribers take at most 10", len(m.Attributes))
	}
}

// stepCase is one kind and response, and what its next steps must say.
type stepCase struct {
	kind    Kind
	action  string
	release bool   // the release command is given
	say     string // a step contains this
}

var stepCases = []stepCase{
	{KindUnauthorized, ActionQuarantined, true, "Contained:"},
	{KindUnauthorized, quarantinedPartial, true, "The IAM part is pending"},
	{KindUnauthorized, quarantinePending, true, "NOT contained yet"},
	{KindUnauthorized, ActionAlreadyQuarantined, true, "Contained:"},
	{KindUnauthorized, ActionWouldQuarantine, false, "RESPONSE_MODE=dry-run"},
	{KindUnauthorized, ActionAlertOnly, false, "NOT contained (alert only)"},
	{KindUnauthorized, ActionNotQuarantined, false, "NOT contained (not quarantined)"},
	{KindSessionMoved, ActionQuarantined, true, "stolen token"},
	{KindSessionMoved, ActionAlertOnly, false, "stolen token"},
	{KindInvalid, ActionAlertOnly, false, "Nothing was acted on"},
	{KindForged, ActionAlertOnly, false, "resource policy"},
}

// Every kind and response gets steps that fit it: the release command
// (bucket, the very principal denied, table, deny policy) only when a
// quarantine is in force or recorded, "NOT contained" otherwise, the
// runbook section of its kind, and the same steps in the email, the
// document and chat.
func TestNextStepsPerKindAndResponse(t *testing.T) {
	for _, c := range stepCases {
		name := fmt.Sprintf("%s/%s", c.kind, c.action)
		a := sample()
		a.Kind, a.Guarded = c.kind, Place{Account: "123456789012", Region: "us-east-1"}
		a.Ops = Ops{StateTable: "s3xguard-state", DenyPolicyARN: "arn:aws:iam::123456789012:policy/s3xguard-deny", Bus: "s3xguard-alerts"}
		a.Response = Response{Action: c.action, Mode: "enforce", Detail: "a guard said no"}
		if c.release {
			a.Response.Target = "arn:aws:iam::123456789012:role/app/writer"
		}
		steps := a.NextSteps()
		joined := strings.Join(steps, "\n")
		want := "AWS_REGION=us-east-1 s3xguard quarantine release --bucket data--use1-az4--x-s3 --principal arn:aws:iam::123456789012:role/app/writer --table s3xguard-state --deny-policy arn:aws:iam::123456789012:policy/s3xguard-deny --bus s3xguard-alerts"
		if got := strings.Contains(joined, want); got != c.release {
			t.Errorf("%s: release command given = %v; want %v:\n%s", name, got, c.release, joined)
		}
		if !strings.Contains(joined, c.say) {
			t.Errorf("%s: steps do not say %q:\n%s", name, c.say, joined)
		}
		contained := c.release && c.action != quarantinePending
		if contained == strings.Contains(joined, "NOT contained") && c.kind != KindInvalid && c.kind != KindForged {
			t.Errorf("%s: contained is %v, yet the steps say otherwise:\n%s", name, contained, joined)
		}
		if (c.kind == KindUnauthorized || c.kind == KindSessionMoved) && !strings.Contains(joined, "find event ID e-1 in the trail's logs") {
			t.Errorf("%s: no way to look the data event up:\n%s", name, joined)
		}
		email, _, doc, _ := built(t, a)
		if !strings.Contains(email, "NEXT STEPS\n1. "+printable.Escape(steps[0])) || !strings.Contains(email, "Runbook: "+RunbookURL+"#"+string(c.kind)) {
			t.Errorf("%s: email lacks the steps or the runbook:\n%s", name, email)
		}
		var docSteps []string
		for _, s := range doc["nextSteps"].([]any) {
			docSteps = append(docSteps, s.(string))
		}
		if !slices.Equal(docSteps, steps) || doc["runbook"] != RunbookURL+"#"+string(c.kind) {
			t.Errorf("%s: document steps %q, runbook %v", name, docSteps, doc["runbook"])
		}
	}
}

// A management event links to Event history; the bucket policy and the
// state table link to their consoles, in the guarded region.
func TestLinks(t *testing.T) {
	a := sample()
	a.Guarded, a.Ops = Place{Account: "123456789012", Region: "eu-west-1"}, Ops{StateTable: "t"}
	a.Record.EventName, a.Record.ManagementEvent, a.Record.EventID = "PutBucketPolicy", true, "0a1b-2c"
	l := a.links(a.Record)
	for got, want := range map[string]string{
		l.Event:        "https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/0a1b-2c",
		l.BucketPolicy: "https://eu-west-1.console.aws.amazon.com/s3/buckets/data--use1-az4--x-s3?region=eu-west-1&bucketType=directory&tab=permissions",
		l.StateTable:   "https://eu-west-1.console.aws.amazon.com/dynamodbv2/home?region=eu-west-1#item-explorer?table=t",
	} {
		if got != want {
			t.Errorf("link %q; want %q", got, want)
		}
	}
	if s := strings.Join(a.NextSteps(), "\n"); !strings.Contains(s, "Confirm: open the event in CloudTrail Event history (account 123456789012, region eu-west-1): "+l.Event) {
		t.Errorf("steps do not link the event:\n%s", s)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::1:role/a/b": "arn:aws:iam::1:role/a/b", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$(x)": "'$(x)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s; want %s", in, got, want)
		}
	}
}

// validateChat checks a payload against the custom-notification schema of
// Amazon Q Developer in chat applications: version "1.0", source "custom",
// content with a description (title, nextSteps and keywords optional,
// strings), textType "client-markdown" when set, metadata optional; no
// other member.
func validateChat(raw []byte) error {
	var n map[string]json.RawMessage
	if err := json.Unmarshal(raw, &n); err != nil {
		return err
	}
	allowed := func(m map[string]json.RawMessage, names ...string) error {
		for k := range m {
			if !slices.Contains(names, k) {
				return fmt.Errorf("unknown member %q", k)
			}
		}
		return nil
	}
	if err := allowed(n, "version", "source", "id", "content", "metadata"); err != nil {
		return err
	}
	var version, source string
	if json.Unmarshal(n["version"], &version) != nil || version != "1.0" {
		return fmt.Errorf("version %s; want \"1.0\"", n["version"])
	}
	if json.Unmarshal(n["source"], &source) != nil || source != "custom" {
		return fmt.Errorf("source %s; want \"custom\"", n["source"])
	}
	var content map[string]json.RawMessage
	if err := json.Unmarshal(n["content"], &content); err != nil || content == nil {
		return fmt.Errorf("content %s: not an object", n["content"])
	}
	if err := allowed(content, "textType", "title", "description", "nextSteps", "keywords"); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	var desc, title, textType string
	if json.Unmarshal(content["description"], &desc) != nil || desc == "" {
		return fmt.Errorf("content.description %s: want a non-empty string", content["description"])
	}
	if t, ok := content["title"]; ok && json.Unmarshal(t, &title) != nil {
		return fmt.Errorf("content.title %s: want a string", t)
	}
	if t, ok := content["textType"]; ok && (json.Unmarshal(t, &textType) != nil || textType != "client-markdown") {
		return fmt.Errorf("content.textType %s: want client-markdown", t)
	}
	for _, k := range []string{"nextSteps", "keywords"} {
		var ss []string
		if v, ok := content[k]; ok && json.Unmarshal(v, &ss) != nil {
			return fmt.Errorf("content.%s %s: want an array of strings", k, v)
		}
	}
	if m, ok := n["metadata"]; ok {
		var md map[string]json.RawMessage
		if err := json.Unmarshal(m, &md); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if err := allowed(md, "threadId", "summary", "eventType", "relatedResources", "additionalContext", "enableCustomActions"); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	return nil
}

// The chat payload in every alert, and in a release, is a valid custom
// notification; its next steps are the alert's, and the release threads
// under the alert's incident.
func TestChatPayloadValidates(t *testing.T) {
	for _, c := range stepCases {
		a := sample()
		a.Kind, a.Guarded, a.Response.Action = c.kind, Place{Account: "123456789012", Region: "us-east-1"}, c.action
		a.Response.Target = "arn:aws:iam::123456789012:role/app/writer"
		a.Record.UserAgent = "ua`<!here>`\n*bold*"
		_, _, doc, _ := built(t, a)
		raw, _ := json.Marshal(doc["chat"])
		if err := validateChat(raw); err != nil {
			t.Errorf("%s/%s: chat: %v\n%s", c.kind, c.action, err, raw)
		}
		var ch Chat
		json.Unmarshal(raw, &ch)
		if len(ch.Content.NextSteps) != len(a.NextSteps()) || ch.Metadata.ThreadID != a.IncidentKey() {
			t.Errorf("%s/%s: chat steps %d, thread %q", c.kind, c.action, len(ch.Content.NextSteps), ch.Metadata.ThreadID)
		}
		if hasUnsafe(ch.Content.Description) || strings.Contains(ch.Content.Description, "<!here>`") {
			t.Errorf("%s/%s: caller text escapes its code span: %q", c.kind, c.action, ch.Content.Description)
		}
	}
	rel, err := Released{Guarded: Place{Account: "123456789012", Region: "us-east-1"}, Bucket: "data--use1-az4--x-s3",
		Principal: "arn:aws:iam::123456789012:role/app/writer", Reason: "released"}.Document()
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Chat json.RawMessage }
	json.Unmarshal([]byte(rel), &d)
	if err := validateChat(d.Chat); err != nil {
		t.Errorf("released chat: %v\n%s", err, d.Chat)
	}
}

// The validator is not a rubber stamp.
func TestValidateChatRejects(t *testing.T) {
	for _, bad := range []string{
		`{"version":"1.0","source":"custom","content":{"title":"t"}}`,
		`{"version":"1","source":"custom","content":{"description":"d"}}`,
		`{"version":"1.0","source":"aws","content":{"description":"d"}}`,
		`{"version":"1.0","source":"custom","content":{"description":"d","nextSteps":"x"}}`,
		`{"version":"1.0","source":"custom","content":{"description":"d"},"extra":1}`,
		`{"version":"1.0","source":"custom","content":{"description":"d","textType":"html"}}`,
	} {
		if validateChat([]byte(bad)) == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if err := validateChat([]byte(`{"version":"1.0","source":"custom","content":{"description":"d"}}`)); err != nil {
		t.Errorf("rejected the minimal notification: %v", err)
	}
}

// printableUnsafe is the test's own statement of what must never reach a
// line above ASCII: C1 controls, U+2028/9 and the bidi formatting
// characters.
func printableUnsafe(r rune) bool {
	return r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0x061c || r == 0x200e || r == 0x200f ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

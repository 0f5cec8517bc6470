package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/rules"
)

// Kind is what an alert is about.
type Kind string

const (
	KindUnauthorized Kind = "unauthorized"
	KindInvalid      Kind = "invalid"
	KindSummary      Kind = "summary"
)

// Actions say what was done about an event.
const (
	ActionQuarantined        = "quarantined"
	ActionWouldQuarantine    = "would quarantine"
	ActionAlreadyQuarantined = "already quarantined"
	ActionAlertOnly          = "alert only"
	ActionNotQuarantined     = "not quarantined"
)

// SessionNote is said with every quarantine: a Deny on CreateSession stops
// new sessions only.
const SessionNote = "Sessions already issued may keep working for up to 5 minutes."

// Response is what the function did about the event.
type Response struct {
	Action string `json:"action"`
	Mode   string `json:"mode"`
	// Detail says why, e.g. which guard stopped a quarantine.
	Detail string `json:"detail,omitempty"`
	// Statement is the exact bucket policy statement applied (or that
	// would be), and IAM the inline policies.
	Statement string   `json:"statement,omitempty"`
	IAM       []string `json:"iam,omitempty"`
	Until     string   `json:"until,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// Alert is one alert about one event.
type Alert struct {
	Kind     Kind
	Severity Severity
	// Record is the decoded event; for an event that could not be decoded
	// it is empty and Raw holds its beginning.
	Record   *cloudtrail.Record
	Decision rules.Decision
	Raw      string
	Response Response
	Keys     config.KeyDisplay
	// Previous is the count of repeats of the window this alert's window
	// replaced, not yet summarized.
	Previous *Repeats
}

// Repeats counts the alerts a dedup window did not re-send.
type Repeats struct {
	Count int64     `json:"count"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// Message is one SNS publish.
type Message struct {
	Subject    string
	Body       string // MessageStructure json: default, email, sms
	Attributes map[string]string
}

// maxSubject is below SNS's limit of 100 characters.
const maxSubject = 99

// Build renders the alert.
func (a *Alert) Build() (Message, error) {
	r := a.Record
	if r == nil {
		r = &cloudtrail.Record{}
	}
	who := principalName(a.Decision.Principal, r)
	what := r.EventName
	if what == "" {
		what = "event"
	}
	subject := fmt.Sprintf("[s3xguard %s] %s %s on %s by %s", strings.ToUpper(a.Severity.String()), a.Kind, what, orDash(r.Bucket), who)
	m := Message{Subject: clip(ascii(subject), maxSubject), Attributes: map[string]string{}}
	for k, v := range map[string]string{
		"kind": string(a.Kind), "severity": a.Severity.String(), "bucket": r.Bucket,
		"principal": a.Decision.Principal.Normalized, "account": a.Decision.Principal.Account,
		"eventName": r.EventName, "action": a.Response.Action,
	} {
		if v != "" {
			m.Attributes[k] = v
		}
	}
	doc := a.document(r)
	machine, err := json.Marshal(doc)
	if err != nil {
		return Message{}, err
	}
	sms := clip(fmt.Sprintf("s3xguard %s: %s %s %s by %s: %s", a.Severity, a.Kind, what, orDash(r.Bucket), who, a.Response.Action), 140)
	body, err := json.Marshal(map[string]string{"default": string(machine), "email": a.email(r, who), "sms": sms})
	if err != nil {
		return Message{}, err
	}
	m.Body = string(body)
	return m, nil
}

type document struct {
	S3xguard  int            `json:"s3xguard"`
	Kind      Kind           `json:"kind"`
	Severity  string         `json:"severity"`
	Principal map[string]any `json:"principal"`
	Event     map[string]any `json:"event"`
	Decision  map[string]any `json:"decision"`
	Response  Response       `json:"response"`
	Previous  *Repeats       `json:"previousWindow,omitempty"`
	Raw       string         `json:"raw,omitempty"`
}

func (a *Alert) document(r *cloudtrail.Record) document {
	p := a.Decision.Principal
	return document{
		S3xguard: 1, Kind: a.Kind, Severity: a.Severity.String(),
		Principal: omitEmpty(map[string]any{
			"arn": p.ARN, "kind": p.Kind, "normalized": p.Normalized, "account": p.Account,
			"identityType": r.UserIdentity.Type, "accessKeyId": r.UserIdentity.AccessKeyID, "invokedBy": r.UserIdentity.InvokedBy,
		}),
		Event: omitEmpty(map[string]any{
			"name": r.EventName, "bucket": r.Bucket, "key": a.key(r.Key), "errorCode": r.ErrorCode,
			"readOnly": r.ReadOnly, "time": r.EventTime, "id": r.EventID, "region": r.AWSRegion,
			"availabilityZone": r.AvailabilityZone, "sourceIP": r.SourceIPAddress, "vpcEndpoint": r.VPCEndpointID,
			"userAgent": r.UserAgent, "sessionMode": r.SessionMode,
		}),
		Decision: omitEmpty(map[string]any{"verdict": a.Decision.Verdict.String(), "reasons": a.Decision.Reasons}),
		Response: a.Response,
		Previous: a.Previous,
		Raw:      a.Raw,
	}
}

func (a *Alert) email(r *cloudtrail.Record, who string) string {
	var b strings.Builder
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", label+":", v)
		}
	}
	fmt.Fprintf(&b, "s3xguard: %s %s event (severity %s)\n\n", a.Kind, orDash(r.EventName), a.Severity)
	b.WriteString("WHO\n")
	line("principal", orDash(who))
	line("arn", a.Decision.Principal.ARN)
	line("type", r.UserIdentity.Type)
	line("access key", r.UserIdentity.AccessKeyID)
	line("account", a.Decision.Principal.Account)
	b.WriteString("\nWHAT\n")
	line("operation", r.EventName)
	line("bucket", r.Bucket)
	line("object key", a.key(r.Key))
	line("error", r.ErrorCode)
	b.WriteString("\nWHERE\n")
	line("source IP", r.SourceIPAddress)
	line("VPC endpoint", r.VPCEndpointID)
	line("region", r.AWSRegion)
	line("zone", r.AvailabilityZone)
	line("user agent", r.UserAgent)
	b.WriteString("\nWHEN\n")
	line("time", r.EventTime)
	line("event ID", r.EventID)
	b.WriteString("\nWHY\n")
	for _, reason := range a.Decision.Reasons {
		fmt.Fprintf(&b, "- %s\n", reason)
	}
	if a.Raw != "" {
		line("event", a.Raw)
	}
	b.WriteString("\nRESPONSE\n")
	line("action", a.Response.Action)
	line("mode", a.Response.Mode)
	line("detail", a.Response.Detail)
	line("until", a.Response.Until)
	line("statement", a.Response.Statement)
	for _, p := range a.Response.IAM {
		line("IAM", p)
	}
	if a.Response.Note != "" {
		fmt.Fprintf(&b, "\n%s\n", a.Response.Note)
	}
	if a.Previous != nil {
		fmt.Fprintf(&b, "\nAlso: %d repeats between %s and %s were counted, not re-sent.\n",
			a.Previous.Count, a.Previous.From.UTC().Format(time.RFC3339), a.Previous.To.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// key renders an object key as configured: keys can carry personal data.
func (a *Alert) key(k string) string {
	if k == "" {
		return ""
	}
	switch a.Keys {
	case config.KeysShow:
		return k
	case config.KeysRedact:
		sum := sha256.Sum256([]byte(k))
		return fmt.Sprintf("[redacted: %d bytes, sha256 %s]", len(k), hex.EncodeToString(sum[:6]))
	}
	const keep = 64
	if utf8.RuneCountInString(k) <= keep {
		return k
	}
	return string([]rune(k)[:keep]) + fmt.Sprintf("…[%d bytes]", len(k))
}

// principalName is the short name people read: role/NAME, user/NAME, the
// service, or the ARN.
func principalName(p rules.Principal, r *cloudtrail.Record) string {
	switch {
	case p.Kind == rules.KindRole || p.Kind == rules.KindUser:
		return p.Kind + "/" + p.Name
	case p.Normalized != "":
		return p.Normalized
	}
	return orDash(r.UserIdentity.ARN)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ascii keeps printable ASCII, which SNS subjects require.
func ascii(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}

func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if v == "" {
				delete(m, k)
			}
		case []string:
			if len(v) == 0 {
				delete(m, k)
			}
		}
	}
	return m
}

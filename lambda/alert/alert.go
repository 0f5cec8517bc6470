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
	"github.com/s3xguard/s3xguard/lambda/printable"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// Kind is what an alert is about.
type Kind string

const (
	KindUnauthorized Kind = "unauthorized"
	KindInvalid      Kind = "invalid"
	// KindForged is an input that is not a full EventBridge event of S3
	// Express CloudTrail from the function's own account and region: never
	// acted on, since anyone allowed to invoke could have written it.
	KindForged Kind = "forged"
	// KindSessionMoved is a zonal call made with a session's credentials
	// from another network than the session was created from, by a
	// principal the allowlist allows (SESSION_CHECK): a session token is a
	// bearer credential, and one used elsewhere is the signature of theft.
	KindSessionMoved Kind = "session-moved"
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
	// Target is the principal ARN the bucket deny names: what
	// `s3xguard quarantine release --principal` takes.
	Target string `json:"target,omitempty"`
	// Retried: the quarantine was already in force, put there by an
	// earlier attempt of this same event (not in the document: the page
	// says so as a possible duplicate).
	Retried bool `json:"-"`
}

// Place is the account and region a guard runs in and guards: where
// on-call acts, whoever the caller was.
type Place struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

// Alert is one alert about one event.
type Alert struct {
	Kind Kind
	// Guarded is the guard's own account and region (one mailbox or bus
	// may take alerts from many).
	Guarded Place
	// Ops names the state table and deny policy in the next steps.
	Ops      Ops
	Severity Severity
	// Record is the decoded event; for an event that could not be decoded
	// it is empty and Raw holds its beginning.
	Record   *cloudtrail.Record
	Decision rules.Decision
	// Session is the CreateSession that minted the credentials of a zonal
	// call, when indexed.
	Session  *session.Session
	Raw      string
	Response Response
	Keys     config.KeyDisplay
	// Previous is the count of repeats of the window this alert's window
	// replaced, not yet summarized.
	Previous *Repeats
	// ID is the same for every attempt to alert about one input (the
	// CloudTrail event ID, else a hash of the input): the key to
	// deduplicate deliveries by.
	ID string
	// Input says where the input came from: "invoke" or "sqs:QUEUE_ARN".
	Input string
	// Duplicate, when set, says why this alert may repeat one already sent.
	Duplicate string
	// Escalated is set when the alert was sent inside a dedup window of a
	// lower severity.
	Escalated bool
	// Clipped lists the fields shortened to fit SNS's message size limit.
	Clipped []string
}

// Repeats counts the alerts a dedup window did not re-send.
type Repeats struct {
	Count int64     `json:"count"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// Message is one SNS publish.
type Message struct {
	Subject string
	Body    string // MessageStructure json: default, email, sms
	// Document is the JSON document (Body's default): the bus event's
	// detail.
	Document   string
	Attributes map[string]string
	// DedupID is the FIFO topics' MessageDeduplicationId (ignored by
	// standard topics, which have none).
	DedupID string
}

// Size is what SNS counts against its limit: the body, the subject and
// the attributes' names, types and values.
func (m Message) Size() int {
	n := len(m.Body) + len(m.Subject)
	for k, v := range m.Attributes {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// MaxBytes is SNS's message size limit (256 KiB, message attributes
// included: Amazon SNS developer guide, "Publishing large messages").
const MaxBytes = 256 * 1024

// maxSubject is below SNS's limit of 100 characters.
const maxSubject = 99

// Build renders the alert within MaxBytes. Every free-text field is clipped
// to a limit and the alert lists what was clipped; when the message is
// still too large (many fields near their limits, each escaped up to
// seven-fold by two layers of JSON), it is built again at smaller limits.
// At the smallest the whole message is a few tens of KiB whatever the input.
func (a *Alert) Build() (Message, error) {
	var last int
	for _, l := range levels {
		m, err := a.clip(l).build()
		if err != nil {
			return Message{}, err
		}
		if last = m.Size(); last <= MaxBytes {
			return m, nil
		}
	}
	return Message{}, fmt.Errorf("alert: %d bytes at the smallest field limits, over SNS's %d", last, MaxBytes)
}

func (a *Alert) build() (Message, error) {
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
	if a.ID != "" {
		sum := sha256.Sum256([]byte(string(a.Kind) + "|" + a.ID))
		m.DedupID = hex.EncodeToString(sum[:])
	}
	for k, v := range map[string]string{
		"kind": string(a.Kind), "severity": a.Severity.String(), "bucket": r.Bucket,
		"principal": a.Decision.Principal.Normalized, "account": a.Decision.Principal.Account,
		"eventName": r.EventName, "action": a.Response.Action,
		"guardedAccount": a.Guarded.Account, "guardedRegion": a.Guarded.Region,
	} {
		if v != "" {
			m.Attributes[k] = attrText(v)
		}
	}
	// The steps are rendered once, for the document, chat and the email.
	steps := a.NextSteps()
	doc := a.document(r, steps)
	doc.Summary = m.Subject
	machine, err := json.Marshal(doc)
	if err != nil {
		return Message{}, err
	}
	sms := clip(printable.Escape(fmt.Sprintf("s3xguard %s %s/%s: %s %s %s by %s: %s", a.Severity, orDash(a.Guarded.Account), orDash(a.Guarded.Region),
		a.Kind, what, orDash(r.Bucket), who, a.Response.Action)), 140)
	body, err := json.Marshal(map[string]string{"default": string(machine), "email": a.email(r, who, steps), "sms": sms})
	if err != nil {
		return Message{}, err
	}
	m.Body, m.Document = string(body), string(machine)
	return m, nil
}

type document struct {
	S3xguard int    `json:"s3xguard"`
	Kind     Kind   `json:"kind"`
	Severity string `json:"severity"`
	Guarded  Place  `json:"guarded"`
	// DedupKey is the incident key (IncidentKey): PagerDuty's dedup_key.
	DedupKey string `json:"dedupKey"`
	// Summary is the subject: one printable ASCII line for pagers.
	Summary   string         `json:"summary"`
	Principal map[string]any `json:"principal"`
	Event     map[string]any `json:"event"`
	// Session is the same object as check's JSON output's `session`.
	Session  *session.Session `json:"session,omitempty"`
	Decision map[string]any   `json:"decision"`
	Response Response         `json:"response"`
	Previous *Repeats         `json:"previousWindow,omitempty"`
	Raw      string           `json:"raw,omitempty"`
	ID       string           `json:"alertId,omitempty"`
	Input    string           `json:"input,omitempty"`
	// MayBeDuplicate is set when an earlier attempt may have sent this
	// alert already; DuplicateReason says why.
	MayBeDuplicate  bool     `json:"mayBeDuplicate,omitempty"`
	DuplicateReason string   `json:"duplicateReason,omitempty"`
	Escalated       bool     `json:"escalated,omitempty"`
	Clipped         []string `json:"clipped,omitempty"`
	// NextSteps, Runbook and Links say what to do (steps.go); Chat is the
	// same alert in the chat custom-notification schema (chat.go).
	NextSteps []string `json:"nextSteps"`
	Runbook   string   `json:"runbook"`
	Links     Links    `json:"links"`
	Chat      Chat     `json:"chat"`
}

func (a *Alert) document(r *cloudtrail.Record, steps []string) document {
	p := a.Decision.Principal
	return document{
		S3xguard: 1, Kind: a.Kind, Severity: a.Severity.String(), Guarded: a.Guarded, DedupKey: a.IncidentKey(),
		Principal: omitEmpty(map[string]any{
			"arn": p.ARN, "kind": p.Kind, "normalized": p.Normalized, "account": p.Account,
			"identityType": r.UserIdentity.Type, "accessKeyId": r.UserIdentity.AccessKeyID, "invokedBy": r.UserIdentity.InvokedBy,
		}),
		Event: omitEmpty(map[string]any{
			"name": r.EventName, "bucket": r.Bucket, "accessPoint": r.AccessPoint, "key": a.key(r.Key), "errorCode": r.ErrorCode,
			"readOnly": r.ReadOnly, "time": r.EventTime, "id": r.EventID, "region": r.AWSRegion, "recipientAccountId": r.RecipientAccountID,
			"availabilityZone": r.AvailabilityZone, "sourceIP": r.SourceIPAddress, "vpcEndpoint": r.VPCEndpointID,
			"userAgent": r.UserAgent, "sessionMode": r.SessionMode,
		}),
		Session:  a.Session,
		Decision: omitEmpty(map[string]any{"verdict": a.Decision.Verdict.String(), "rule": a.Decision.Rule, "reasons": a.Decision.Reasons}),
		Response: a.Response,
		Previous: a.Previous,
		Raw:      a.Raw,
		ID:       a.ID, Input: a.Input,
		MayBeDuplicate: a.Duplicate != "", DuplicateReason: a.Duplicate,
		Escalated: a.Escalated, Clipped: a.Clipped,
		NextSteps: steps, Runbook: a.Runbook(), Links: a.links(r), Chat: a.chat(r, steps),
	}
}

func (a *Alert) email(r *cloudtrail.Record, who string, steps []string) string {
	var b strings.Builder
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", label+":", printable.Escape(v))
		}
	}
	fmt.Fprintf(&b, "s3xguard: %s %s event (severity %s)\n", a.Kind, printable.Escape(orDash(r.EventName)), a.Severity)
	fmt.Fprintf(&b, "in account %s, region %s: %s\n\n", printable.Escape(orDash(a.Guarded.Account)), printable.Escape(orDash(a.Guarded.Region)), printable.Escape(orDash(a.Response.Action)))
	b.WriteString("NEXT STEPS\n")
	for i, s := range steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, printable.Escape(s))
	}
	fmt.Fprintf(&b, "Runbook: %s\n\n", a.Runbook())
	if a.Duplicate != "" {
		fmt.Fprintf(&b, "MAY BE A DUPLICATE of an alert already sent (alert ID %s): %s\n\n", printable.Escape(a.ID), printable.Escape(a.Duplicate))
	}
	if a.Escalated {
		b.WriteString("ESCALATION: sent inside a dedup window whose first alert was less severe.\n\n")
	}
	b.WriteString("WHO\n")
	line("principal", orDash(who))
	line("arn", a.Decision.Principal.ARN)
	line("type", r.UserIdentity.Type)
	line("access key", r.UserIdentity.AccessKeyID)
	line("account", a.Decision.Principal.Account)
	b.WriteString("\nGUARDED\n")
	line("account", a.Guarded.Account)
	line("region", a.Guarded.Region)
	b.WriteString("\nWHAT\n")
	line("operation", r.EventName)
	line("bucket", r.Bucket)
	line("access point", r.AccessPoint)
	line("object key", a.key(r.Key))
	line("error", r.ErrorCode)
	b.WriteString("\nWHERE\n")
	line("source IP", r.SourceIPAddress)
	line("VPC endpoint", r.VPCEndpointID)
	line("region", r.AWSRegion)
	line("zone", r.AvailabilityZone)
	line("user agent", r.UserAgent)
	if s := a.Session; s != nil {
		b.WriteString("\nSESSION (the CreateSession that minted the credentials)\n")
		line("issuer", s.Issuer)
		line("created at", s.EventTime)
		line("from IP", s.SourceIP)
		line("via", s.VPCEndpointID)
		line("mode", s.Mode)
		line("event ID", s.EventID)
	}
	b.WriteString("\nWHEN\n")
	line("time", r.EventTime)
	line("event ID", r.EventID)
	line("alert ID", a.ID)
	line("input", a.Input)
	b.WriteString("\nWHY\n")
	for _, reason := range a.Decision.Reasons {
		fmt.Fprintf(&b, "- %s\n", printable.Escape(reason))
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
		fmt.Fprintf(&b, "\n%s\n", printable.Escape(a.Response.Note))
	}
	if a.Previous != nil {
		fmt.Fprintf(&b, "\nAlso: %d repeats between %s and %s were counted, not re-sent.\n",
			a.Previous.Count, a.Previous.From.UTC().Format(time.RFC3339), a.Previous.To.UTC().Format(time.RFC3339))
	}
	if len(a.Clipped) > 0 {
		fmt.Fprintf(&b, "\nClipped to fit the message size limit: %s\n", strings.Join(a.Clipped, ", "))
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

// attrText keeps a message attribute to valid UTF-8 without control
// characters, which SNS and SQS subscribers accept.
func attrText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
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

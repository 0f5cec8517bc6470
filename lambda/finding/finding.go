// Package finding turns one s3xguard finding (a CloudTrail record that is
// unauthorized, invalid, forged or a session used from elsewhere, as check
// reports it and as the function alerts it) into the two formats security
// teams ingest: the AWS Security Finding Format (ASFF) of Security Hub, and
// the OCSF Detection Finding that Amazon Security Lake stores.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// Kind is what a finding is about.
type Kind string

const (
	Unauthorized Kind = "unauthorized"
	Invalid      Kind = "invalid"
	Forged       Kind = "forged"
	// SessionMoved is a call made with a session's credentials from another
	// network than the session was created from (session.Tolerance.Moved).
	SessionMoved Kind = "session-moved"
)

// sessionMovedPrefix starts the reason session.Tolerance.Moved gives.
const sessionMovedPrefix = "session-moved:"

// KindOf names the finding of a decision that is not allowed: a call the
// allowlist allows but whose session moved is still unauthorized, with the
// session-moved reason, and is reported as the more precise kind.
func KindOf(d rules.Decision) Kind {
	if d.Verdict == rules.Invalid {
		return Invalid
	}
	for _, r := range d.Reasons {
		if strings.HasPrefix(r, sessionMovedPrefix) {
			return SessionMoved
		}
	}
	return Unauthorized
}

// SeverityOf rates a finding as the function's alerts do (alert.SeverityOf,
// invalid Medium, forged High); a stolen session token is at least High.
func SeverityOf(k Kind, r *cloudtrail.Record) alert.Severity {
	switch k {
	case Invalid:
		return alert.Medium
	case Forged:
		return alert.High
	case SessionMoved:
		return max(alert.SeverityOf(r), alert.High)
	}
	return alert.SeverityOf(r)
}

// Finding is one finding, whatever reported it.
type Finding struct {
	// ID is the finding's identifier in both formats: the same finding
	// imported again updates, never duplicates (EventID, WindowID).
	ID       string
	Kind     Kind
	Severity alert.Severity
	Record   *cloudtrail.Record // the record; empty (not nil) when it could not be read
	Decision rules.Decision
	// Reasons say why (the decision's, or why the record is invalid).
	Reasons []string
	// Session is the CreateSession that minted the call's credentials,
	// when known.
	Session *session.Session
	// Count is how many times it was seen: 1, or 1 + the repeats a dedup
	// window counted. LastSeen is when it was last seen (zero: the event's
	// time).
	Count    int64
	LastSeen time.Time
	// Updated is when this version of the finding was written (Security
	// Hub keeps an import only if it is newer than the one it has).
	Updated time.Time
	// Action is what the function did about it ("" from check).
	Action string
	// Location is where check read the record (FILE:LINE#INDEX).
	Location string
	// Source names the reporter: "check" or "function".
	Source string
	// OwnerAccount and OwnerRegion, when set, are where the finding
	// belongs whatever the record says: the function imports into its own
	// account (BatchImportFindings takes only the caller's account's
	// findings for the default product), even about a forged record.
	OwnerAccount, OwnerRegion string
}

// Account is the account the finding belongs to: the record's
// recipientAccountId, else its EventBridge envelope's account: the owner
// of the bucket, never the caller's (a cross-account caller's finding
// belongs to the account it called into).
func (f *Finding) Account() string {
	r := f.Record
	for _, a := range []string{f.OwnerAccount, r.RecipientAccountID, r.Envelope.Account} {
		if rules.IsAccountID(a) {
			return a
		}
	}
	return ""
}

// Region is the record's awsRegion, else its envelope's region.
func (f *Finding) Region() string {
	for _, r := range []string{f.OwnerRegion, f.Record.AWSRegion, f.Record.Envelope.Region} {
		if isRegion(r) {
			return r
		}
	}
	return ""
}

// Partition is the AWS partition of a region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// EventID is the ID of the finding about one record (check): its kind and
// CloudTrail event ID, or, for a record without one, a hash of where it
// was read.
func EventID(region, account string, k Kind, eventID, location string) string {
	id := eventID
	if !plainID(id) {
		sum := sha256.Sum256([]byte(eventID + "\x00" + location))
		id = "sha256-" + hex.EncodeToString(sum[:16])
	}
	return fmt.Sprintf("s3xguard/%s/%s/%s/%s", region, account, k, id)
}

// WindowID is the ID of the finding the function imports for a dedup
// window: the window's first alert creates it, and the window's count of
// repeats updates it. key and start name the window (state.Window).
func WindowID(region, account, key string, start time.Time) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d", key, start.UnixMilli()))
	return fmt.Sprintf("s3xguard/%s/%s/window/%s", region, account, hex.EncodeToString(sum[:16]))
}

// plainID reports whether s can stand in an ID as it is: a CloudTrail event
// ID is a UUID, but a forged input can carry anything.
func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// FromAlert is the finding of an alert the function sent.
func FromAlert(a *alert.Alert, id string, now time.Time) *Finding {
	r := a.Record
	if r == nil {
		r = &cloudtrail.Record{}
	}
	k := Kind(a.Kind)
	if k == Unauthorized {
		k = KindOf(a.Decision)
	}
	reasons := a.Decision.Reasons
	return &Finding{
		ID: id, Kind: k, Severity: a.Severity, Record: r, Decision: a.Decision, Reasons: reasons,
		Count: 1, Updated: now, Action: a.Response.Action, Source: "function", Session: a.Session,
	}
}

// eventTime is the record's time, else when the finding was written.
func (f *Finding) eventTime() time.Time {
	if t, err := time.Parse(time.RFC3339Nano, f.Record.EventTime); err == nil {
		return t.UTC()
	}
	return f.Updated.UTC()
}

func (f *Finding) lastSeen() time.Time {
	if f.LastSeen.IsZero() {
		return f.eventTime()
	}
	return f.LastSeen.UTC()
}

// title is one line: what, on what, by whom.
func (f *Finding) title() string {
	r := f.Record
	what := r.EventName
	if what == "" {
		what = "event"
	}
	who := f.Decision.Principal.Normalized
	if who == "" {
		who = r.UserIdentity.ARN
	}
	return fmt.Sprintf("s3xguard: %s %s on %s by %s", f.Kind, what, orDash(r.Bucket), orDash(who))
}

// description says why, in the allowlist's own words.
func (f *Finding) description() string {
	var b strings.Builder
	switch f.Kind {
	case Unauthorized:
		b.WriteString("No entry of the s3xguard allowlist allows this S3 Express One Zone call.")
	case SessionMoved:
		b.WriteString("An S3 Express One Zone session token was used from another network than the one its session was created from: a bearer credential used elsewhere is the signature of theft.")
	case Forged:
		b.WriteString("The s3xguard function received an input that is not an EventBridge event of S3 Express CloudTrail from its own account and region; it was not acted on.")
	case Invalid:
		b.WriteString("s3xguard could not read this record as a valid S3 Express CloudTrail record.")
	default:
		b.WriteString("s3xguard finding.")
	}
	if len(f.Reasons) > 0 {
		b.WriteString(" Why: ")
		b.WriteString(strings.Join(f.Reasons, "; "))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens s to at most n bytes of valid UTF-8, marking the cut.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const mark = "..."
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// isRegion accepts region names as AWS writes them (us-east-1,
// us-gov-west-1, cn-north-1): lowercase letters, digits and dashes.
func isRegion(s string) bool {
	if len(s) < 4 || len(s) > 32 || !strings.Contains(s, "-") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

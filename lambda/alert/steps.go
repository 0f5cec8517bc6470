package alert

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// RunbookURL is the runbook: one section per alert kind (what it means,
// how to confirm, contain and undo), anchored by the kind's name.
const RunbookURL = "https://github.com/s3xguard/s3xguard/blob/main/lambda/RUNBOOK.md"

// Ops is what the next steps name besides the event: where the guard
// keeps its records, and the deny policy a release detaches.
type Ops struct {
	StateTable    string
	DenyPolicyARN string
	// Bus is ALERT_BUS: a release announced there resolves the incident.
	Bus string
}

// Links are the consoles on-call opens, in the guarded account and region.
type Links struct {
	// Event is CloudTrail Event history's page of the event: management
	// events only (data events are not in Event history).
	Event        string `json:"event,omitempty"`
	BucketPolicy string `json:"bucketPolicy,omitempty"`
	StateTable   string `json:"stateTable,omitempty"`
}

// Runbook is the runbook section for the alert's kind.
func (a *Alert) Runbook() string { return RunbookURL + "#" + string(a.Kind) }

func (a *Alert) links(r *cloudtrail.Record) Links {
	reg := a.Guarded.Region
	if reg == "" {
		return Links{}
	}
	console := "https://" + reg + ".console.aws.amazon.com/"
	var l Links
	if r.EventID != "" && r.ManagementEvent {
		l.Event = console + "cloudtrailv2/home?region=" + reg + "#/events/" + url.PathEscape(r.EventID)
	}
	if r.Bucket != "" {
		l.BucketPolicy = console + "s3/buckets/" + url.PathEscape(r.Bucket) + "?region=" + reg + "&bucketType=directory&tab=permissions"
	}
	if a.Ops.StateTable != "" {
		l.StateTable = console + "dynamodbv2/home?region=" + reg + "#item-explorer?table=" + url.QueryEscape(a.Ops.StateTable)
	}
	return l
}

// ReleaseCommand is the command that lifts the alert's quarantine, or ""
// when nothing is in force or recorded for it.
func (a *Alert) ReleaseCommand() string {
	r := a.Response
	if r.Target == "" || a.Record == nil || a.Record.Bucket == "" {
		return ""
	}
	switch r.Action {
	case ActionQuarantined, quarantinedPartial, quarantinePending, ActionAlreadyQuarantined:
	default:
		return ""
	}
	args := []string{"AWS_REGION=" + shellQuote(a.Guarded.Region), "s3xguard", "quarantine", "release",
		"--bucket", shellQuote(a.Record.Bucket), "--principal", shellQuote(r.Target)}
	if a.Ops.StateTable != "" {
		args = append(args, "--table", shellQuote(a.Ops.StateTable))
	}
	if a.Ops.DenyPolicyARN != "" {
		args = append(args, "--deny-policy", shellQuote(a.Ops.DenyPolicyARN))
	}
	if a.Ops.Bus != "" {
		args = append(args, "--bus", shellQuote(a.Ops.Bus))
	}
	return strings.Join(args, " ")
}

// Actions of lambda/quarantine that have no name here; a handler test keeps
// them equal (this package stays free of the AWS clients quarantine uses).
const (
	quarantinedPartial = "quarantined (IAM part pending)"
	quarantinePending  = "quarantine pending"
)

// NextSteps are what on-call does, in order, for the alert's kind and the
// response taken: confirm, contain, undo. Each is one line.
func (a *Alert) NextSteps() []string {
	r := a.Record
	if r == nil {
		r = &cloudtrail.Record{}
	}
	l := a.links(r)
	where := fmt.Sprintf("account %s, region %s", orDash(a.Guarded.Account), orDash(a.Guarded.Region))
	var s []string
	add := func(f string, v ...any) { s = append(s, fmt.Sprintf(f, v...)) }
	lookup := func() {
		switch {
		case l.Event != "":
			add("Confirm: open the event in CloudTrail Event history (%s): %s", where, l.Event)
		case r.EventID != "":
			add("Confirm: find event ID %s in the trail's logs in S3 (data events are not in Event history): Athena `SELECT * FROM <trail table> WHERE eventid = '%s'` or `s3xguard check --format json <log files>`", r.EventID, r.EventID)
		}
	}
	list := ""
	if r.Bucket != "" {
		list = fmt.Sprintf("AWS_REGION=%s s3xguard quarantine list --bucket %s", shellQuote(a.Guarded.Region), shellQuote(r.Bucket))
		if a.Ops.StateTable != "" {
			list += " --table " + shellQuote(a.Ops.StateTable)
		}
	}
	switch a.Kind {
	case KindInvalid:
		add("Nothing was acted on. Read the input quoted in this alert and the function's log (%s) for the same alert ID", where)
		add("If it came from the guard's own rule or queue, CloudTrail's record format may have changed: run `s3xguard check` on recent trail files and report it")
		return s
	case KindForged:
		add("Nothing was acted on. Someone allowed to invoke the function or write to its queue sent this input (%s)", where)
		add("Find who: CloudTrail management events lambda:Invoke (data event, if logged) or sqs:SendMessage on the guard's queue near the alert time")
		add("Contain: review the function's resource policy and the queue policy; remove invokers that are not the EventBridge rule")
		return s
	}
	lookup()
	who := a.Decision.Principal.ARN
	if r.Bucket != "" && l.BucketPolicy != "" {
		add("See who is denied on %s: bucket policy %s (statement S3xguardQuarantine)", r.Bucket, l.BucketPolicy)
	}
	switch a.Response.Action {
	case ActionQuarantined, quarantinedPartial, ActionAlreadyQuarantined:
		add("Contained: %s is denied s3express:CreateSession on %s; sessions already issued may keep working for up to 5 minutes", a.Response.Target, r.Bucket)
		if a.Response.Action == quarantinedPartial {
			add("The IAM part is pending: the sweep retries it; check the health topic")
		}
		if list != "" && l.StateTable != "" {
			add("State: %s (table %s: %s)", list, a.Ops.StateTable, l.StateTable)
		} else if list != "" {
			add("State: %s", list)
		}
		add("Undo (if the access was legitimate, after adding it to the allowlist): %s", a.ReleaseCommand())
	case quarantinePending:
		add("NOT contained yet: the quarantine is recorded and the sweep retries it every run; watch the health topic")
		add("Contain by hand now: add a Deny on s3express:CreateSession for %s to the bucket policy (%s)", orDash(who), orDash(l.BucketPolicy))
		if list != "" {
			add("State: %s", list)
		}
		add("Undo: %s", a.ReleaseCommand())
	case ActionWouldQuarantine:
		add("NOT contained (RESPONSE_MODE=dry-run): enforce would deny %s; the statement is in this alert", orDash(who))
		add("Contain by hand: add that statement to the bucket policy (%s), or deploy with responseMode enforce", orDash(l.BucketPolicy))
		add("If the access was legitimate: add an allow entry for it to the allowlist and redeploy")
	default:
		why := a.Response.Detail
		if why == "" && a.Response.Action == ActionAlertOnly {
			why = "RESPONSE_MODE=alert pages and never denies"
		}
		if why != "" {
			add("NOT contained (%s): %s", orDash(a.Response.Action), why)
		} else {
			add("NOT contained (%s)", orDash(a.Response.Action))
		}
		if who != "" {
			add("Contain by hand: add a Deny on s3express:CreateSession for %s to the bucket policy (%s), or revoke its sessions in IAM", who, orDash(l.BucketPolicy))
		}
		add("If the access was legitimate: add an allow entry for it to the allowlist and redeploy")
	}
	if a.Kind == KindSessionMoved {
		add("A session used from another network is a stolen token: rotate the credentials of %s and find where the session was created (session block above)", orDash(who))
	}
	return s
}

// shellQuote quotes s for a POSIX shell unless it is made only of
// characters that need none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

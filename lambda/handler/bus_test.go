package handler

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
	"github.com/s3xguard/s3xguard/rules"
)

// fakeBus records the entries put, and answers with err or a failed entry.
type fakeBus struct {
	entries  []BusEntry
	err      error
	failCode string
	deadline bool
}

func (f *fakeBus) PutEvents(ctx context.Context, entries []BusEntry) (*PutEventsOutput, error) {
	_, f.deadline = ctx.Deadline()
	f.entries = append(f.entries, entries...)
	if f.err != nil {
		return nil, f.err
	}
	if f.failCode != "" {
		return &PutEventsOutput{FailedEntryCount: 1, Entries: []BusEntryResult{{ErrorCode: f.failCode, ErrorMessage: "no"}}}, nil
	}
	return &PutEventsOutput{Entries: []BusEntryResult{{EventID: "1"}}}, nil
}

func busAlert() *alert.Alert {
	rec := &cloudtrail.Record{EventName: "PutObject", Bucket: "a--use1-az4--x-s3", EventID: "e-1", RecipientAccountID: "123456789012", AWSRegion: "us-east-1",
		UserIdentity: cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::123456789012:assumed-role/writer/s", AccountID: "123456789012"}}
	return &alert.Alert{Kind: alert.KindUnauthorized, Severity: alert.High, Record: rec, ID: "e-1",
		Guarded:  alert.Place{Account: "123456789012", Region: "us-east-1"},
		Decision: rules.Decision{Verdict: rules.Unauthorized, Principal: rules.PrincipalOf(rec.UserIdentity), Reasons: []string{"no allow entry matched"}},
		Response: alert.Response{Action: alert.ActionQuarantined, Mode: "enforce", Target: "arn:aws:iam::123456789012:role/app/team/writer"}}
}

// The event is the contract: source, detail type, the bus, and the very
// document SNS subscribers get, under its own deadline.
func TestEmitAlertPutsTheDocument(t *testing.T) {
	msg, err := busAlert().Build()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBus{}
	h := &Handler{Bus: &Emitter{API: f, Bus: "s3xguard-alerts"}}
	m := &tally{}
	h.emitAlert(context.Background(), msg, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(f.entries) != 1 || m.BusEvents != 1 || m.BusFailed != 0 {
		t.Fatalf("entries %d, counted %d sent %d failed; want 1, 1, 0", len(f.entries), m.BusEvents, m.BusFailed)
	}
	e := f.entries[0]
	if e.Source != "s3xguard" || e.DetailType != "s3xguard alert" || e.EventBusName != "s3xguard-alerts" {
		t.Errorf("entry = source %q, detail type %q, bus %q", e.Source, e.DetailType, e.EventBusName)
	}
	if !f.deadline {
		t.Error("PutEvents ran without a deadline of its own")
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(msg.Body), &body); err != nil {
		t.Fatal(err)
	}
	if got := e.Detail; got != body["default"] {
		t.Errorf("detail = %s\nwant the SNS default member %s", got, body["default"])
	}
	var doc struct {
		Guarded  alert.Place
		DedupKey string
	}
	if err := json.Unmarshal([]byte(e.Detail), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Guarded != (alert.Place{Account: "123456789012", Region: "us-east-1"}) || doc.DedupKey == "" {
		t.Errorf("detail guarded = %+v, dedupKey %q", doc.Guarded, doc.DedupKey)
	}
}

// A bus that refuses is counted, never returned: the page already went out.
func TestEmitAlertFailureIsCounted(t *testing.T) {
	msg, err := busAlert().Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*fakeBus{{err: errors.New("connection refused")}, {failCode: "ThrottlingException"}} {
		h := &Handler{Bus: &Emitter{API: f, Bus: "b"}}
		m := &tally{}
		h.emitAlert(context.Background(), msg, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if m.BusFailed != 1 || m.BusEvents != 0 {
			t.Errorf("%+v: counted %d sent, %d failed; want 0, 1", f, m.BusEvents, m.BusFailed)
		}
	}
	// No bus configured: nothing put, nothing counted.
	m := &tally{}
	(&Handler{}).emitAlert(context.Background(), msg, m, nil)
	if m.BusFailed+m.BusEvents != 0 {
		t.Error("no bus, yet counted")
	}
}

// An expiry resolves the incident the quarantining alert opened: the same
// dedupKey, whichever form of the principal's ARN each side holds.
func TestExpiryEmitsReleasedWithTheAlertsKey(t *testing.T) {
	a := busAlert()
	msg, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBus{}
	h := &Handler{Bus: &Emitter{API: f, Bus: "b"}, Config: &config.Config{AccountID: "123456789012", Region: "us-east-1"}}
	m := &tally{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, kind := range []string{quarantine.NoticeDrift, quarantine.NoticeExpired} {
		h.emitReleased(context.Background(), quarantine.Notice{Kind: kind, Bucket: a.Record.Bucket, Principals: []string{a.Response.Target}}, m, log)
	}
	if len(f.entries) != 1 || m.BusEvents != 1 {
		t.Fatalf("entries = %d, counted %d; want one, for the expiry only", len(f.entries), m.BusEvents)
	}
	if dt := f.entries[0].DetailType; dt != "s3xguard quarantine released" {
		t.Errorf("detail type %q", dt)
	}
	var alertDoc, rel struct{ DedupKey, Reason string }
	json.Unmarshal([]byte(msg.Document), &alertDoc)
	json.Unmarshal([]byte(f.entries[0].Detail), &rel)
	if rel.DedupKey == "" || rel.DedupKey != alertDoc.DedupKey || rel.Reason != "expired" {
		t.Errorf("released = %+v; want dedupKey %q, reason expired", rel, alertDoc.DedupKey)
	}
}

// The alert package names quarantine actions it cannot import; they must
// stay the strings lambda/quarantine writes.
func TestAlertKnowsQuarantineActions(t *testing.T) {
	a := &alert.Alert{Kind: alert.KindUnauthorized, Guarded: alert.Place{Region: "us-east-1"},
		Record: &cloudtrail.Record{Bucket: "a--use1-az4--x-s3"}}
	for _, act := range []string{quarantine.Applied, quarantine.Partial, quarantine.Pending, quarantine.Already} {
		a.Response = alert.Response{Action: act, Target: "arn:aws:iam::123456789012:role/writer"}
		if a.ReleaseCommand() == "" {
			t.Errorf("action %q: no release command; the alert package does not know it", act)
		}
	}
	for _, act := range []string{quarantine.DryRun, quarantine.Refused} {
		a.Response = alert.Response{Action: act, Target: "arn:aws:iam::123456789012:role/writer"}
		if c := a.ReleaseCommand(); c != "" {
			t.Errorf("action %q: release command %q for nothing in force", act, c)
		}
	}
}

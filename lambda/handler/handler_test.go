package handler

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
	"github.com/s3xguard/s3xguard/rules"
)

var here = cloudtrail.Record{RecipientAccountID: "123456789012", AWSRegion: "us-east-1"}

// Cases decided before any AWS call: the Quarantiner is nil and must not
// be reached.
func TestRespondWithoutQuarantine(t *testing.T) {
	guarded := map[string]bool{"a--use1-az4--x-s3": true}
	for _, tc := range []struct {
		name   string
		mode   config.Mode
		kind   alert.Kind
		bucket string
		detail string
		rec    cloudtrail.Record
	}{
		{"alert mode", config.ModeAlert, alert.KindUnauthorized, "a--use1-az4--x-s3", "", here},
		{"invalid event", config.ModeEnforce, alert.KindInvalid, "a--use1-az4--x-s3", "invalid events are never quarantined", here},
		{"no bucket", config.ModeEnforce, alert.KindUnauthorized, "", "the event names no bucket", here},
		{"bucket not guarded", config.ModeDryRun, alert.KindUnauthorized, "b--use1-az4--x-s3", "the bucket is not in GUARDED_BUCKETS", here},
		{"another account's record", config.ModeEnforce, alert.KindUnauthorized, "a--use1-az4--x-s3",
			`the record is from account "999999999999", region "us-east-1", not this function's (123456789012, us-east-1): never quarantined`,
			cloudtrail.Record{RecipientAccountID: "999999999999", AWSRegion: "us-east-1"}},
		{"another region's record", config.ModeEnforce, alert.KindUnauthorized, "a--use1-az4--x-s3",
			`the record is from account "123456789012", region "eu-west-1", not this function's (123456789012, us-east-1): never quarantined`,
			cloudtrail.Record{RecipientAccountID: "123456789012", AWSRegion: "eu-west-1"}},
		{"failed call", config.ModeEnforce, alert.KindUnauthorized, "a--use1-az4--x-s3",
			"the call failed (AccessDenied): alerted, not quarantined (QUARANTINE_FAILED_CALLS=off)",
			cloudtrail.Record{RecipientAccountID: "123456789012", AWSRegion: "us-east-1", ErrorCode: "AccessDenied"}},
	} {
		h := &Handler{Config: &config.Config{Mode: tc.mode, GuardedBuckets: guarded, AccountID: "123456789012", Region: "us-east-1"},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		rec := tc.rec
		rec.Bucket = tc.bucket
		a := &alert.Alert{Kind: tc.kind, Record: &rec, Decision: rules.Decision{Verdict: rules.Unauthorized}}
		r, _ := h.respond(context.Background(), a, &tally{}, h.Log)
		if r.Action != alert.ActionAlertOnly || r.Detail != tc.detail || r.Mode != string(tc.mode) {
			t.Errorf("%s: got %+v; want alert only, %q", tc.name, r, tc.detail)
		}
	}
}

func TestDedupKey(t *testing.T) {
	rec := func(ip, vpce, session string) *alert.Alert {
		id := cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::1:assumed-role/r/" + session, AccountID: "1"}
		return &alert.Alert{Kind: alert.KindUnauthorized, Record: &cloudtrail.Record{Bucket: "b", SourceIPAddress: ip, VPCEndpointID: vpce, UserIdentity: id},
			Decision: rules.Decision{Principal: rules.PrincipalOf(id)}}
	}
	if dedupKey(rec("10.0.0.1", "", "s1"), "") != dedupKey(rec("10.0.0.1", "", "s2"), "") {
		t.Error("two sessions of one role are different keys")
	}
	if dedupKey(rec("10.0.0.1", "", "s1"), "") == dedupKey(rec("10.0.0.2", "", "s1"), "") {
		t.Error("two source IPs are one key")
	}
	if dedupKey(rec("10.0.0.1", "vpce-1", "s1"), "") != dedupKey(rec("10.0.0.2", "vpce-1", "s1"), "") {
		t.Error("one VPC endpoint, two IPs: want one key")
	}
}

// The quarantine of one event leaves the alert its time whatever the
// function's timeout: 30 s at most, never the last 10 s of the work time, and
// a third of it when the timeout is short.
func TestQuarantineDeadline(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		left, want time.Duration
	}{
		{50 * time.Second, 30 * time.Second},
		{35 * time.Second, 25 * time.Second},
		{9 * time.Second, 6 * time.Second},
	} {
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(tc.left))
		if got := quarantineDeadline(ctx, now).Sub(now); got != tc.want {
			t.Errorf("work time %v: quarantine gets %v; want %v", tc.left, got, tc.want)
		}
		cancel()
	}
	if got := quarantineDeadline(context.Background(), now).Sub(now); got != QuarantineBudget {
		t.Errorf("no deadline: %v; want %v", got, QuarantineBudget)
	}
}

type sink struct{ msgs []alert.Message }

func (s *sink) Publish(_ context.Context, m alert.Message) error {
	s.msgs = append(s.msgs, m)
	return nil
}

// A breaker trip is paged on the health topic and counted in the
// BreakerTripped metric, which the stack's breaker alarm watches.
func TestBreakerTripIsPagedAndCounted(t *testing.T) {
	health := &sink{}
	var out strings.Builder
	h := &Handler{Health: health, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: &Metrics{W: &out, Namespace: "s3xguard", Mode: "enforce"}}
	var m tally
	notices := []quarantine.Notice{
		{Kind: quarantine.NoticeBreaker, Bucket: "a--use1-az4--x-s3", Principals: []string{"arn:aws:iam::123456789012:role/x"}, Detail: "3 quarantines this hour on the bucket"},
		{Kind: quarantine.NoticeExpired, Bucket: "a--use1-az4--x-s3", Principals: []string{"arn:aws:iam::123456789012:role/y"}},
	}
	if err := h.notify(context.Background(), notices, &m, h.Log); err != nil {
		t.Fatal(err)
	}
	if len(health.msgs) != 2 || m.BreakerTripped != 1 {
		t.Fatalf("health pages %d, BreakerTripped %d; want 2 and 1", len(health.msgs), m.BreakerTripped)
	}
	h.Metrics.Emit(&m)
	if !strings.Contains(out.String(), `"BreakerTripped":1`) || !strings.Contains(out.String(), `{"Name":"BreakerTripped","Unit":"Count"}`) {
		t.Fatalf("EMF line without BreakerTripped: %s", out.String())
	}
}

// Package handler is the function: an S3 Express CloudTrail event in, the
// allowlist's decision, then the response (dedup, quarantine, alert). It
// takes one EventBridge event, an SQS batch of them (with partial batch
// failure), or the scheduled sweep that sends due summaries and expires
// quarantines.
package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// Publisher sends one alert.
type Publisher interface {
	Publish(context.Context, alert.Message) error
}

// Handler holds what the function builds once at cold start.
type Handler struct {
	Config    *config.Config
	Allowlist *rules.Allowlist
	Store     *state.Store
	Alerts    Publisher
	// Health receives pages about the guard itself (HEALTH_TOPIC_ARN, else
	// the alert topic).
	Health     Publisher
	Quarantine *quarantine.Quarantiner
	Log        *slog.Logger
	Metrics    *Metrics
}

// input is enough of any payload to tell which kind it is.
type input struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var m tally
	defer func() { h.Metrics.Emit(&m) }()
	var in input
	_ = json.Unmarshal(payload, &in) // an unreadable payload is one invalid event
	switch {
	case len(in.Records) > 0 && in.Records[0].EventSource == "aws:sqs":
		return h.batch(ctx, payload, &m)
	case in.Source == "aws.events" && in.DetailType == "Scheduled Event":
		return nil, h.sweep(ctx, &m)
	}
	if err := h.event(ctx, payload, &m); err != nil {
		m.Errors++
		return nil, err
	}
	return nil, nil
}

// batch handles an SQS batch: each message is one EventBridge event, and a
// message that fails is reported alone, so it alone is retried.
func (h *Handler) batch(ctx context.Context, payload []byte, m *tally) (events.SQSEventResponse, error) {
	var b events.SQSEvent
	// An empty list, not null: every message succeeded.
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	if err := json.Unmarshal(payload, &b); err != nil {
		m.Errors++
		return resp, fmt.Errorf("sqs batch: %w", err)
	}
	for _, msg := range b.Records {
		if err := h.event(ctx, []byte(msg.Body), m); err != nil {
			m.Errors++
			h.Log.ErrorContext(ctx, "message failed; reported for retry", "messageId", msg.MessageId, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

// maxRaw bounds how much of an undecodable event an alert quotes.
const maxRaw = 512

// event handles one event. An error means its alert was not sent: the
// caller fails the invocation (or the SQS message) so that it is retried.
func (h *Handler) event(ctx context.Context, data []byte, m *tally) error {
	m.Events++
	t0 := time.Now()
	a := &alert.Alert{Keys: h.Config.ObjectKeys}
	rec, err := cloudtrail.DecodeEvent(data)
	if err != nil {
		raw := string(data[:min(len(data), maxRaw)])
		a.Record, a.Raw = &cloudtrail.Record{}, raw
		a.Decision = rules.Decision{Verdict: rules.Invalid, Reasons: []string{"cannot decode event: " + err.Error()}}
	} else {
		a.Record = rec
		a.Decision = h.Allowlist.Decide(rec)
	}
	decide := time.Since(t0)
	log := h.Log.With("verdict", a.Decision.Verdict.String(), "eventID", a.Record.EventID, "eventName", a.Record.EventName,
		"bucket", a.Record.Bucket, "principal", a.Decision.Principal.Normalized)
	switch a.Decision.Verdict {
	case rules.Allowed:
		m.Allowed++
		log.DebugContext(ctx, "allowed", "rule", a.Decision.Rule)
		return nil
	case rules.Ignored:
		m.Ignored++
		return nil
	case rules.Unauthorized:
		m.Unauthorized++
		a.Kind, a.Severity = alert.KindUnauthorized, alert.SeverityOf(a.Record)
	default:
		m.Invalid++
		a.Kind, a.Severity = alert.KindInvalid, alert.Medium
	}

	t1 := time.Now()
	msg, err := a.Build()
	if err != nil {
		return fmt.Errorf("build alert: %w", err)
	}
	ticket, err := h.Store.Dedup(ctx, dedupKey(a), h.Config.DedupWindow, msg.Subject, msg.Attributes)
	if err != nil {
		// Without the state table, duplicates beat silence: alert anyway.
		m.Errors++
		log.ErrorContext(ctx, "dedup unavailable; alerting without it", "error", err)
		ticket = state.Ticket{First: true}
	}
	if !ticket.First {
		m.Suppressed++
		log.InfoContext(ctx, "repeat counted, not re-sent")
		return nil
	}

	a.Response = h.respond(ctx, a, m, log)
	respond := time.Since(t1)
	if p := ticket.Prev; p != nil {
		a.Previous = &alert.Repeats{Count: p.Repeats, From: p.Start, To: p.End}
	}
	t2 := time.Now()
	if msg, err = a.Build(); err == nil {
		err = h.Alerts.Publish(ctx, msg)
	}
	if err != nil {
		// Unsent: forget the window so the retry sends it, not counts it.
		return errors.Join(err, h.Store.Undo(ctx, ticket))
	}
	m.Alerts++
	if p := ticket.Prev; p != nil {
		if err := h.Store.DonePending(ctx, p); err != nil {
			log.WarnContext(ctx, "summary sent with the alert; pending entry stays", "error", err)
		}
	}
	log.InfoContext(ctx, "alert sent", "severity", a.Severity.String(), "action", a.Response.Action, "subject", msg.Subject,
		"decideMs", ms(decide), "respondMs", ms(respond), "alertMs", ms(time.Since(t2)))
	return nil
}

// respond quarantines as configured, and says what it did. A quarantine
// that fails is recorded as pending (the sweep finishes it) and reported in
// the alert: the alert must go out regardless.
func (h *Handler) respond(ctx context.Context, a *alert.Alert, m *tally, log *slog.Logger) alert.Response {
	cfg := h.Config
	r := alert.Response{Action: alert.ActionAlertOnly, Mode: string(cfg.Mode)}
	rec := a.Record
	switch {
	case a.Kind != alert.KindUnauthorized:
		r.Detail = string(a.Kind) + " events are never quarantined"
		return r
	case cfg.Mode == config.ModeAlert:
		return r
	case rec.Bucket == "":
		r.Detail = "the event names no bucket"
		return r
	case !cfg.Guards(rec.Bucket):
		r.Detail = "the bucket is not in GUARDED_BUCKETS"
		return r
	case rec.RecipientAccountID != cfg.AccountID || rec.AWSRegion != cfg.Region:
		// Defence in depth beside the envelope check: only this account's
		// own records, from this region, are ever acted on.
		r.Detail = fmt.Sprintf("the record is from account %q, region %q, not this function's (%s, %s): never quarantined", rec.RecipientAccountID, rec.AWSRegion, cfg.AccountID, cfg.Region)
		return r
	case rec.ErrorCode != "" && !cfg.QuarantineFailedCalls:
		r.Detail = fmt.Sprintf("the call failed (%s): alerted, not quarantined (QUARANTINE_FAILED_CALLS=off)", rec.ErrorCode)
		return r
	}
	qctx, cancel := context.WithDeadline(ctx, quarantineDeadline(ctx, time.Now()))
	defer cancel()
	out, err := h.Quarantine.Apply(qctx, quarantine.Request{
		Bucket: rec.Bucket, Principal: a.Decision.Principal, IssuerARN: rec.UserIdentity.SessionIssuerARN,
		Reason:  fmt.Sprintf("%s %s: %s", a.Kind, rec.EventName, joinReasons(a.Decision.Reasons)),
		EventID: rec.EventID, DryRun: cfg.Mode == config.ModeDryRun,
	})
	h.notify(ctx, out.Notices, m, log)
	if err != nil {
		m.Errors++
		log.ErrorContext(ctx, "quarantine failed", "action", out.Action, "error", err)
		if out.Action == "" {
			r.Action, r.Detail = alert.ActionNotQuarantined, "quarantine failed: "+err.Error()
			return r
		}
	}
	if out.Action == quarantine.Pending || out.Action == quarantine.Partial {
		log.WarnContext(ctx, "quarantine incomplete; recorded as pending for the sweep", "action", out.Action, "detail", out.Detail)
	}
	r.Action, r.Detail, r.Statement, r.IAM = out.Action, out.Detail, out.Statement, out.IAM
	if !out.Until.IsZero() {
		r.Until = out.Until.UTC().Format(time.RFC3339)
	} else if out.Action == quarantine.Applied || out.Action == quarantine.Partial || out.Action == quarantine.DryRun {
		r.Until = "never (QUARANTINE_TTL=0): until released"
	}
	switch out.Action {
	case quarantine.Applied, quarantine.Partial:
		m.Quarantines++
		r.Note = quarantine.SessionNote
	case quarantine.DryRun:
		m.DryRuns++
		r.Note = quarantine.SessionNote
	}
	return r
}

// QuarantineBudget bounds the quarantine of one event, and AlertReserve is
// kept before the function's deadline: whatever the quarantine meets, the
// alert still goes out, and what the quarantine did not finish is pending
// for the sweep.
const (
	QuarantineBudget = 30 * time.Second
	AlertReserve     = 10 * time.Second
)

func quarantineDeadline(ctx context.Context, now time.Time) time.Time {
	d := now.Add(QuarantineBudget)
	if fd, ok := ctx.Deadline(); ok && fd.Add(-AlertReserve).Before(d) {
		d = fd.Add(-AlertReserve)
	}
	return d
}

// notify pages the health topic. A notice that cannot be sent is logged
// as an error (the errors alarm goes to the health topic too).
func (h *Handler) notify(ctx context.Context, notices []quarantine.Notice, m *tally, log *slog.Logger) error {
	health := h.Health
	if health == nil {
		health = h.Alerts
	}
	var errs []error
	for _, n := range notices {
		msg, err := alert.Notice{Kind: n.Kind, Bucket: n.Bucket, Principals: n.Principals, Detail: n.Detail, Time: time.Now()}.Build()
		if err == nil {
			err = health.Publish(ctx, msg)
		}
		if err != nil {
			m.Errors++
			log.ErrorContext(ctx, "health notice not sent", "notice", n.Kind, "bucket", n.Bucket, "principals", n.Principals, "detail", n.Detail, "error", err)
			errs = append(errs, err)
			continue
		}
		log.WarnContext(ctx, "health notice sent", "notice", n.Kind, "bucket", n.Bucket, "principals", n.Principals, "detail", n.Detail)
	}
	return errors.Join(errs...)
}

// sweep sends the summaries of dedup windows that ended with repeats, and
// reconciles quarantines with the bucket policies (expiry, drift, pending
// work, adoption), paging the health topic about each finding.
func (h *Handler) sweep(ctx context.Context, m *tally) error {
	due, err := h.Store.DueSummaries(ctx)
	if err != nil {
		m.Errors++
		return err
	}
	var errs []error
	for _, w := range due {
		got, ok, err := h.Store.ClaimSummary(ctx, w)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		msg, err := alert.Summary(got.Subject, got.Attrs, alert.Repeats{Count: got.Repeats, From: got.Start, To: got.LastSeen})
		if err == nil {
			err = h.Alerts.Publish(ctx, msg)
		}
		if err != nil {
			errs = append(errs, err, h.Store.UnclaimSummary(ctx, got))
			continue
		}
		m.Summaries++
		errs = append(errs, h.Store.DonePending(ctx, w))
	}
	// In every mode: quarantines made before a switch back to alert or
	// dry-run must still expire, and pending work still finish.
	notices, err := h.Quarantine.Sweep(ctx)
	errs = append(errs, err, h.notify(ctx, notices, m, h.Log))
	if err := errors.Join(errs...); err != nil {
		m.Errors++
		return err
	}
	return nil
}

// dedupKey is (kind, principal, bucket, source): one alert per caller per
// bucket per network origin per window.
func dedupKey(a *alert.Alert) string {
	src := a.Record.VPCEndpointID
	if src == "" {
		src = a.Record.SourceIPAddress
	}
	who := a.Decision.Principal.Normalized
	if who == "" {
		who = a.Record.UserIdentity.PrincipalID
	}
	return fmt.Sprintf("%s|%s|%s|%s", a.Kind, who, a.Record.Bucket, src)
}

func joinReasons(r []string) string {
	if len(r) == 0 {
		return "no allow entry matched"
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

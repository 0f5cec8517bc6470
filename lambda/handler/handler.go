// Package handler is the function: an S3 Express CloudTrail event in, the
// allowlist's decision, then the response (dedup, quarantine, alert). It
// takes one EventBridge event, an SQS batch of them (with partial batch
// failure), or the scheduled sweep that sends due summaries and expires
// quarantines; any other input is alerted as invalid or forged, never acted
// on. Alerts are delivered at least once (deliver.go), within the time the
// invocation has (timing.go).
package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/ownrole"
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
	// Own is the function's execution role: its own bucket policy calls
	// are allowed (rule s3xguard-self).
	Own     ownrole.Role
	Log     *slog.Logger
	Metrics *Metrics
	// SecurityHub, when set (FINDINGS=securityhub), also receives each
	// alert as a finding (securityhub.go).
	SecurityHub SecurityHubAPI
	// Bus, when set (ALERT_BUS), receives a copy of every alert sent and
	// of every quarantine released (bus.go).
	Bus *Emitter

	memory       memory
	sessionCache sessionCache
}

// Invoke is the Lambda handler. It takes the raw payload, so that any
// input, not JSON at all, empty or huge, is judged by the function (an
// invalid alert) rather than failing in the runtime before it.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var m tally
	defer func() { h.Metrics.Emit(&m) }()
	work, cancel, b := newBudget(ctx)
	defer cancel()
	// After every page of the invocation is out (securityhub.go).
	defer func() {
		fctx, cancel := context.WithTimeout(work, FindingsBudget)
		defer cancel()
		h.importFindings(fctx, &m)
	}()
	switch r, sq := route(payload); r {
	case routeSQS:
		return json.Marshal(h.batch(work, b, sq, &m))
	case routeSweep:
		return []byte("null"), h.sweep(work, &m)
	}
	if err := h.event(work, b, payload, "invoke", h.Log, &m); err != nil {
		return nil, err
	}
	return []byte("null"), nil
}

// batch handles an SQS batch: each message is one EventBridge event, and a
// message that fails is reported alone, so it alone is retried. Up to
// BATCH_PARALLELISM messages are handled at once, each taken in order when
// a slot frees; when the work time left at that moment is below the
// reserve, it stops taking messages and reports the rest for redelivery.
// The report lists failures in the batch's order, whatever order they
// finished in.
func (h *Handler) batch(ctx context.Context, b budget, sq events.SQSEvent, m *tally) (resp events.SQSEventResponse) {
	n := len(sq.Records)
	failed := make([]bool, n)
	counts := make([]tally, n) // one per message: no lock on the event path
	slots := make(chan struct{}, max(h.Config.BatchParallelism, 1))
	var wg sync.WaitGroup
	for i, msg := range sq.Records {
		slots <- struct{}{}
		if left := b.left(); left < b.reserve {
			<-slots
			for j := i; j < n; j++ {
				failed[j] = true
			}
			h.Log.WarnContext(ctx, "out of time; messages left for SQS to redeliver", "messages", n-i, "leftMs", left.Milliseconds())
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			log := h.Log.With("messageId", msg.MessageId)
			failed[i] = h.event(ctx, b, []byte(msg.Body), "sqs:"+msg.EventSourceARN, log, &counts[i]) != nil
		}()
	}
	wg.Wait()
	// An empty list, not null: every message succeeded.
	resp.BatchItemFailures = []events.SQSBatchItemFailure{}
	for i, msg := range sq.Records {
		m.add(&counts[i])
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp
}

// event handles one input. An error means its alert was not sent (or is
// still in flight on another instance): the caller fails the invocation
// (or the SQS message) so that it is retried. It logs one ERROR line then,
// with the input's ID and the cause.
func (h *Handler) event(ctx context.Context, b budget, data []byte, input string, log *slog.Logger, m *tally) error {
	m.Events++
	t0 := time.Now()
	c := h.classify(data, input)
	h.sessions(ctx, &c, log, m)
	h.ownWrite(ctx, &c, data, log)
	decide := time.Since(t0)
	if c.alert == nil {
		if c.ignored {
			m.Ignored++
			return nil
		}
		m.Allowed++
		if c.rule == ownrole.Rule {
			// Worth a line: the guard's own policy writes, told apart.
			log.InfoContext(ctx, "allowed: the function's own bucket policy call", "rule", c.rule)
		} else {
			log.DebugContext(ctx, "allowed", "rule", c.rule)
		}
		return nil
	}
	a := c.alert
	switch a.Kind {
	case alert.KindUnauthorized:
		m.Unauthorized++
	case alert.KindForged:
		m.Forged++
	case alert.KindSessionMoved:
		m.SessionMoved++
	default:
		m.Invalid++
	}
	log = log.With("kind", string(a.Kind), "eventID", a.Record.EventID, "alertId", a.ID, "eventName", a.Record.EventName,
		"bucket", a.Record.Bucket, "principal", a.Decision.Principal.Normalized)
	if err := h.deliver(ctx, b, c, log, m, decide); err != nil {
		m.Errors++
		log.ErrorContext(ctx, "event failed; left for retry", "error", err)
		return err
	}
	return nil
}

// due reports whether the alert calls for a quarantine decision (an
// Apply), judged from the alert and the configuration alone; why says what
// stops it otherwise. It makes no call: every repeat asks it.
func (h *Handler) due(a *alert.Alert) (why string, due bool) {
	cfg := h.Config
	rec := a.Record
	switch {
	case a.Kind == alert.KindSessionMoved && cfg.SessionCheck != config.SessionEnforce:
		return "SESSION_CHECK=" + string(cfg.SessionCheck) + ": a moved session is alerted, not quarantined", false
	case a.Kind != alert.KindUnauthorized && a.Kind != alert.KindSessionMoved:
		return string(a.Kind) + " events are never quarantined", false
	case cfg.Mode == config.ModeAlert:
		return "", false
	case rec.Bucket == "":
		return "the event names no bucket", false
	case !cfg.Guards(rec.Bucket):
		return "the bucket is not in GUARDED_BUCKETS", false
	case rec.RecipientAccountID != cfg.AccountID || rec.AWSRegion != cfg.Region:
		// Defence in depth beside the envelope check: only this account's
		// own records, from this region, are ever acted on.
		return fmt.Sprintf("the record is from account %q, region %q, not this function's (%s, %s): never quarantined", rec.RecipientAccountID, rec.AWSRegion, cfg.AccountID, cfg.Region), false
	case rec.ErrorCode != "" && !cfg.QuarantineFailedCalls:
		return fmt.Sprintf("the call failed (%s): alerted, not quarantined (QUARANTINE_FAILED_CALLS=off)", rec.ErrorCode), false
	}
	return "", true
}

// ErrQuarantineUnrecorded means a quarantine was due and failed before its
// intent was recorded (the state table or the function's identity did not
// answer): nothing, not even the sweep, would finish it. The alert still
// goes out; the event then fails so that the platform retries it.
var ErrQuarantineUnrecorded = errors.New("quarantine due but not recorded")

// respond quarantines as configured, and says what it did. A quarantine
// that fails is recorded as pending (the sweep finishes it) and reported in
// the alert: the alert must go out regardless. The error is
// ErrQuarantineUnrecorded when a due quarantine could not even be recorded.
func (h *Handler) respond(ctx context.Context, a *alert.Alert, m *tally, log *slog.Logger) (alert.Response, error) {
	cfg := h.Config
	r := alert.Response{Action: alert.ActionAlertOnly, Mode: string(cfg.Mode)}
	rec := a.Record
	if why, due := h.due(a); !due {
		r.Detail = why
		return r, nil
	}
	issuer := rec.UserIdentity.SessionIssuerARN
	if a.Session != nil && a.Session.Issuer != "" {
		issuer = a.Session.Issuer // the role with its path: no iam:GetRole
	}
	qctx, cancel := context.WithDeadline(ctx, quarantineDeadline(ctx, time.Now()))
	defer cancel()
	out, err := h.Quarantine.Apply(qctx, quarantine.Request{
		Bucket: rec.Bucket, Principal: a.Decision.Principal, IssuerARN: issuer,
		Reason:  fmt.Sprintf("%s %s: %s", a.Kind, rec.EventName, joinReasons(a.Decision.Reasons)),
		EventID: rec.EventID, DryRun: cfg.Mode == config.ModeDryRun, BucketAccount: rec.BucketAccount,
	})
	h.notify(ctx, out.Notices, m, log)
	if err != nil {
		m.Errors++
		log.ErrorContext(ctx, "quarantine failed", "action", out.Action, "error", err)
		if out.Action == "" {
			r.Action, r.Detail = alert.ActionNotQuarantined, "quarantine failed: "+err.Error()+"; the event is retried"
			if cfg.Mode == config.ModeDryRun {
				return r, nil // nothing to enforce: no retry owed
			}
			return r, fmt.Errorf("%w: %s on %s: %w", ErrQuarantineUnrecorded, a.Decision.Principal.Normalized, rec.Bucket, err)
		}
	}
	if out.Action == quarantine.Pending || out.Action == quarantine.Partial {
		log.WarnContext(ctx, "quarantine incomplete; recorded as pending for the sweep", "action", out.Action, "detail", out.Detail)
	}
	r.Action, r.Detail, r.Statement, r.IAM, r.Target, r.Retried = out.Action, out.Detail, out.Statement, out.IAM, out.Target, out.Retried
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
	return r, nil
}

// inForce reports whether a response leaves the key's quarantine in force
// (or, in dry-run, decided): its window's repeats need no decision.
func inForce(action string) bool {
	switch action {
	case quarantine.Applied, quarantine.Partial, quarantine.Already, quarantine.DryRun:
		return true
	}
	return false
}

// QuarantineBudget bounds the quarantine of one event, and AlertReserve is
// kept after it, before the work deadline (which already stops short of the
// function's): whatever the quarantine meets, the alert still goes out, and
// what the quarantine did not finish is pending for the sweep. A short
// function timeout keeps a third of the time left for the alert instead.
const (
	QuarantineBudget = 30 * time.Second
	AlertReserve     = 10 * time.Second
)

func quarantineDeadline(ctx context.Context, now time.Time) time.Time {
	d := now.Add(QuarantineBudget)
	if fd, ok := ctx.Deadline(); ok {
		keep := min(AlertReserve, fd.Sub(now)/3)
		if end := fd.Add(-keep); end.Before(d) {
			d = end
		}
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
		if n.Kind == quarantine.NoticeBreaker {
			m.BreakerTripped++
		}
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
	for _, n := range notices {
		h.emitReleased(ctx, n, m, log)
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
	lease := time.Until(deadlineOr(ctx, time.Now().Add(noDeadlineLease)))
	for _, w := range due {
		got, ok, err := h.Store.ClaimSummary(ctx, w, lease)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		msg, err := alert.Summary(got.Subject, got.Attrs, alert.Repeats{Count: got.Repeats, From: got.Start, To: got.LastSeen})
		if err == nil {
			err = h.Alerts.Publish(ctx, msg)
		}
		cctx, cancel := cleanup(ctx)
		if err != nil {
			errs = append(errs, err, h.Store.UnclaimSummary(cctx, got))
		} else {
			m.Summaries++
			h.queueCount(got, m)
			errs = append(errs, h.Store.SummarySent(cctx, got))
		}
		cancel()
	}
	errs = append(errs, h.memory.flushAll(ctx, h.Store))
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

// dedupKey is (kind, principal, bucket, source) for unauthorized and
// session-moved events: one alert per caller per bucket per network origin
// per window (for session-moved, the network the session was used from:
// one stolen token, or many stolen from one place, is one alert). Invalid
// and forged inputs add the reason's class and where the input came from,
// so different malformed inputs are not hidden behind one count.
func dedupKey(a *alert.Alert, class string) string {
	src := a.Record.VPCEndpointID
	if src == "" {
		src = a.Record.SourceIPAddress
	}
	who := a.Decision.Principal.Normalized
	if who == "" {
		who = a.Record.UserIdentity.PrincipalID
	}
	parts := []string{string(a.Kind), who, a.Record.Bucket, src}
	if a.Kind != alert.KindUnauthorized && a.Kind != alert.KindSessionMoved {
		parts = append(parts, class, a.Input)
	}
	for i, p := range parts {
		parts[i] = keyPart(p)
	}
	return strings.Join(parts, "|")
}

// keyPart keeps one part of a dedup key valid UTF-8 and short (DynamoDB
// keys are UTF-8, at most 2048 bytes), still telling long values apart.
func keyPart(s string) string {
	const n = 200
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return strings.ToValidUTF8(s[:n], "") + "~" + hex.EncodeToString(sum[:8])
}

func joinReasons(r []string) string {
	if len(r) == 0 {
		return "no allow entry matched"
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

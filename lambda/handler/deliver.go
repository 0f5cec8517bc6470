package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
	"github.com/s3xguard/s3xguard/lambda/state"
)

// deliver runs the delivery protocol for one alert (lambda/state, README
// "Delivery"): claim the window, respond, publish, mark it sent; or count a
// repeat of a sent alert. An error means nothing was sent, and the claim
// was released (or will expire), so that the retry sends.
func (h *Handler) deliver(ctx context.Context, b budget, c classified, log *slog.Logger, m *tally, decide time.Duration) error {
	a := c.alert
	t1 := time.Now()
	msg, err := a.Build()
	if err != nil {
		return fmt.Errorf("build alert: %w", err)
	}
	key := dedupKey(a, c.class)
	// The claim gets at most half the time left, so that an alert can still
	// be sent without it when the table does not answer.
	dctx, cancel := context.WithTimeout(ctx, b.left()/2)
	tk, err := h.claim(dctx, b, key, a, msg)
	cancel()
	noTable := false
	var tableDown error
	switch {
	case errors.Is(err, state.ErrInFlight):
		return err
	case err != nil:
		tableDown = err
		counted, settled, release := h.memory.countOrClaim(ctx, key, a.Severity)
		if counted {
			m.Suppressed++
			log.WarnContext(ctx, "state table unavailable; repeat counted in memory", "error", err)
			if settled {
				return nil
			}
			if _, due := h.due(a); due {
				// The quarantine needs the table (record, breaker, lock).
				return fmt.Errorf("%w: %s on %s: %w", ErrQuarantineUnrecorded, a.Decision.Principal.Normalized, a.Record.Bucket, err)
			}
			return nil
		}
		defer release()
		// Duplicates beat silence: alert without deduplication.
		m.Errors++
		log.ErrorContext(ctx, "state table unavailable; alerting without deduplication", "error", err)
		noTable, tk = true, state.Ticket{First: true}
		a.Duplicate = "the state table was unavailable: sent without deduplication"
	case !tk.First:
		m.Suppressed++
		if tk.Settled {
			log.InfoContext(ctx, "repeat counted, not re-sent")
			return nil
		}
		return h.repeat(ctx, a, tk, log, m)
	case tk.TookOver:
		a.Duplicate = "an earlier attempt claimed this alert and stopped before recording it sent: it may have been published"
	}
	a.Escalated = tk.Escalated
	var unrecorded error
	switch _, due := h.due(a); {
	case due && tableDown != nil:
		// Not tried: the quarantine needs the table (its record, the
		// breaker, the bucket's lock), which just failed or hung. The
		// event is retried, and the retry decides.
		a.Response = alert.Response{Action: alert.ActionNotQuarantined, Mode: string(h.Config.Mode),
			Detail: "the state table is unavailable: the quarantine is retried with the event"}
		unrecorded = fmt.Errorf("%w: %s on %s: %w", ErrQuarantineUnrecorded, a.Decision.Principal.Normalized, a.Record.Bucket, tableDown)
	case a.Kind == alert.KindUnauthorized || a.Kind == alert.KindSessionMoved:
		a.Response, unrecorded = h.respond(ctx, a, m, log)
	default:
		a.Response = alert.Response{Action: alert.ActionAlertOnly, Mode: string(h.Config.Mode),
			Detail: string(a.Kind) + " inputs are never acted on"}
	}
	tk.Settled = inForce(a.Response.Action)
	respond := time.Since(t1)
	if p := tk.Prev; p != nil {
		a.Previous = &alert.Repeats{Count: p.Repeats, From: p.Start, To: p.End}
	}
	t2 := time.Now()
	if msg, err = a.Build(); err == nil {
		err = h.Alerts.Publish(ctx, msg)
	}
	cctx, ccancel := cleanup(ctx)
	defer ccancel()
	if err != nil {
		if !noTable && MaybeDelivered(err) {
			// It may be out: the retry takes the claim over at once and
			// says its page may be a duplicate.
			return errors.Join(err, h.Store.Abandon(cctx, tk))
		}
		// Unsent: give the claim back so the retry sends, not counts.
		return errors.Join(err, h.Store.Release(cctx, tk))
	}
	m.Alerts++
	start := tk.WindowStart()
	switch {
	case noTable:
		start = t1
		h.memory.remember(state.Window{Key: key, Start: t1, End: t1.Add(h.Config.DedupWindow), Severity: int(a.Severity),
			Subject: msg.Subject, Attrs: msg.Attributes, LastSeen: t1, Settled: tk.Settled})
	default:
		if err := h.Store.Sent(cctx, tk); errors.Is(err, state.ErrClaimLost) {
			log.WarnContext(ctx, "alert sent after its claim expired; another attempt may send it too", "error", err)
		} else if err != nil {
			h.memory.unmarked(key, tk)
			log.WarnContext(ctx, "alert sent; marking it sent failed, kept in memory to retry", "error", err)
		}
	}
	if p := tk.Prev; p != nil {
		if err := h.Store.DonePending(cctx, p); err != nil {
			log.WarnContext(ctx, "summary sent with the alert; pending entry stays", "error", err)
		}
	}
	h.queueFinding(a, key, start, tk.Prev, m, log)
	h.emitAlert(ctx, msg, m, log)
	log.InfoContext(ctx, "alert sent", "severity", a.Severity.String(), "action", a.Response.Action, "subject", msg.Subject,
		"mayBeDuplicate", a.Duplicate != "", "escalated", a.Escalated,
		"decideMs", ms(decide), "respondMs", ms(respond), "alertMs", ms(time.Since(t2)))
	// Sent, and counted as the window's alert: the retry counts a repeat,
	// which then gets the quarantine decision this attempt could not make.
	return unrecorded
}

// repeat handles a repeat counted in a window whose quarantine is not in
// force (tk names the window). A repeat whose own verdict calls for
// a quarantine gets the decision the window's alert did not end with, so
// that a weaker event (a denied probe) never shadows a stronger one. When
// that decision puts the quarantine in force it is paged, and the window
// is settled: later repeats are only counted.
func (h *Handler) repeat(ctx context.Context, a *alert.Alert, tk state.Ticket, log *slog.Logger, m *tally) error {
	if _, due := h.due(a); !due {
		log.InfoContext(ctx, "repeat counted, not re-sent")
		return nil
	}
	r, err := h.respond(ctx, a, m, log)
	if err != nil {
		return err
	}
	if !inForce(r.Action) {
		log.InfoContext(ctx, "repeat counted; its quarantine is not in force yet", "action", r.Action, "detail", r.Detail)
		return nil
	}
	// An earlier attempt of this event that quarantined and then failed
	// (its page, most likely) left the window unsettled: page it now, as
	// a possible duplicate, rather than count it silently.
	if r.Action != quarantine.Already || r.Retried {
		// Someone who read the window's alert believes the principal free.
		r.Detail = strings.TrimPrefix(r.Detail+"; ", "; ") + "decided on a repeat: the first alert of this window did not quarantine"
		if r.Retried {
			a.Duplicate = "an earlier attempt of this event quarantined the principal and failed before its page was confirmed: it may have gone out"
		}
		a.Response = r
		msg, err := a.Build()
		if err == nil {
			err = h.Alerts.Publish(ctx, msg)
		}
		if err != nil {
			return fmt.Errorf("page the quarantine of a repeat: %w", err)
		}
		m.Alerts++
		log.InfoContext(ctx, "alert sent: a repeat was quarantined", "severity", a.Severity.String(), "action", r.Action, "subject", msg.Subject)
	}
	cctx, cancel := cleanup(ctx)
	defer cancel()
	if err := h.Store.Settle(cctx, tk); err != nil {
		log.WarnContext(ctx, "quarantine in force; settling its window failed (its repeats ask again)", "error", err)
	}
	return nil
}

// claim first tells the table what this instance could not tell it
// before, then claims the window or counts a repeat.
func (h *Handler) claim(ctx context.Context, b budget, key string, a *alert.Alert, msg alert.Message) (state.Ticket, error) {
	if err := h.memory.flush(ctx, h.Store, key); err != nil {
		return state.Ticket{}, err
	}
	return h.Store.Dedup(ctx, state.Claim{
		Key: key, Severity: int(a.Severity), Window: h.Config.DedupWindow, Lease: b.lease(),
		Subject: msg.Subject, Attrs: msg.Attributes, Wait: min(5*time.Second, b.left()/3),
	})
}

// memory holds, in one instance, what the state table could not be told:
// windows alerted while it was unreachable (with the repeats counted in
// them since), and claims whose alert went out but could not be marked
// sent. Each is written to the table at the next chance: the next event of
// its key, or the sweep.
type memory struct {
	mu           sync.Mutex
	windows      map[string]*state.Window
	sentUnmarked map[string]state.Ticket
	// sending holds the keys an event of this instance is alerting
	// without the table; closed when its window is remembered (or not).
	sending map[string]chan struct{}
}

// maxMemory bounds what one instance remembers; past it, new windows are
// not remembered (their repeats are then alerted, not counted).
const maxMemory = 1000

func (mem *memory) remember(w state.Window) {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.windows == nil {
		mem.windows = map[string]*state.Window{}
	}
	if len(mem.windows) < maxMemory {
		mem.windows[w.Key] = &w
	}
}

func (mem *memory) unmarked(key string, t state.Ticket) {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.sentUnmarked == nil {
		mem.sentUnmarked = map[string]state.Ticket{}
	}
	if len(mem.sentUnmarked) < maxMemory {
		mem.sentUnmarked[key] = t
	}
}

// countOrClaim counts a repeat in a remembered window of the key that is
// still open and at least as severe, and says whether that window is
// settled. Otherwise the caller becomes the key's only sender in this
// instance until it calls release (after remember): the events of one key
// in a parallel batch wait for it and count, rather than all alert.
func (mem *memory) countOrClaim(ctx context.Context, key string, sev alert.Severity) (counted, settled bool, release func()) {
	for {
		mem.mu.Lock()
		if w := mem.windows[key]; w != nil && time.Now().Before(w.End) && w.Severity >= int(sev) {
			w.Repeats++
			w.LastSeen = time.Now()
			settled := w.Settled
			mem.mu.Unlock()
			return true, settled, nil
		}
		wait := mem.sending[key]
		if wait == nil {
			if mem.sending == nil {
				mem.sending = map[string]chan struct{}{}
			}
			done := make(chan struct{})
			mem.sending[key] = done
			mem.mu.Unlock()
			return false, false, func() {
				mem.mu.Lock()
				delete(mem.sending, key)
				mem.mu.Unlock()
				close(done)
			}
		}
		mem.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			// Duplicates beat silence: alert rather than wait out the time.
			return false, false, func() {}
		}
	}
}

// flush writes what is remembered for key to the table: first a claim's
// mark sent, then a window's repeats (added to the live window, if any).
func (mem *memory) flush(ctx context.Context, s *state.Store, key string) error {
	mem.mu.Lock()
	w, t := mem.windows[key], mem.sentUnmarked[key]
	var cp state.Window
	if w != nil {
		cp = *w
	}
	mem.mu.Unlock()
	if t.First {
		if err := s.Sent(ctx, t); err != nil && !errors.Is(err, state.ErrClaimLost) {
			return err
		}
		mem.mu.Lock()
		delete(mem.sentUnmarked, key)
		mem.mu.Unlock()
	}
	if w != nil {
		if err := s.RecordSent(ctx, cp); err != nil {
			return err
		}
		mem.mu.Lock()
		if w.Repeats == cp.Repeats {
			delete(mem.windows, key)
		} else {
			w.Repeats -= cp.Repeats // counted meanwhile: written next time
		}
		mem.mu.Unlock()
	}
	return nil
}

// flushAll writes everything remembered (the sweep calls it).
func (mem *memory) flushAll(ctx context.Context, s *state.Store) error {
	mem.mu.Lock()
	var keys []string
	for k := range mem.windows {
		keys = append(keys, k)
	}
	for k := range mem.sentUnmarked {
		keys = append(keys, k)
	}
	mem.mu.Unlock()
	var errs []error
	for _, k := range keys {
		errs = append(errs, mem.flush(ctx, s, k))
	}
	return errors.Join(errs...)
}

// deadlineOr is ctx's deadline, or def when it has none.
func deadlineOr(ctx context.Context, def time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return def
}

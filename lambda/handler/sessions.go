package handler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// Sessions (README, "Sessions in the function"). A genuine CreateSession is
// indexed in the state table by the access key it returned; a zonal call
// signed with that key is tied to it: its alert carries the session, the
// quarantine names the issuer's role ARN (with its path) without
// iam:GetRole, and with SESSION_CHECK a call from another network than the
// session's is alerted as session-moved even when the allowlist allows it.
//
// The lookups stay off the table for most events: a session lives 5
// minutes and a client signs many calls with it, so each instance keeps
// what it read (or indexed) until the session's expiry, and a key with no
// session for missTTL. A call may be handled before its CreateSession
// (EventBridge does not order events, and another instance may be indexing
// it): it is then not attributed, never held back, and the next lookup
// after missTTL finds the session.
const (
	// maxCachedSessions bounds one instance's cache (a few hundred bytes
	// each: a few MB at most).
	maxCachedSessions = 10000
	// missTTL is how long a key without an indexed session is remembered.
	missTTL = 10 * time.Second
	// lookupTimeout bounds one lookup, all SDK attempts included: a read
	// takes milliseconds when DynamoDB is well, and an allowed call must
	// not wait out the 15 s call budget when it is not.
	lookupTimeout = time.Second
	// indexTimeout bounds one session write (one per client per 5 minutes).
	indexTimeout = 2 * time.Second
	// lookupPause: after a failed lookup, an instance looks up nothing for
	// this long, so that a table that fails or hangs costs one slow call
	// per instance per pause, not one per event. The events meanwhile are
	// handled as if their session were unknown (fail open: allowed calls
	// pass, alerts go out without the session object).
	lookupPause = 5 * time.Second
)

// errLookupPaused means a lookup was skipped after a recent failure.
var errLookupPaused = errors.New("session lookups paused after a failure")

// sessionCache is one instance's memory of the session index.
type sessionCache struct {
	mu      sync.Mutex
	entries map[string]cachedSession
	paused  time.Time // no lookups before this
	// inflight are the reads under way: the messages of one batch that
	// look up the same key wait for one read.
	inflight map[string]*read
}

type read struct {
	done chan struct{}
	s    *session.Session
	err  error
}

type cachedSession struct {
	s     *session.Session // nil: no session indexed for the key
	until time.Time
}

func (c *sessionCache) get(key string, now time.Time) (cachedSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok && now.Before(e.until)
}

// put remembers an entry; when full, it drops the expired entries and, if
// that is not enough, an arbitrary half (Go's map order).
func (c *sessionCache) put(key string, e cachedSession, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedSession{}
	}
	if old, ok := c.entries[key]; ok && e.s == nil && old.s != nil && now.Before(old.until) {
		return // a read that missed does not hide a session indexed meanwhile
	}
	if len(c.entries) >= maxCachedSessions {
		for k, v := range c.entries {
			if !now.Before(v.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < maxCachedSessions/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}

// lookup returns the session indexed for key (nil when none), from the
// cache or the table.
func (c *sessionCache) lookup(ctx context.Context, store *state.Store, key string) (*session.Session, error) {
	now := time.Now()
	if e, ok := c.get(key, now); ok {
		return e.s, nil
	}
	c.mu.Lock()
	if now.Before(c.paused) {
		c.mu.Unlock()
		return nil, errLookupPaused
	}
	if r := c.inflight[key]; r != nil {
		c.mu.Unlock()
		select {
		case <-r.done:
			return r.s, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r := &read{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = map[string]*read{}
	}
	c.inflight[key] = r
	c.mu.Unlock()

	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	s, exp, err := store.Session(lctx, key)
	cancel()
	r.s, r.err = s, err
	if err == nil {
		until := now.Add(missTTL)
		if s != nil {
			until = exp
		}
		c.put(key, cachedSession{s: s, until: until}, now)
	}
	c.mu.Lock()
	if err != nil {
		c.paused = time.Now().Add(lookupPause)
	}
	delete(c.inflight, key)
	c.mu.Unlock()
	close(r.done)
	return s, err
}

// sessions is the session step of one genuine event: index a CreateSession;
// attribute an alert on a zonal call; with SESSION_CHECK, make an allowed
// call from a moved session a session-moved alert. A table that fails
// never fails the event: the session is then unknown.
func (h *Handler) sessions(ctx context.Context, c *classified, log *slog.Logger, m *tally) {
	rec := c.rec
	if rec == nil {
		return
	}
	if s, key, ok := session.Created(rec); ok {
		// Only a record that passed the envelope gate gets here (c.rec):
		// a forged CreateSession plants nothing.
		h.sessionCache.put(key, cachedSession{s: s, until: state.SessionExpiry(parseTime(s.EventTime))}, time.Now())
		ictx, cancel := context.WithTimeout(ctx, indexTimeout)
		err := h.Store.PutSession(ictx, key, s)
		cancel()
		if err != nil {
			m.Errors++
			log.WarnContext(ctx, "session not indexed; other instances will not attribute its calls", "session", s.EventID, "error", err)
		}
		return
	}
	check := h.Config.SessionCheck != config.SessionOff
	if !session.Signed(rec) || c.alert == nil && !check {
		return
	}
	s, err := h.sessionCache.lookup(ctx, h.Store, rec.UserIdentity.AccessKeyID)
	if err != nil {
		m.SessionUnchecked++
		if !errors.Is(err, errLookupPaused) {
			log.WarnContext(ctx, "session lookup failed; events handled as if their session were unknown for "+lookupPause.String(), "error", err)
		}
		return
	}
	if s == nil {
		return
	}
	var why string
	moved := false
	if check {
		why, moved = h.Config.SessionTolerance.Moved(s, rec)
	}
	if a := c.alert; a != nil {
		a.Session = s
		if moved {
			a.Decision.Reasons = append(a.Decision.Reasons, why)
		}
		return
	}
	if !moved {
		return
	}
	// A stolen bearer token is the finding, whatever the operation and
	// whether it succeeded: rated high.
	a := c.draft
	a.Kind, a.Severity, a.Session = alert.KindSessionMoved, alert.High, s
	a.Decision.Verdict = rules.Unauthorized
	a.Decision.Reasons = append(a.Decision.Reasons, why)
	c.alert = a
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

package handler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/lambda/state"
)

// table is a state table in memory for the session items (GetItem, and
// PutItem with attribute_not_exists), counting calls; it fails or hangs
// reads on demand.
type table struct {
	mu         sync.Mutex
	items      map[string]map[string]types.AttributeValue
	gets, puts int
	getErr     error
	putErr     error
	hang       bool
	delay      time.Duration
}

func (t *table) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	t.mu.Lock()
	t.gets++
	err, hang := t.getErr, t.hang
	it := t.items[in.Key["pk"].(*types.AttributeValueMemberS).Value]
	t.mu.Unlock()
	time.Sleep(t.delay)
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: it}, nil
}

func (t *table) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.puts++
	if t.putErr != nil {
		return nil, t.putErr
	}
	if t.items == nil {
		t.items = map[string]map[string]types.AttributeValue{}
	}
	pk := in.Item["pk"].(*types.AttributeValueMemberS).Value
	if _, ok := t.items[pk]; ok && in.ConditionExpression != nil && *in.ConditionExpression == "attribute_not_exists(pk)" {
		return nil, &types.ConditionalCheckFailedException{}
	}
	t.items[pk] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (t *table) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("not used by the session step")
}

func (t *table) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errors.New("not used by the session step")
}

func (t *table) counts() (gets, puts int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gets, t.puts
}

func sessionHandler(t *testing.T, db *table, check config.SessionCheck) *Handler {
	h := testHandler(t)
	h.Config.SessionCheck, h.Config.SessionTolerance = check, session.DefaultTolerance
	h.Store = &state.Store{DB: db, Table: "t"}
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return h
}

// createSession is a CreateSession by role from ip that returned key;
// call is a zonal call of role signed with key from ip.
func createSession(role, key, ip string, edit func(map[string]any)) []byte {
	return event(role, "CreateSession", func(e map[string]any) {
		d := e["detail"].(map[string]any)
		d["eventID"], d["sourceIPAddress"] = "cs-"+key, ip
		d["eventTime"] = time.Now().UTC().Format(time.RFC3339)
		d["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": key}}
		d["userIdentity"].(map[string]any)["sessionContext"] = map[string]any{
			"sessionIssuer": map[string]any{"type": "Role", "arn": "arn:aws:iam::" + acct + ":role/app/" + role}}
		if edit != nil {
			edit(e)
		}
	})
}

func call(role, key, ip string) []byte {
	return event(role, "GetObject", func(e map[string]any) {
		d := e["detail"].(map[string]any)
		d["sourceIPAddress"] = ip
		d["userIdentity"].(map[string]any)["accessKeyId"] = key
	})
}

func step(h *Handler, in []byte) (classified, tally) {
	var m tally
	c := h.classify(in, "invoke")
	h.sessions(context.Background(), &c, h.Log, &m)
	return c, m
}

func TestSessionMoved(t *testing.T) {
	db := &table{}
	h := sessionHandler(t, db, config.SessionAlert)
	if c, _ := step(h, createSession("etl", "K1", "10.1.2.3", nil)); c.alert != nil {
		t.Fatalf("an allowed CreateSession alerted: %+v", c.alert)
	}
	if _, puts := db.counts(); puts != 1 {
		t.Fatalf("%d writes for one CreateSession; want 1", puts)
	}
	// Same network (same /24): allowed, nothing read (this instance
	// indexed the session itself).
	for range 5 {
		if c, _ := step(h, call("etl", "K1", "10.1.2.200")); c.alert != nil {
			t.Fatalf("same /24: alert %+v", c.alert)
		}
	}
	c, _ := step(h, call("etl", "K1", "203.0.113.9"))
	a := c.alert
	if a == nil || a.Kind != alert.KindSessionMoved || a.Severity != alert.High || a.Session == nil ||
		a.Session.Issuer != "arn:aws:iam::"+acct+":role/app/etl" || a.Decision.Rule != "etl" ||
		!strings.Contains(strings.Join(a.Decision.Reasons, "\n"), "session-moved: session cs-K1 created from 10.1.2.3, used from 203.0.113.9") {
		t.Fatalf("moved session: %+v", a)
	}
	if gets, _ := db.counts(); gets != 0 {
		t.Errorf("%d reads; want 0 (the instance remembers what it indexed)", gets)
	}
	if e := h.sessionCache.entries["K1"]; e.s == nil || e.until.After(time.Now().Add(20*time.Minute)) {
		t.Errorf("an indexed session is remembered until %v; want its expiry, at most 20 minutes from now", e.until)
	}

	// Another instance reads the table once per session, then its cache.
	h2 := sessionHandler(t, db, config.SessionAlert)
	for range 20 {
		step(h2, call("etl", "K1", "10.1.2.3"))
	}
	if gets, _ := db.counts(); gets != 1 {
		t.Errorf("another instance: %d reads for 20 calls of one session; want 1", gets)
	}
	// ... until the session's expiry only (its event time + 20 minutes).
	if e := h2.sessionCache.entries["K1"]; e.s == nil || e.until.After(time.Now().Add(20*time.Minute)) {
		t.Errorf("a read session is remembered until %v; want its expiry, at most 20 minutes from now", e.until)
	}
	// A key without a session: one read, then remembered for missTTL.
	for range 20 {
		if c, _ := step(h2, call("etl", "UNKNOWN", "203.0.113.9")); c.alert != nil {
			t.Fatalf("a call without an indexed session alerted: %+v", c.alert)
		}
	}
	if gets, _ := db.counts(); gets != 2 {
		t.Errorf("%d reads after 20 calls of an unknown key; want 2", gets)
	}
	// ... and for no more than 10 s, so a call handled before its
	// CreateSession is indexed does not hide the session for long.
	if e := h2.sessionCache.entries["UNKNOWN"]; e.s != nil || e.until.After(time.Now().Add(10*time.Second)) {
		t.Errorf("a key without a session is remembered until %v; want at most 10 s from now", e.until)
	}

	// The dedup key is the network the session was used from.
	c2, _ := step(h2, call("etl", "K1", "198.51.100.1"))
	if dedupKey(a, "") == dedupKey(c2.alert, "") || !strings.HasPrefix(dedupKey(a, ""), "session-moved|") {
		t.Errorf("dedup keys %q and %q; want one per network, of kind session-moved", dedupKey(a, ""), dedupKey(c2.alert, ""))
	}
	// ... and only that: the same theft read from the queue rather than
	// invoked directly is the same window (no input in the key).
	c3 := h2.classify(call("etl", "K1", "203.0.113.9"), "sqs:arn:aws:sqs:us-east-1:"+acct+":s3xguard")
	h2.sessions(context.Background(), &c3, h2.Log, &tally{})
	if c3.alert == nil || dedupKey(c3.alert, c3.class) != dedupKey(a, "") {
		t.Errorf("the same session-moved from the queue: %+v; want dedup key %q", c3.alert, dedupKey(a, ""))
	}
}

// A call the allowlist refuses, from another network than its session's,
// stays unauthorized and carries the session-moved reason; from the
// session's own network it carries none.
func TestUnauthorizedMovedReason(t *testing.T) {
	db := &table{}
	step(sessionHandler(t, db, config.SessionAlert), createSession("writer", "K6", "10.1.2.3", nil))
	h := sessionHandler(t, db, config.SessionAlert)
	c, _ := step(h, call("writer", "K6", "203.0.113.9"))
	if c.alert == nil || c.alert.Kind != alert.KindUnauthorized || c.alert.Session == nil ||
		!strings.Contains(strings.Join(c.alert.Decision.Reasons, "\n"), "session-moved: session cs-K6 created from 10.1.2.3, used from 203.0.113.9") {
		t.Fatalf("unauthorized call from a moved session: %+v", c.alert)
	}
	if c, _ := step(h, call("writer", "K6", "10.1.2.9")); c.alert == nil || c.alert.Session == nil ||
		strings.Contains(strings.Join(c.alert.Decision.Reasons, "\n"), "session-moved") {
		t.Fatalf("unauthorized call from the session's network: %+v", c.alert)
	}
}

// Only a call a session may have signed (an S3 Express call with an
// access key, not CreateSession) is looked up: others cost no read.
func TestUnsignedNotLookedUp(t *testing.T) {
	db := &table{}
	h := sessionHandler(t, db, config.SessionAlert)
	unsigned := event("etl", "GetObject", nil) // no userIdentity.accessKeyId
	for range 3 {
		if c, m := step(h, unsigned); c.alert != nil || m.SessionUnchecked != 0 {
			t.Fatalf("unsigned call: %+v, %+v", c.alert, m)
		}
	}
	if gets, _ := db.counts(); gets != 0 {
		t.Fatalf("%d reads for calls no session signed; want 0", gets)
	}
}

// A session write that fails is counted in Errors and fails nothing.
func TestSessionIndexFailureCounted(t *testing.T) {
	db := &table{putErr: errors.New("injected")}
	c, m := step(sessionHandler(t, db, config.SessionAlert), createSession("etl", "K8", "10.1.2.3", nil))
	if c.alert != nil || m.Errors != 1 {
		t.Fatalf("failed session write: alert %+v, Errors %d; want no alert, 1 error", c.alert, m.Errors)
	}
}

// SESSION_CHECK=off: allowed calls cost no lookup; an unauthorized call is
// still attributed (issuer for the quarantine), without session-moved.
func TestSessionCheckOff(t *testing.T) {
	db := &table{}
	h := sessionHandler(t, db, config.SessionOff)
	step(h, createSession("writer", "K2", "10.1.2.3", nil))
	h = sessionHandler(t, db, config.SessionOff) // a fresh instance
	if c, _ := step(h, call("etl", "K2", "203.0.113.9")); c.alert != nil {
		t.Fatalf("check off: alert %+v", c.alert)
	}
	if gets, _ := db.counts(); gets != 0 {
		t.Fatalf("check off: %d reads for an allowed call; want 0", gets)
	}
	c, _ := step(h, call("writer", "K2", "203.0.113.9"))
	if c.alert == nil || c.alert.Kind != alert.KindUnauthorized || c.alert.Session == nil ||
		c.alert.Session.Issuer != "arn:aws:iam::"+acct+":role/app/writer" || strings.Contains(strings.Join(c.alert.Decision.Reasons, ""), "session-moved") {
		t.Fatalf("unauthorized with check off: %+v", c.alert)
	}
}

// Only a genuine event indexes a session: a forged CreateSession (another
// account in the envelope, a bare record, another source) plants nothing,
// so it can neither fake a theft nor hide one.
func TestForgedCreateSessionPlantsNothing(t *testing.T) {
	db := &table{}
	h := sessionHandler(t, db, config.SessionEnforce)
	for name, in := range map[string][]byte{
		"other account": createSession("etl", "K3", "203.0.113.9", func(e map[string]any) { e["account"] = "210987654321" }),
		"other source":  createSession("etl", "K3", "203.0.113.9", func(e map[string]any) { e["source"] = "my.app" }),
		"other recipient": createSession("etl", "K3", "203.0.113.9", func(e map[string]any) {
			e["detail"].(map[string]any)["recipientAccountId"] = "210987654321"
		}),
	} {
		if c, _ := step(h, in); c.alert == nil || c.alert.Kind != alert.KindForged {
			t.Errorf("%s: not alerted as forged", name)
		}
	}
	if _, puts := db.counts(); puts != 0 {
		t.Fatalf("forged CreateSessions wrote %d items; want none", puts)
	}
	// The genuine one, from 10.0.0.0/8, and a use from the same network:
	// a forgery sent before it did not move where it was created from.
	step(h, createSession("etl", "K3", "10.1.2.3", nil))
	if c, _ := step(sessionHandler(t, db, config.SessionEnforce), call("etl", "K3", "10.1.2.4")); c.alert != nil {
		t.Fatalf("after forged CreateSessions: %+v", c.alert)
	}
}

// A table that fails or hangs never fails the event and never holds back
// an alert: allowed calls pass unchecked (counted), alerts go out without
// the session, and after one failure the instance stops asking for a
// while, so a hanging table costs one slow lookup, not one per event.
func TestSessionLookupFaults(t *testing.T) {
	for _, fault := range []string{"error", "hang"} {
		db := &table{}
		step(sessionHandler(t, db, config.SessionAlert), createSession("etl", "K4", "10.1.2.3", nil))
		h := sessionHandler(t, db, config.SessionAlert)
		db.getErr, db.hang = errors.New("injected"), fault == "hang"
		var unchecked int
		for range 10 {
			c, m := step(h, call("etl", "K4", "203.0.113.9"))
			if c.alert != nil {
				t.Fatalf("%s: an allowed call alerted without its session: %+v", fault, c.alert)
			}
			unchecked += m.SessionUnchecked
		}
		c, m := step(h, call("writer", "K4", "203.0.113.9"))
		if c.alert == nil || c.alert.Kind != alert.KindUnauthorized || c.alert.Session != nil {
			t.Fatalf("%s: unauthorized call: %+v; want its alert, without session", fault, c.alert)
		}
		unchecked += m.SessionUnchecked
		if gets, _ := db.counts(); gets != 1 || unchecked != 11 {
			t.Fatalf("%s: %d reads, %d unchecked for 11 calls; want 1 read (then paused), 11 unchecked", fault, gets, unchecked)
		}
		// After the pause, the table is asked again.
		db.getErr, db.hang = nil, false
		h.sessionCache.mu.Lock()
		h.sessionCache.paused = time.Now()
		h.sessionCache.mu.Unlock()
		if c, _ := step(h, call("etl", "K4", "203.0.113.9")); c.alert == nil || c.alert.Kind != alert.KindSessionMoved {
			t.Fatalf("%s: after the pause: %+v; want session-moved", fault, c.alert)
		}
	}
}

// A moved session is quarantined only with SESSION_CHECK=enforce.
func TestSessionMovedRespond(t *testing.T) {
	h := &Handler{Config: &config.Config{Mode: config.ModeEnforce, SessionCheck: config.SessionAlert, AccountID: acct, Region: "us-east-1"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := here
	rec.Bucket = "data--use1-az4--x-s3"
	a := &alert.Alert{Kind: alert.KindSessionMoved, Record: &rec}
	r, _ := h.respond(context.Background(), a, &tally{}, h.Log)
	if r.Action != alert.ActionAlertOnly || r.Detail != "SESSION_CHECK=alert: a moved session is alerted, not quarantined" {
		t.Fatalf("SESSION_CHECK=alert: %+v", r)
	}
	h.Config.Mode, h.Config.SessionCheck = config.ModeAlert, config.SessionEnforce
	if r, _ := h.respond(context.Background(), a, &tally{}, h.Log); r.Action != alert.ActionAlertOnly || r.Detail != "" {
		t.Fatalf("SESSION_CHECK=enforce, RESPONSE_MODE=alert: %+v; want alert only", r)
	}
}

func TestSessionCacheBounded(t *testing.T) {
	var c sessionCache
	now := time.Now()
	for i := range 3 * maxCachedSessions {
		c.put(strings.Repeat("k", 1+i%7)+string(rune(i)), cachedSession{until: now.Add(time.Minute)}, now)
	}
	if n := len(c.entries); n > maxCachedSessions {
		t.Fatalf("%d entries; want at most %d", n, maxCachedSessions)
	}
}

// The messages of one batch that look up one key wait for a single read;
// a read that missed never hides a session indexed meanwhile.
func TestSessionLookupOnce(t *testing.T) {
	db := &table{}
	step(sessionHandler(t, db, config.SessionAlert), createSession("etl", "K5", "10.1.2.3", nil))
	db.delay = 50 * time.Millisecond
	h := sessionHandler(t, db, config.SessionAlert)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { step(h, call("etl", "K5", "203.0.113.9")) })
	}
	wg.Wait()
	if gets, _ := db.counts(); gets != 1 {
		t.Fatalf("8 concurrent lookups of one key: %d reads; want 1", gets)
	}
	now := time.Now()
	s := &session.Session{EventID: "cs"}
	h.sessionCache.put("K6", cachedSession{s: s, until: now.Add(time.Minute)}, now)
	h.sessionCache.put("K6", cachedSession{until: now.Add(missTTL)}, now)
	if e, ok := h.sessionCache.get("K6", now); !ok || e.s != s {
		t.Fatalf("a miss replaced an indexed session: %+v", e)
	}
}

package state

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The delivery protocol. One item per dedup key ("dedup#KEY") says whether
// the window's alert was sent, not only claimed:
//
//	(none) ──Dedup──> claimed(owner, lease) ──Sent──> sent ──(window ends)──> (none)
//	                      │ Release: publish failed ──> previous item, or (none)
//	                      └ lease ran out (crash, hang): the next Dedup takes it over
//
// Only a sent window counts repeats. A Dedup that meets a live claim (another
// instance is sending right now) waits for it to be sent or expire, and
// reports ErrInFlight when it cannot wait longer, so that the event is
// retried rather than counted against an alert that may never go out. A
// higher severity than the window's first alert replaces the window: it is
// sent at once and opens its own window.
//
// A window also says whether the quarantine its key calls for is in force
// ("settled"). Counting a repeat only saves a page; it must not save the
// attacker from the quarantine. A repeat of an unsettled window (the first
// alert was about a denied probe, or its quarantine failed, was refused by
// the breaker or is pending) still reaches the quarantine decision, and
// the window is settled (Settle) once a decision ends in force.

// Claim states.
const (
	claimed = "claimed"
	sent    = "sent"
)

// MinLease is the shortest claim lease: a claim written with no time left
// must still expire in the future, not at once or in the past (Powertools
// idempotency issue #4759: a claim written with 0 ms remaining never
// expired).
const MinLease = time.Second

// ErrInFlight means another instance holds a live claim on the key and has
// not sent its alert yet: retry the event later. It is never counted.
var ErrInFlight = errors.New("state: alert in flight on another instance")

// Window is one dedup window: the alerts for one key (principal, bucket,
// source) between Start and End, the first sent, the Repeats counted.
type Window struct {
	Key      string
	Start    time.Time
	End      time.Time
	Repeats  int64
	Severity int
	Subject  string // the first alert's subject, for the summary
	Attrs    map[string]string
	LastSeen time.Time
	// Settled: the quarantine the key calls for is in force.
	Settled bool
}

// pendingPK is the item listing windows that counted repeats and owe a
// summary: a string set of "END|KEY|START" entries.
const pendingPK = "pending-summaries"

// Claim asks Dedup for one alert's window.
type Claim struct {
	Key      string
	Severity int
	Window   time.Duration
	// Lease is how long the claim holds if its holder never reports: at
	// least MinLease, and shorter than the function's timeout so that the
	// retry of a crashed or timed-out attempt can take it over.
	Lease   time.Duration
	Subject string
	Attrs   map[string]string
	// Wait bounds how long Dedup waits for another instance's live claim.
	Wait time.Duration
}

// Ticket is the outcome of Dedup.
type Ticket struct {
	// First is set when the caller owns the window's claim: send the alert,
	// then call Sent (or Release if it could not be sent). Otherwise the
	// event was counted as a repeat of a sent alert.
	First bool
	// TookOver is set when the claim replaced an expired, unsent claim: an
	// earlier attempt may have published before it died.
	TookOver bool
	// Escalated is set when the claim replaced a sent window of lower
	// severity.
	Escalated bool
	// Prev is the ended (or escalated) window this one replaced, when its
	// repeats were never summarized: the new alert carries its count.
	Prev *Window
	// Settled, on a repeat, says the window's quarantine is in force: the
	// repeat needs no decision of its own. On a claim, the caller sets it
	// before Sent when the alert's response put the quarantine in force.
	Settled bool

	key   string
	start int64
	owner string
	old   item
}

// WindowStart is when the claimed window started: with its key, it names
// the window (Window.Start) for as long as it lives.
func (t Ticket) WindowStart() time.Time { return time.UnixMilli(t.start) }

// Dedup claims the window for c.Key or counts a repeat of its sent alert.
// The first writer wins a conditional put, so exactly one instance sends,
// however many race.
func (s *Store) Dedup(ctx context.Context, c Claim) (Ticket, error) {
	if c.Lease < MinLease {
		c.Lease = MinLease
	}
	owner := newOwner()
	wait := time.Now().Add(c.Wait)
	delay := 20 * time.Millisecond
	for {
		t, won, err := s.claim(ctx, c, owner)
		if err != nil || won {
			return t, err
		}
		rep, counted, err := s.count(ctx, c)
		if err != nil || counted {
			return rep, err
		}
		// A live claim of at least our severity: someone is sending now.
		if time.Now().Add(delay).After(wait) {
			return Ticket{}, fmt.Errorf("dedup %s: %w", c.Key, ErrInFlight)
		}
		select {
		case <-ctx.Done():
			return Ticket{}, fmt.Errorf("state: dedup %s: %w", c.Key, ctx.Err())
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// claim writes a claim when the key has no live window, an expired unsent
// claim, or a window of lower severity.
func (s *Store) claim(ctx context.Context, c Claim, owner string) (Ticket, bool, error) {
	now := s.now()
	it := item{
		"pk":       str("dedup#" + c.Key),
		"status":   str(claimed),
		"owner":    str(owner),
		"lease":    num(now.Add(c.Lease).UnixMilli()),
		"start":    num(now.UnixMilli()),
		"end":      num(now.Add(c.Window).UnixMilli()),
		"expires":  num(now.Add(c.Window).Add(24 * time.Hour).Unix()),
		"repeats":  num(0),
		"sev":      num(int64(c.Severity)),
		"subject":  str(c.Subject),
		"lastSeen": num(now.UnixMilli()),
	}
	for k, v := range c.Attrs {
		it["a_"+k] = str(v)
	}
	out, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.Table,
		Item:      it,
		// "#owner = :me": the SDK retrying this very put after its answer
		// was lost finds its own claim.
		ConditionExpression: aws.String("attribute_not_exists(pk) OR #end <= :now" +
			" OR (#status = :claimed AND #lease <= :now) OR #sev < :sev OR #owner = :me"),
		ExpressionAttributeNames: map[string]string{"#end": "end", "#status": "status", "#lease": "lease", "#sev": "sev", "#owner": "owner"},
		ExpressionAttributeValues: item{":now": num(now.UnixMilli()), ":claimed": str(claimed),
			":sev": num(int64(c.Severity)), ":me": str(owner)},
		ReturnValues: types.ReturnValueAllOld,
	})
	if conditionFailed(err) {
		return Ticket{}, false, nil
	}
	if err != nil {
		return Ticket{}, false, fmt.Errorf("state: dedup %s: claim: %w", c.Key, err)
	}
	t := Ticket{First: true, key: c.Key, start: now.UnixMilli(), owner: owner, old: out.Attributes}
	if getS(t.old, "owner") == owner {
		t.old = nil // our own claim, put again: what it replaced is gone
	}
	if old := t.old; len(old) > 0 {
		switch {
		case getS(old, "status") == claimed:
			// Expired (else only a higher severity replaces it): its
			// holder may have published before it died.
			t.TookOver = getN(old, "lease") <= now.UnixMilli()
		case getN(old, "end") > now.UnixMilli():
			t.Escalated = true
		}
		if w := windowOf(old); w != nil && w.Repeats > 0 && old["sumSent"] == nil {
			t.Prev = w
		}
	}
	return t, true, nil
}

// count adds a repeat to a live, sent window of at least c.Severity, and
// returns it as a ticket (not First) that names the window and says
// whether it is settled. Windows written before the protocol had a status
// count as sent.
func (s *Store) count(ctx context.Context, c Claim) (Ticket, bool, error) {
	now := s.now()
	up, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &s.Table,
		Key:              key("dedup#" + c.Key),
		UpdateExpression: aws.String("ADD repeats :one SET lastSeen = :now"),
		ConditionExpression: aws.String("#end > :now AND (#status = :sent OR attribute_not_exists(#status))" +
			" AND (#sev >= :sev OR attribute_not_exists(#sev))"),
		ExpressionAttributeNames: map[string]string{"#end": "end", "#status": "status", "#sev": "sev"},
		ExpressionAttributeValues: item{":one": num(1), ":now": num(now.UnixMilli()), ":sent": str(sent),
			":sev": num(int64(c.Severity))},
		ReturnValues: types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return Ticket{}, false, nil
	}
	if err != nil {
		return Ticket{}, false, fmt.Errorf("state: dedup %s: count repeat: %w", c.Key, err)
	}
	w := windowOf(up.Attributes)
	if w != nil && w.Repeats == 1 {
		if err := s.addPending(ctx, w); err != nil {
			return Ticket{}, false, err
		}
	}
	t := Ticket{key: c.Key}
	if w != nil {
		t.start, t.Settled = w.Start.UnixMilli(), w.Settled
	}
	return t, true, nil
}

// Settle records that the quarantine t's window calls for is in force, so
// that its later repeats are only counted. It changes nothing when the
// window has been replaced since.
func (s *Store) Settle(ctx context.Context, t Ticket) error {
	if t.key == "" {
		return nil
	}
	w := &Window{Key: t.key, Start: t.WindowStart()}
	if err := s.updateWindow(ctx, w, "SET settled = :t", item{":t": &types.AttributeValueMemberBOOL{Value: true}}); err != nil {
		return fmt.Errorf("state: dedup %s: settle: %w", t.key, err)
	}
	return nil
}

// ErrClaimLost means the claim's lease ran out and another attempt took it
// over before this one reported its alert sent: that attempt sends too.
var ErrClaimLost = errors.New("state: claim taken over after its lease ran out")

// Sent marks the ticket's window sent: from now on it counts repeats.
func (s *Store) Sent(ctx context.Context, t Ticket) error {
	if !t.First || t.key == "" {
		return nil
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &s.Table,
		Key:              key("dedup#" + t.key),
		UpdateExpression: aws.String("SET #status = :sent, sentAt = :now, sentBy = :me, settled = :settled REMOVE #lease, #owner"),
		// sentBy: a retry of this update whose answer was lost finds it done.
		ConditionExpression:      aws.String("#owner = :me OR (#status = :sent AND sentBy = :me)"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#lease": "lease", "#owner": "owner"},
		ExpressionAttributeValues: item{":sent": str(sent), ":now": num(s.now().UnixMilli()), ":me": str(t.owner),
			":settled": &types.AttributeValueMemberBOOL{Value: t.Settled}},
	})
	if conditionFailed(err) {
		return fmt.Errorf("dedup %s: %w", t.key, ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("state: dedup %s: mark sent: %w", t.key, err)
	}
	return nil
}

// Release takes back a claim whose alert could not be sent, restoring the
// window it replaced, so that the retry sends rather than counts. A claim
// that cannot be released expires with its lease.
func (s *Store) Release(ctx context.Context, t Ticket) error {
	if !t.First || t.key == "" {
		return nil
	}
	names := map[string]string{"#owner": "owner"}
	values := item{":me": str(t.owner)}
	var err error
	if len(t.old) > 0 {
		_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: t.old,
			ConditionExpression: aws.String("#owner = :me"), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	} else {
		_, err = s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: key("dedup#" + t.key),
			ConditionExpression: aws.String("#owner = :me"), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	}
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: dedup %s: release claim: %w", t.key, err)
	}
	return nil
}

// Abandon gives up a claim whose alert may have been published (the
// publish was sent and its answer lost or late): its lease ends now, so
// the retry takes it over at once (TookOver: its alert may repeat one
// already delivered), rather than send unflagged after a Release.
func (s *Store) Abandon(ctx context.Context, t Ticket) error {
	if !t.First || t.key == "" {
		return nil
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + t.key),
		UpdateExpression:          aws.String("SET #lease = :now"),
		ConditionExpression:       aws.String("#owner = :me"),
		ExpressionAttributeNames:  map[string]string{"#lease": "lease", "#owner": "owner"},
		ExpressionAttributeValues: item{":now": num(s.now().UnixMilli()), ":me": str(t.owner)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: dedup %s: abandon claim: %w", t.key, err)
	}
	return nil
}

// RecordSent writes a window whose alert was sent while the table could
// not be reached, so that later events of the key count as its repeats.
// When the key has a live sent window already, the repeats counted in w
// are added to it instead.
func (s *Store) RecordSent(ctx context.Context, w Window) error {
	now := s.now()
	it := item{
		"pk":       str("dedup#" + w.Key),
		"status":   str(sent),
		"start":    num(w.Start.UnixMilli()),
		"end":      num(w.End.UnixMilli()),
		"expires":  num(w.End.Add(24 * time.Hour).Unix()),
		"repeats":  num(w.Repeats),
		"sev":      num(int64(w.Severity)),
		"subject":  str(w.Subject),
		"lastSeen": num(w.LastSeen.UnixMilli()),
		"sentAt":   num(w.Start.UnixMilli()),
		"settled":  &types.AttributeValueMemberBOOL{Value: w.Settled},
	}
	for k, v := range w.Attrs {
		it["a_"+k] = str(v)
	}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &s.Table,
		Item:                      it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #end <= :now"),
		ExpressionAttributeNames:  map[string]string{"#end": "end"},
		ExpressionAttributeValues: item{":now": num(now.UnixMilli())},
	})
	if conditionFailed(err) {
		return s.addRepeats(ctx, w.Key, w.Repeats)
	}
	if err != nil {
		return fmt.Errorf("state: dedup %s: record sent window: %w", w.Key, err)
	}
	if w.Repeats > 0 {
		return s.addPending(ctx, &w)
	}
	return nil
}

// addRepeats adds n repeats to the key's live sent window, if it has one.
func (s *Store) addRepeats(ctx context.Context, k string, n int64) error {
	if n == 0 {
		return nil
	}
	now := s.now()
	up, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + k),
		UpdateExpression:          aws.String("ADD repeats :n SET lastSeen = :now"),
		ConditionExpression:       aws.String("#end > :now AND (#status = :sent OR attribute_not_exists(#status))"),
		ExpressionAttributeNames:  map[string]string{"#end": "end", "#status": "status"},
		ExpressionAttributeValues: item{":n": num(n), ":now": num(now.UnixMilli()), ":sent": str(sent)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return nil // another instance's claim, unsent: nothing to add to
	}
	if err != nil {
		return fmt.Errorf("state: dedup %s: add %d repeats: %w", k, n, err)
	}
	if w := windowOf(up.Attributes); w != nil && w.Repeats == n {
		return s.addPending(ctx, w)
	}
	return nil
}

func newOwner() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func windowOf(it item) *Window {
	pk := getS(it, "pk")
	if !strings.HasPrefix(pk, "dedup#") {
		return nil
	}
	w := &Window{
		Key:      strings.TrimPrefix(pk, "dedup#"),
		Start:    time.UnixMilli(getN(it, "start")),
		End:      time.UnixMilli(getN(it, "end")),
		Repeats:  getN(it, "repeats"),
		Severity: int(getN(it, "sev")),
		Subject:  getS(it, "subject"),
		LastSeen: time.UnixMilli(getN(it, "lastSeen")),
		Attrs:    map[string]string{},
	}
	if b, ok := it["settled"].(*types.AttributeValueMemberBOOL); ok {
		w.Settled = b.Value
	}
	for name := range it {
		if a, ok := strings.CutPrefix(name, "a_"); ok {
			w.Attrs[a] = getS(it, name)
		}
	}
	return w
}

func pendingEntry(w *Window) string {
	return fmt.Sprintf("%d|%s|%d", w.End.UnixMilli(), w.Key, w.Start.UnixMilli())
}

// parsePending reads an entry of pendingEntry; the key itself may hold "|".
func parsePending(e string) (*Window, bool) {
	endS, rest, ok1 := strings.Cut(e, "|")
	i := strings.LastIndexByte(rest, '|')
	if !ok1 || i < 0 {
		return nil, false
	}
	end, err1 := strconv.ParseInt(endS, 10, 64)
	start, err2 := strconv.ParseInt(rest[i+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &Window{Key: rest[:i], Start: time.UnixMilli(start), End: time.UnixMilli(end)}, true
}

func (s *Store) addPending(ctx context.Context, w *Window) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key(pendingPK),
		UpdateExpression:          aws.String("ADD due :e"),
		ExpressionAttributeValues: item{":e": &types.AttributeValueMemberSS{Value: []string{pendingEntry(w)}}},
	})
	if err != nil {
		return fmt.Errorf("state: note pending summary for %s: %w", w.Key, err)
	}
	return nil
}

// DueSummaries returns the windows that have ended with repeats and owe a
// summary, oldest first. Claim each before sending it.
func (s *Store) DueSummaries(ctx context.Context) ([]*Window, error) {
	it, err := s.get(ctx, pendingPK)
	if err != nil {
		return nil, err
	}
	set, _ := it["due"].(*types.AttributeValueMemberSS)
	if set == nil {
		return nil, nil
	}
	now := s.now().UnixMilli()
	var due []*Window
	for _, e := range set.Value {
		w, ok := parsePending(e)
		if ok && w.End.UnixMilli() <= now {
			due = append(due, w)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].End.Before(due[j].End) })
	return due, nil
}

// ClaimSummary claims the window's summary for lease and returns the window
// with its final count. ok is false when the summary was sent, another
// instance holds a live claim on it, or a new window replaced it (whose
// first alert then carried the count). A claim whose holder died expires
// with its lease, so the next sweep sends the summary.
func (s *Store) ClaimSummary(ctx context.Context, w *Window, lease time.Duration) (claimed *Window, ok bool, err error) {
	now := s.now()
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &s.Table,
		Key:              key("dedup#" + w.Key),
		UpdateExpression: aws.String("SET sumLease = :lease"),
		ConditionExpression: aws.String("#start = :start AND attribute_not_exists(sumSent)" +
			" AND (attribute_not_exists(sumLease) OR sumLease <= :now)"),
		ExpressionAttributeNames: map[string]string{"#start": "start"},
		ExpressionAttributeValues: item{":lease": num(now.Add(max(lease, MinLease)).UnixMilli()),
			":start": num(w.Start.UnixMilli()), ":now": num(now.UnixMilli())},
		ReturnValues: types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		it, err := s.get(ctx, "dedup#"+w.Key)
		if err != nil {
			return nil, false, err
		}
		if getN(it, "start") == w.Start.UnixMilli() && it["sumSent"] == nil {
			return nil, false, nil // another sweep is sending it: leave it pending
		}
		return nil, false, s.DonePending(ctx, w)
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: claim summary %s: %w", w.Key, err)
	}
	return windowOf(out.Attributes), true, nil
}

// SummarySent marks the window's summary sent and drops it from the
// pending summaries.
func (s *Store) SummarySent(ctx context.Context, w *Window) error {
	err := s.updateWindow(ctx, w, "SET sumSent = :t REMOVE sumLease", item{":t": &types.AttributeValueMemberBOOL{Value: true}})
	if err != nil {
		return fmt.Errorf("state: summary %s sent: %w", w.Key, err)
	}
	return s.DonePending(ctx, w)
}

// UnclaimSummary gives back a summary claim that could not be sent, so a
// later sweep sends it.
func (s *Store) UnclaimSummary(ctx context.Context, w *Window) error {
	if err := s.updateWindow(ctx, w, "REMOVE sumLease", item{}); err != nil {
		return fmt.Errorf("state: unclaim summary %s: %w", w.Key, err)
	}
	return nil
}

// updateWindow updates w's item if it is still the same window.
func (s *Store) updateWindow(ctx context.Context, w *Window, expr string, values item) error {
	values[":start"] = num(w.Start.UnixMilli())
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + w.Key),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#start = :start"),
		ExpressionAttributeNames:  map[string]string{"#start": "start"},
		ExpressionAttributeValues: values,
	})
	if conditionFailed(err) {
		return nil
	}
	return err
}

// DonePending removes the window from the pending summaries.
func (s *Store) DonePending(ctx context.Context, w *Window) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key(pendingPK),
		UpdateExpression:          aws.String("DELETE due :e"),
		ExpressionAttributeValues: item{":e": &types.AttributeValueMemberSS{Value: []string{pendingEntry(w)}}},
	})
	if err != nil {
		return fmt.Errorf("state: drop pending summary for %s: %w", w.Key, err)
	}
	return nil
}

package state

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Window is one dedup window: the alerts for one key (principal, bucket,
// source) between Start and End, the first sent, the Repeats counted.
type Window struct {
	Key      string
	Start    time.Time
	End      time.Time
	Repeats  int64
	Subject  string // the first alert's subject, for the summary
	Attrs    map[string]string
	LastSeen time.Time
}

// pendingPK is the item listing windows that counted repeats and owe a
// summary: a string set of "END|KEY|START" entries.
const pendingPK = "pending-summaries"

// Ticket is the outcome of Dedup.
type Ticket struct {
	// First is set for the first alert of a new window: send it now.
	// Otherwise the repeat was counted.
	First bool
	// Prev is the ended window this one replaced, when its repeats were
	// never summarized: the new alert carries its count.
	Prev *Window

	key   string
	start int64
	old   item
}

// Dedup records one alert for key. The first writer wins a conditional put
// (no live window for the key), so exactly one instance sends, however
// many race. If the first alert cannot be sent, call Undo so that the
// retry sends it.
func (s *Store) Dedup(ctx context.Context, k string, window time.Duration, subject string, attrs map[string]string) (Ticket, error) {
	now := s.now()
	it := item{
		"pk":       str("dedup#" + k),
		"start":    num(now.UnixMilli()),
		"end":      num(now.Add(window).UnixMilli()),
		"expires":  num(now.Add(window).Add(24 * time.Hour).Unix()),
		"repeats":  num(0),
		"subject":  str(subject),
		"lastSeen": num(now.UnixMilli()),
	}
	for k, v := range attrs {
		it["a_"+k] = str(v)
	}
	out, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &s.Table,
		Item:                      it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #end <= :now"),
		ExpressionAttributeNames:  map[string]string{"#end": "end"},
		ExpressionAttributeValues: item{":now": num(now.UnixMilli())},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if err == nil {
		t := Ticket{First: true, key: k, start: now.UnixMilli(), old: out.Attributes}
		if old := windowOf(out.Attributes); old != nil && old.Repeats > 0 && out.Attributes["summarized"] == nil {
			t.Prev = old
		}
		return t, nil
	}
	if !conditionFailed(err) {
		return Ticket{}, fmt.Errorf("state: dedup %s: %w", k, err)
	}
	up, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + k),
		UpdateExpression:          aws.String("ADD repeats :one SET lastSeen = :now"),
		ConditionExpression:       aws.String("#end > :now"),
		ExpressionAttributeNames:  map[string]string{"#end": "end"},
		ExpressionAttributeValues: item{":one": num(1), ":now": num(now.UnixMilli())},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		// The window ended between the two writes: start a new one.
		return s.Dedup(ctx, k, window, subject, attrs)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("state: dedup %s: count repeat: %w", k, err)
	}
	if w := windowOf(up.Attributes); w != nil && w.Repeats == 1 {
		if err := s.addPending(ctx, w); err != nil {
			return Ticket{}, err
		}
	}
	return Ticket{}, nil
}

// Undo takes back the window a first alert opened (and restores the one it
// replaced), unless other repeats have been counted in it since.
func (s *Store) Undo(ctx context.Context, t Ticket) error {
	if !t.First || t.key == "" { // nothing recorded
		return nil
	}
	cond := &dynamodb.DeleteItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + t.key),
		ConditionExpression:       aws.String("#start = :start"),
		ExpressionAttributeNames:  map[string]string{"#start": "start"},
		ExpressionAttributeValues: item{":start": num(t.start)},
	}
	var err error
	if len(t.old) > 0 {
		_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: t.old,
			ConditionExpression: cond.ConditionExpression, ExpressionAttributeNames: cond.ExpressionAttributeNames,
			ExpressionAttributeValues: cond.ExpressionAttributeValues})
	} else {
		_, err = s.DB.DeleteItem(ctx, cond)
	}
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: undo dedup %s: %w", t.key, err)
	}
	return nil
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
		Subject:  getS(it, "subject"),
		LastSeen: time.UnixMilli(getN(it, "lastSeen")),
		Attrs:    map[string]string{},
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

// ClaimSummary marks the window summarized and returns it with its final
// count. ok is false when another instance claimed it, or a new window
// replaced it (whose first alert then carried the summary).
func (s *Store) ClaimSummary(ctx context.Context, w *Window) (claimed *Window, ok bool, err error) {
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + w.Key),
		UpdateExpression:          aws.String("SET summarized = :t"),
		ConditionExpression:       aws.String("#start = :start AND attribute_not_exists(summarized)"),
		ExpressionAttributeNames:  map[string]string{"#start": "start"},
		ExpressionAttributeValues: item{":t": &types.AttributeValueMemberBOOL{Value: true}, ":start": num(w.Start.UnixMilli())},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return nil, false, s.DonePending(ctx, w)
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: claim summary %s: %w", w.Key, err)
	}
	return windowOf(out.Attributes), true, nil
}

// UnclaimSummary undoes ClaimSummary when the summary could not be sent,
// so a later sweep sends it.
func (s *Store) UnclaimSummary(ctx context.Context, w *Window) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("dedup#" + w.Key),
		UpdateExpression:          aws.String("REMOVE summarized"),
		ConditionExpression:       aws.String("#start = :start"),
		ExpressionAttributeNames:  map[string]string{"#start": "start"},
		ExpressionAttributeValues: item{":start": num(w.Start.UnixMilli())},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: unclaim summary %s: %w", w.Key, err)
	}
	return nil
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

package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SlotLease is how long a breaker slot taken for a quarantine in progress
// holds before another quarantine may reclaim it: a holder that crashed
// before its deny was in force gives its slot back this way. A slot whose
// deny is in force is kept (Keep) for the rest of the hour.
const SlotLease = 2 * time.Minute

// Breaker limits new quarantines per clock hour: per bucket, and over all
// buckets. Each limit is one item per hour whose map `slots` is keyed by
// the underlying role or user (the caller names it: never a session name
// or a path), so a retry of the same quarantine (after a crash, or by the
// sweep) reuses its slot, and one role under many session names takes one
// slot: only distinct principals trip the breaker.
type Breaker struct {
	PerBucket, Global int
}

// Slot names one quarantine's slots.
type Slot struct {
	Bucket, Who string
	hour        time.Time
}

func (s Slot) keys() []string {
	h := s.hour.Format("2006-01-02T15")
	return []string{"breaker#" + h + "#" + s.Bucket, "breaker#" + h}
}

// SlotOf names the slot of who on bucket in the current hour, for Keep.
func (s *Store) SlotOf(bucket, who string) Slot {
	return Slot{Bucket: bucket, Who: who, hour: s.now().UTC().Truncate(time.Hour)}
}

// Take takes a slot for who on bucket. It returns the limit that refused it
// ("" when taken): "bucket" or "global".
func (s *Store) Take(ctx context.Context, b Breaker, bucket, who string) (Slot, string, error) {
	sl := s.SlotOf(bucket, who)
	keys, limits, names := sl.keys(), []int{b.PerBucket, b.Global}, []string{"bucket", "global"}
	for i, pk := range keys {
		ok, err := s.takeOne(ctx, pk, who, limits[i], sl.hour)
		if err == nil && ok {
			continue
		}
		// Give back what this call took, so a refusal costs nothing.
		for _, taken := range keys[:i] {
			_ = s.dropSlot(ctx, taken, who, false)
		}
		if err != nil {
			return sl, "", err
		}
		return sl, names[i], nil
	}
	return sl, "", nil
}

func (s *Store) takeOne(ctx context.Context, pk, who string, max int, hour time.Time) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	// The map must exist before one of its entries can be set.
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: key(pk),
		UpdateExpression:          aws.String("SET slots = if_not_exists(slots, :empty), expires = :exp"),
		ExpressionAttributeValues: item{":empty": &types.AttributeValueMemberM{Value: item{}}, ":exp": num(hour.Add(2 * time.Hour).Unix())},
	})
	if err != nil {
		return false, fmt.Errorf("state: circuit breaker %s: %w", pk, err)
	}
	for attempt := 0; ; attempt++ {
		now := s.now()
		_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.Table, Key: key(pk),
			UpdateExpression: aws.String("SET slots.#who = if_not_exists(slots.#who, :lease)"),
			// Kept slots and live leases both count.
			ConditionExpression:       aws.String("attribute_exists(slots.#who) OR size(slots) < :max"),
			ExpressionAttributeNames:  map[string]string{"#who": who},
			ExpressionAttributeValues: item{":lease": num(now.Add(SlotLease).UnixMilli()), ":max": num(int64(max))},
		})
		if err == nil {
			return true, nil
		}
		if !conditionFailed(err) {
			return false, fmt.Errorf("state: circuit breaker %s: %w", pk, err)
		}
		if attempt > 0 {
			return false, nil
		}
		// Full: reclaim slots whose holder's lease ran out, then try once more.
		n, err := s.reclaim(ctx, pk, now)
		if err != nil || n == 0 {
			return false, err
		}
	}
}

// reclaim removes the slots of quarantines whose lease ran out before their
// deny was in force (a crashed holder), and says how many.
func (s *Store) reclaim(ctx context.Context, pk string, now time.Time) (int, error) {
	it, err := s.get(ctx, pk)
	if err != nil {
		return 0, err
	}
	m, _ := it["slots"].(*types.AttributeValueMemberM)
	if m == nil {
		return 0, nil
	}
	n := 0
	for who, v := range m.Value {
		lease, _ := v.(*types.AttributeValueMemberN)
		if lease == nil || lease.Value == "0" {
			continue // kept: the deny is in force
		}
		if ms, _ := strconv.ParseInt(lease.Value, 10, 64); ms >= now.UnixMilli() {
			continue
		}
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.Table, Key: key(pk),
			UpdateExpression:          aws.String("REMOVE slots.#who"),
			ConditionExpression:       aws.String("slots.#who = :v"),
			ExpressionAttributeNames:  map[string]string{"#who": who},
			ExpressionAttributeValues: item{":v": lease},
		})
		if err == nil {
			n++
		} else if !conditionFailed(err) {
			return n, fmt.Errorf("state: circuit breaker %s: %w", pk, err)
		}
	}
	return n, nil
}

// Keep marks the slot as used for good: the deny is in force, so the
// quarantine counts against the hour even if its holder dies now.
func (s *Store) Keep(ctx context.Context, sl Slot) error {
	for _, pk := range sl.keys() {
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.Table, Key: key(pk),
			UpdateExpression:          aws.String("SET slots.#who = :kept"),
			ConditionExpression:       aws.String("attribute_exists(slots)"),
			ExpressionAttributeNames:  map[string]string{"#who": sl.Who},
			ExpressionAttributeValues: item{":kept": num(0)},
		})
		if err != nil && !conditionFailed(err) {
			return fmt.Errorf("state: circuit breaker %s: %w", pk, err)
		}
	}
	return nil
}

// Return gives back the slot of a quarantine that did not happen. A kept
// slot (deny in force) is not returned.
func (s *Store) Return(ctx context.Context, sl Slot) error {
	for _, pk := range sl.keys() {
		if err := s.dropSlot(ctx, pk, sl.Who, true); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) dropSlot(ctx context.Context, pk, who string, unlessKept bool) error {
	in := &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: key(pk),
		UpdateExpression:         aws.String("REMOVE slots.#who"),
		ExpressionAttributeNames: map[string]string{"#who": who},
	}
	if unlessKept {
		in.ConditionExpression = aws.String("slots.#who <> :kept")
		in.ExpressionAttributeValues = item{":kept": num(0)}
	}
	_, err := s.DB.UpdateItem(ctx, in)
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: circuit breaker %s: %w", pk, err)
	}
	return nil
}

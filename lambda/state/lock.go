package state

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// LockLease is how long a lock holds if its holder dies without releasing.
const LockLease = 30 * time.Second

// Lock takes the lock named name, waiting (with jittered backoff) until it
// is free or ctx ends. A bucket policy has no ETag, so every read-modify-
// write of one happens under its bucket's lock. The returned unlock
// releases it only if still held by this caller.
func (s *Store) Lock(ctx context.Context, name string) (unlock func(context.Context) error, err error) {
	var b [8]byte
	_, _ = crand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	pk := "lock#" + name
	delay := 20 * time.Millisecond
	for {
		now := s.now()
		_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &s.Table,
			Item: item{
				"pk": str(pk), "owner": str(owner),
				"expires": num(now.Add(LockLease).Unix()),
			},
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires < :now"),
			ExpressionAttributeValues: item{":now": num(now.Unix())},
		})
		if err == nil {
			break
		}
		if !conditionFailed(err) {
			return nil, fmt.Errorf("state: lock %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("state: lock %s: %w", name, ctx.Err())
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(delay*2, time.Second)
	}
	return func(ctx context.Context) error {
		_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 &s.Table,
			Key:                       key(pk),
			ConditionExpression:       aws.String("#owner = :me"),
			ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
			ExpressionAttributeValues: item{":me": str(owner)},
		})
		if err != nil && !conditionFailed(err) {
			return fmt.Errorf("state: unlock %s: %w", name, err)
		}
		return nil
	}, nil
}

// TakeQuarantineSlot counts one quarantine against the circuit breaker of
// the current hour. ok is false, and nothing is counted, when max
// quarantines have already happened this hour.
func (s *Store) TakeQuarantineSlot(ctx context.Context, max int) (ok bool, err error) {
	if max <= 0 {
		return false, nil
	}
	hour := s.now().UTC().Truncate(time.Hour)
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("breaker#" + hour.Format("2006-01-02T15")),
		UpdateExpression:          aws.String("ADD quarantines :one SET expires = :exp"),
		ConditionExpression:       aws.String("attribute_not_exists(quarantines) OR quarantines < :max"),
		ExpressionAttributeValues: item{":one": num(1), ":max": num(int64(max)), ":exp": num(hour.Add(2 * time.Hour).Unix())},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: circuit breaker: %w", err)
	}
	return true, nil
}

// ReturnQuarantineSlot gives back a slot taken for a quarantine that did
// not happen.
func (s *Store) ReturnQuarantineSlot(ctx context.Context) error {
	hour := s.now().UTC().Truncate(time.Hour)
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key("breaker#" + hour.Format("2006-01-02T15")),
		UpdateExpression:          aws.String("ADD quarantines :minus"),
		ConditionExpression:       aws.String("quarantines > :zero"),
		ExpressionAttributeValues: item{":minus": num(-1), ":zero": num(0)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: circuit breaker: %w", err)
	}
	return nil
}

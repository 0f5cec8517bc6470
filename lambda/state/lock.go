package state

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// LockLease is how long a lock holds if its holder dies without releasing
// it. Only a bucket policy's read-modify-write runs under a lock (two GETs
// and a PUT, each bounded by its own timeout), and Fence renews the lease
// just before the write, so a short lease is enough and a crashed holder
// blocks the bucket for seconds, not minutes.
const LockLease = 10 * time.Second

// ErrLockLost means the lease ran out and another holder may have taken the
// lock: the caller must not write.
var ErrLockLost = errors.New("lock lost (lease expired and taken over)")

// Lease is a held lock.
type Lease struct {
	s     *Store
	pk    string
	owner string
}

// Lock takes the lock named name, waiting (with jittered backoff) until it
// is free or ctx ends. A bucket policy has no ETag, so every read-modify-
// write of one happens under its bucket's lock, and its write is fenced
// (Lease.Fence) so that a holder whose lease ran out cannot overwrite the
// policy of the holder that took over.
func (s *Store) Lock(ctx context.Context, name string) (*Lease, error) {
	var b [8]byte
	_, _ = crand.Read(b[:])
	l := &Lease{s: s, pk: "lock#" + name, owner: hex.EncodeToString(b[:])}
	delay := 20 * time.Millisecond
	for {
		now := s.now()
		_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &s.Table,
			Item: item{
				"pk": str(l.pk), "owner": str(l.owner),
				"lease":   num(now.Add(LockLease).UnixMilli()),
				"expires": num(now.Add(LockLease).Unix() + 3600),
			},
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR #lease < :now"),
			ExpressionAttributeNames:  map[string]string{"#lease": "lease"},
			ExpressionAttributeValues: item{":now": num(now.UnixMilli())},
		})
		if err == nil {
			return l, nil
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
}

// Fence checks, in one conditional update, that the lock is still this
// caller's and its lease has not run out, and renews the lease. Call it
// just before the write the lock protects; ErrLockLost means do not write.
func (l *Lease) Fence(ctx context.Context) error {
	now := l.s.now()
	_, err := l.s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &l.s.Table,
		Key:                       key(l.pk),
		UpdateExpression:          aws.String("SET #lease = :lease"),
		ConditionExpression:       aws.String("#owner = :me AND #lease >= :now"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner", "#lease": "lease"},
		ExpressionAttributeValues: item{":me": str(l.owner), ":now": num(now.UnixMilli()), ":lease": num(now.Add(LockLease).UnixMilli())},
	})
	if conditionFailed(err) {
		return fmt.Errorf("state: %s: %w", l.pk, ErrLockLost)
	}
	if err != nil {
		return fmt.Errorf("state: fence %s: %w", l.pk, err)
	}
	return nil
}

// Unlock releases the lock only if still held by this caller.
func (l *Lease) Unlock(ctx context.Context) error {
	_, err := l.s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &l.s.Table,
		Key:                       key(l.pk),
		ConditionExpression:       aws.String("#owner = :me"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: item{":me": str(l.owner)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: unlock %s: %w", l.pk, err)
	}
	return nil
}

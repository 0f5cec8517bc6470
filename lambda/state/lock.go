package state

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// LockLease is how long a lock holds if its holder dies without releasing
// it: what a dead holder costs the next quarantine on its bucket. A live
// holder renews it every LockLease/3 (the lock's heartbeat), so a holder
// waiting on a slow policy read keeps its lock, and one killed mid-read
// frees it within LockLease.
const LockLease = 3 * time.Second

// FenceLease is the lease Fence grants the write it guards: the write
// (PutBucketPolicy, at most quarantine.DefaultCallTimeout with its
// retries) must end before the lock can pass to anyone else, whatever
// happens to the heartbeat. A holder killed during the write costs up to
// this; the heartbeat shortens the lease back to LockLease after it.
const FenceLease = 10 * time.Second

// ErrLockLost means the lease ran out and another holder may have taken the
// lock: the caller must not write.
var ErrLockLost = errors.New("lock lost (lease expired and taken over)")

// Lease is a held lock.
type Lease struct {
	s     *Store
	pk    string
	owner string

	mu      sync.Mutex
	fenced  time.Time     // the lease Fence granted, kept by the heartbeat
	stop    chan struct{} // closed by Unlock: ends the heartbeat
	stopped sync.Once
}

// Lock takes the lock named name, waiting (with jittered backoff) until it
// is free or ctx ends, and renews it in the background until Unlock. A
// bucket policy has no ETag, so every read-modify-write of one happens
// under its bucket's lock, and its write is fenced (Lease.Fence) so that a
// holder whose lease ran out cannot overwrite the policy of the holder
// that took over.
func (s *Store) Lock(ctx context.Context, name string) (*Lease, error) {
	var b [8]byte
	_, _ = crand.Read(b[:])
	l := &Lease{s: s, pk: "lock#" + name, owner: hex.EncodeToString(b[:]), stop: make(chan struct{})}
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
			go l.heartbeat()
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

// heartbeat renews the lease every LockLease/3 until Unlock, or until a
// renewal finds the lock lost (Fence then refuses the write). A renewal
// that fails for another reason is tried again at the next beat: the
// lease outlives two missed beats.
func (l *Lease) heartbeat() {
	t := time.NewTicker(LockLease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), LockLease/3)
			err := l.renew(ctx)
			cancel()
			if errors.Is(err, ErrLockLost) {
				return
			}
		}
	}
}

// renew extends the lease to LockLease from now, or to what Fence
// granted, whichever is later, if the lock is still this holder's.
func (l *Lease) renew(ctx context.Context) error {
	now := l.s.now()
	until := now.Add(LockLease)
	l.mu.Lock()
	if l.fenced.After(until) {
		until = l.fenced
	}
	l.mu.Unlock()
	return l.extend(ctx, now, until)
}

func (l *Lease) extend(ctx context.Context, now, until time.Time) error {
	_, err := l.s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &l.s.Table,
		Key:                       key(l.pk),
		UpdateExpression:          aws.String("SET #lease = :lease"),
		ConditionExpression:       aws.String("#owner = :me AND #lease >= :now"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner", "#lease": "lease"},
		ExpressionAttributeValues: item{":me": str(l.owner), ":now": num(now.UnixMilli()), ":lease": num(until.UnixMilli())},
	})
	if conditionFailed(err) {
		return fmt.Errorf("state: %s: %w", l.pk, ErrLockLost)
	}
	if err != nil {
		return fmt.Errorf("state: renew %s: %w", l.pk, err)
	}
	return nil
}

// Fence checks, in one conditional update, that the lock is still this
// caller's and its lease has not run out, and extends the lease by
// FenceLease for the write it guards. Call it just before that write;
// ErrLockLost means do not write.
func (l *Lease) Fence(ctx context.Context) error {
	now := l.s.now()
	until := now.Add(FenceLease)
	if err := l.extend(ctx, now, until); err != nil {
		if !errors.Is(err, ErrLockLost) {
			err = fmt.Errorf("state: fence %s: %w", l.pk, err)
		}
		return err
	}
	l.mu.Lock()
	l.fenced = until
	l.mu.Unlock()
	return nil
}

// Written ends what Fence granted: the write is done, and a holder killed
// from now on costs LockLease again, not FenceLease.
func (l *Lease) Written(ctx context.Context) error {
	l.mu.Lock()
	l.fenced = time.Time{}
	l.mu.Unlock()
	return l.renew(ctx)
}

// Unlock stops the heartbeat and releases the lock only if still held by
// this caller.
func (l *Lease) Unlock(ctx context.Context) error {
	l.stopped.Do(func() { close(l.stop) })
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

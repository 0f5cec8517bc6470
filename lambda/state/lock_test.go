package state

import (
	"context"
	"testing"
	"time"
)

// halt stops the heartbeat without releasing the lock: the holder died.
func (l *Lease) halt() { l.stopped.Do(func() { close(l.stop) }) }

// tryLock takes the lock if it is free now, else returns nil.
func tryLock(t *testing.T, s *Store, name string) *Lease {
	t.Helper()
	// Held: Lock retries until ctx ends (the test clock stands still).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l, err := s.Lock(ctx, name)
	if err != nil {
		return nil
	}
	t.Cleanup(func() { l.Unlock(context.Background()) })
	return l
}

// A holder killed while it reads the policy costs the next quarantine on
// its bucket 3 s at most, not the 10 s it did.
func TestKilledHolderFreesTheLockWithin3s(t *testing.T) {
	s, now := newStore(t)
	dead, err := s.Lock(context.Background(), "bucket#b")
	if err != nil {
		t.Fatal(err)
	}
	dead.halt()
	now.Add((3*time.Second + time.Millisecond).Milliseconds())
	if tryLock(t, s, "bucket#b") == nil {
		t.Fatal("the lock of a holder dead for 3 s is still held")
	}
}

// The heartbeat keeps a live holder's lock past LockLease; Fence grants
// the write FenceLease whatever the heartbeat does; Written ends that.
func TestLockHeartbeatAndFence(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	l, err := s.Lock(ctx, "bucket#b")
	if err != nil {
		t.Fatal(err)
	}
	l.halt() // the test beats by hand, on its own clock
	for range 3 {
		now.Add((LockLease / 2).Milliseconds())
		if err := l.renew(ctx); err != nil {
			t.Fatalf("renew: %v", err)
		}
	}
	if tryLock(t, s, "bucket#b") != nil {
		t.Fatal("a renewed lock was taken by another")
	}
	if err := l.Fence(ctx); err != nil {
		t.Fatal(err)
	}
	now.Add((LockLease / 2).Milliseconds())
	if err := l.renew(ctx); err != nil { // must not shorten the fenced lease
		t.Fatal(err)
	}
	now.Add((FenceLease - LockLease/2 - time.Millisecond).Milliseconds())
	if tryLock(t, s, "bucket#b") != nil {
		t.Fatal("a fenced write's lock was taken before FenceLease")
	}
	if err := l.Written(ctx); err != nil {
		t.Fatal(err)
	}
	now.Add((LockLease + time.Millisecond).Milliseconds())
	if tryLock(t, s, "bucket#b") == nil {
		t.Fatal("the lock of a holder dead after its write is held past LockLease")
	}
}

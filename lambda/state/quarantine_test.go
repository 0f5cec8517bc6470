package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockSerializes(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			l, err := s.Lock(ctx, "bucket#b")
			if err != nil {
				t.Errorf("lock %d: %v", i, err)
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			if err := l.Fence(ctx); err != nil {
				t.Errorf("fence of a held lock: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			inside.Add(-1)
			if err := l.Unlock(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once; want 1", most.Load())
	}
}

// A holder that dies leaves its lock for LockLease only; the holder whose
// lease ran out cannot write (its fence fails) once another took over.
func TestLockLeaseExpiresAndFences(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	dead, err := s.Lock(ctx, "x") // never unlocked: its holder died
	if err != nil {
		t.Fatal(err)
	}
	dead.halt()
	now.Add((LockLease + time.Second).Milliseconds())
	if err := dead.Fence(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("fence after the lease ran out = %v; want ErrLockLost", err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	next, err := s.Lock(short, "x")
	if err != nil {
		t.Fatalf("lock after the lease ran out: %v", err)
	}
	if err := dead.Fence(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("fence of the old holder after takeover = %v; want ErrLockLost", err)
	}
	if err := dead.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := next.Fence(ctx); err != nil {
		t.Fatalf("the old holder's unlock released the new holder's lock: %v", err)
	}
}

func TestBreakerPerBucketAndGlobal(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	b := Breaker{PerBucket: 2, Global: 3}
	take := func(bucket, who string) string {
		sl, limit, err := s.Take(ctx, b, bucket, who)
		if err != nil {
			t.Fatal(err)
		}
		if limit == "" {
			if err := s.Keep(ctx, sl); err != nil {
				t.Fatal(err)
			}
			return "ok"
		}
		return limit
	}
	got := []string{take("a", "r1"), take("a", "r1"), take("a", "r2"), take("a", "r3"), take("b", "r4"), take("c", "r5")}
	if fmt.Sprint(got) != "[ok ok ok bucket ok global]" {
		t.Fatalf("slots = %v; want a second take by r1 to reuse its slot, bucket a full at 2, global full at 3", got)
	}
	// A refused take gave back the bucket slot it took on c.
	now.Add(time.Hour.Milliseconds())
	if got := take("a", "r3"); got != "ok" {
		t.Fatalf("next hour: %s", got)
	}
	if _, limit, _ := s.Take(ctx, Breaker{PerBucket: 0, Global: 5}, "a", "x"); limit != "bucket" {
		t.Fatalf("max 0 allowed a quarantine")
	}
}

// A holder that dies before its deny is in force gives its slot back when
// its lease runs out; a kept slot (deny in force) stays for the hour.
func TestBreakerSlotLease(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	b := Breaker{PerBucket: 2, Global: 10}
	// take fails the test on an error: a failed call must not pass for a
	// refused (or granted) slot.
	take := func(holder string) (Slot, string) {
		t.Helper()
		sl, limit, err := s.Take(ctx, b, "a", holder)
		if err != nil {
			t.Fatalf("take %s: %v", holder, err)
		}
		return sl, limit
	}
	if _, limit := take("crashed"); limit != "" {
		t.Fatal(limit)
	}
	sl, limit := take("held")
	if limit != "" {
		t.Fatal(limit)
	}
	if err := s.Keep(ctx, sl); err != nil {
		t.Fatal(err)
	}
	if _, limit := take("third"); limit != "bucket" {
		t.Fatalf("third = %q; want refused while the crashed holder's lease runs", limit)
	}
	now.Add((SlotLease + time.Second).Milliseconds())
	if _, limit := take("third"); limit != "" {
		t.Fatalf("third after the lease = %q; want the crashed holder's slot reclaimed", limit)
	}
	if err := s.Return(ctx, sl); err != nil {
		t.Fatal(err)
	}
	if _, limit := take("fourth"); limit != "bucket" {
		t.Fatalf("fourth = %q; a kept slot was returned", limit)
	}
}

func TestRecordsVersioned(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := s.UpdateQuarantines(ctx, "b", func(m map[string]*Quarantine) bool {
				m[fmt.Sprint("p", i)] = &Quarantine{Principal: fmt.Sprint("p", i), Pending: []string{PartBucket}}
				return true
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	recs, err := s.Quarantines(ctx, "b")
	if err != nil || len(recs.Map) != 8 || recs.Version != 8 {
		t.Fatalf("records = %d at version %d (%v); want 8 at 8: a concurrent write was lost", len(recs.Map), recs.Version, err)
	}
	stale := Records{Map: map[string]*Quarantine{}, Version: 3}
	if err := s.PutQuarantines(ctx, "b", stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale put = %v; want ErrConflict", err)
	}
	if got, _ := s.QuarantinedBuckets(ctx); fmt.Sprint(got) != "[b]" {
		t.Fatalf("buckets = %v", got)
	}
}

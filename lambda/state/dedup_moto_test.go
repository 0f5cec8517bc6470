package state

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func claimFor(key string, sev int) Claim {
	return Claim{Key: key, Severity: sev, Window: 5 * time.Minute, Lease: 10 * time.Second,
		Subject: "subj", Attrs: map[string]string{"bucket": "b"}, Wait: 5 * time.Second}
}

// Racers on one key: one claims and sends; the others wait for the claim to
// be sent, then count. Nobody counts against an unsent claim.
func TestDedupOneFirstAmongRacers(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	var firsts, counted atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			tk, err := s.Dedup(ctx, claimFor("k", 2))
			if err != nil {
				t.Error(err)
				return
			}
			if !tk.First {
				counted.Add(1)
				return
			}
			firsts.Add(1)
			time.Sleep(100 * time.Millisecond) // publishing
			if err := s.Sent(ctx, tk); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 || counted.Load() != 11 {
		t.Fatalf("%d firsts, %d counted among 12 racers; want 1 and 11", firsts.Load(), counted.Load())
	}
	if due := dueSummaries(t, s); len(due) != 0 {
		t.Fatalf("summaries due inside the window: %v", due)
	}
	now.Add((5 * time.Minute).Milliseconds())
	due, err := s.DueSummaries(ctx)
	if err != nil || len(due) != 1 {
		t.Fatalf("due after the window: %v, %v; want 1", due, err)
	}
	w, ok, err := s.ClaimSummary(ctx, due[0], time.Minute)
	if err != nil || !ok || w.Repeats != 11 || w.Attrs["bucket"] != "b" || w.Subject != "subj" {
		t.Fatalf("claim: %+v %v %v; want 11 repeats", w, ok, err)
	}
	if err := s.SummarySent(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimSummary(ctx, due[0], time.Minute); ok {
		t.Fatal("summary claimed after it was sent")
	}
	if due := dueSummaries(t, s); len(due) != 0 {
		t.Fatalf("still due after sent: %v", due)
	}
}

// A holder that dies (no Sent, no Release) blocks the key only for its
// lease; the next attempt takes the claim over and is told so.
func TestDedupExpiredClaimIsTakenOver(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	c := claimFor("k", 2)
	c.Lease, c.Wait = 3*time.Second, 0
	if tk, err := s.Dedup(ctx, c); err != nil || !tk.First || tk.TookOver {
		t.Fatalf("first: %+v %v", tk, err)
	}
	now.Add(2000)
	if _, err := s.Dedup(ctx, c); !errors.Is(err, ErrInFlight) {
		t.Fatalf("inside the lease: %v; want ErrInFlight (never counted against an unsent claim)", err)
	}
	now.Add(1000)
	tk, err := s.Dedup(ctx, c)
	if err != nil || !tk.First || !tk.TookOver {
		t.Fatalf("after the lease: %+v %v; want first, took over", tk, err)
	}
	if err := s.Sent(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if tk, err := s.Dedup(ctx, c); err != nil || tk.First {
		t.Fatalf("after sent: %+v %v; want counted", tk, err)
	}
}

// A zero or negative lease (no time left) still holds MinLease.
func TestDedupLeaseNeverZero(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	for i, lease := range []time.Duration{0, -5 * time.Second} {
		c := claimFor("k"+string(rune('a'+i)), 2)
		c.Lease, c.Wait = lease, 0
		if tk, err := s.Dedup(ctx, c); err != nil || !tk.First {
			t.Fatalf("lease %v: %+v %v", lease, tk, err)
		}
		if _, err := s.Dedup(ctx, c); !errors.Is(err, ErrInFlight) {
			t.Fatalf("lease %v: a second attempt at once got %v; want ErrInFlight", lease, err)
		}
		now.Add(MinLease.Milliseconds())
		if tk, err := s.Dedup(ctx, c); err != nil || !tk.TookOver {
			t.Fatalf("lease %v: after MinLease: %+v %v", lease, tk, err)
		}
	}
}

func TestDedupReleaseAndLostClaim(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	c := claimFor("k", 2)
	c.Lease = 2 * time.Second
	tk, _ := s.Dedup(ctx, c)
	if err := s.Release(ctx, tk); err != nil {
		t.Fatal(err)
	}
	again, err := s.Dedup(ctx, c)
	if err != nil || !again.First || again.TookOver {
		t.Fatalf("after release: %+v %v; want a clean first", again, err)
	}
	// The holder stalls past its lease; another attempt takes over.
	now.Add(2000)
	other, err := s.Dedup(ctx, c)
	if err != nil || !other.TookOver {
		t.Fatalf("takeover: %+v %v", other, err)
	}
	if err := s.Sent(ctx, again); !errors.Is(err, ErrClaimLost) {
		t.Fatalf("stale holder's Sent: %v; want ErrClaimLost", err)
	}
	if err := s.Release(ctx, again); err != nil {
		t.Fatal(err)
	}
	if err := s.Sent(ctx, other); err != nil {
		t.Fatalf("a stale Release must not touch the new claim: %v", err)
	}
}

// A higher severity than the window's first alert is sent at once and
// opens its own window; lower or equal ones count in it.
func TestDedupEscalation(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	send := func(sev int) Ticket {
		tk, err := s.Dedup(ctx, claimFor("k", sev))
		if err != nil {
			t.Fatal(err)
		}
		if tk.First {
			if err := s.Sent(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		return tk
	}
	if tk := send(1); !tk.First {
		t.Fatal("first medium not sent")
	}
	if tk := send(1); tk.First {
		t.Fatal("second medium sent")
	}
	tk := send(3)
	if !tk.First || !tk.Escalated || tk.Prev == nil || tk.Prev.Repeats != 1 {
		t.Fatalf("critical after medium: %+v; want sent, escalated, carrying 1 repeat", tk)
	}
	for _, sev := range []int{1, 3} {
		if tk := send(sev); tk.First {
			t.Fatalf("severity %d inside the critical window was sent", sev)
		}
	}
}

func TestDedupNewWindowCarriesUnsummarizedRepeats(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	c := claimFor("k", 2)
	c.Window = time.Minute
	sendWindow(t, s, c)
	for range 3 {
		if _, err := s.Dedup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now.Add(time.Minute.Milliseconds())
	tk, err := s.Dedup(ctx, c)
	if err != nil || !tk.First || tk.Prev == nil || tk.Prev.Repeats != 3 || tk.TookOver || tk.Escalated {
		t.Fatalf("new window: %+v %v; want first, carrying 3 repeats", tk, err)
	}
	// Unsent: release restores the old window, so the retry carries it again.
	if err := s.Release(ctx, tk); err != nil {
		t.Fatal(err)
	}
	tk, err = s.Dedup(ctx, c)
	if err != nil || !tk.First || tk.Prev == nil || tk.Prev.Repeats != 3 {
		t.Fatalf("after release: %+v %v", tk, err)
	}
}

// A summary claim whose holder died expires with its lease.
func TestSummaryClaimLease(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	c := claimFor("k", 2)
	c.Window = time.Minute
	sendWindow(t, s, c)
	s.Dedup(ctx, c)
	now.Add(time.Minute.Milliseconds())
	due := dueSummaries(t, s)
	if len(due) != 1 {
		t.Fatalf("due = %v", due)
	}
	if _, ok, err := s.ClaimSummary(ctx, due[0], 5*time.Second); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, ok, err := s.ClaimSummary(ctx, due[0], 5*time.Second); ok || err != nil {
		t.Fatalf("claimed twice inside the lease: %v %v", ok, err)
	}
	if due := dueSummaries(t, s); len(due) != 1 {
		t.Fatal("a claimed, unsent summary left the pending set")
	}
	now.Add(5000)
	w, ok, err := s.ClaimSummary(ctx, due[0], 5*time.Second)
	if !ok || err != nil || w.Repeats != 1 {
		t.Fatalf("after the lease: %+v %v %v", w, ok, err)
	}
}

// A window sent while the table was unreachable is recorded afterwards,
// and then counts repeats; it never overwrites a live window.
func TestRecordSent(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	start := time.UnixMilli(now.Load())
	w := Window{Key: "k", Start: start, End: start.Add(time.Minute), Severity: 2, Repeats: 2, LastSeen: start, Subject: "subj"}
	if err := s.RecordSent(ctx, w); err != nil {
		t.Fatal(err)
	}
	if tk, err := s.Dedup(ctx, claimFor("k", 2)); err != nil || tk.First {
		t.Fatalf("after RecordSent: %+v %v; want counted", tk, err)
	}
	w.Repeats = 0
	if err := s.RecordSent(ctx, w); err != nil {
		t.Fatal(err)
	}
	now.Add(time.Minute.Milliseconds())
	due := dueSummaries(t, s)
	if len(due) != 1 {
		t.Fatalf("due = %v", due)
	}
	got, ok, err := s.ClaimSummary(ctx, due[0], time.Minute)
	if !ok || err != nil || got.Repeats != 3 {
		t.Fatalf("summary: %+v %v %v; want 3 repeats (2 recorded, 1 counted)", got, ok, err)
	}
}

// sendWindow opens c's window and marks its alert sent.
func sendWindow(t *testing.T, s *Store, c Claim) {
	t.Helper()
	tk, err := s.Dedup(context.Background(), c)
	if err == nil {
		err = s.Sent(context.Background(), tk)
	}
	if err != nil || !tk.First {
		t.Fatalf("open window: %+v %v", tk, err)
	}
}

// Repeats counted in memory for a key that has a live sent window by now
// are added to it.
func TestRecordSentAddsToLiveWindow(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	sendWindow(t, s, claimFor("k", 2))
	start := time.UnixMilli(now.Load())
	if err := s.RecordSent(ctx, Window{Key: "k", Start: start, End: start.Add(time.Minute), Repeats: 2, Severity: 2}); err != nil {
		t.Fatal(err)
	}
	now.Add((5 * time.Minute).Milliseconds())
	due := dueSummaries(t, s)
	if len(due) != 1 {
		t.Fatalf("due = %v", due)
	}
	if w, ok, err := s.ClaimSummary(ctx, due[0], time.Minute); !ok || err != nil || w.Repeats != 2 {
		t.Fatalf("summary: %+v %v %v; want the 2 repeats added to the live window", w, ok, err)
	}
}

// dueSummaries fails the test on an error: an error must not pass for "none
// due".
func dueSummaries(t *testing.T, s *Store) []*Window {
	t.Helper()
	due, err := s.DueSummaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return due
}

// A window says whether its key's quarantine is in force: a repeat of an
// unsettled window is told so (it still needs a decision), until Settle;
// a window whose alert settled it tells its repeats at once. A new window
// starts unsettled, and Settle on a replaced window changes nothing.
func TestDedupSettled(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	tk, err := s.Dedup(ctx, claimFor("probe", 2))
	if err != nil || !tk.First {
		t.Fatalf("first: %+v, %v", tk, err)
	}
	if err := s.Sent(ctx, tk); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Dedup(ctx, claimFor("probe", 2))
	if err != nil || rep.First || rep.Settled {
		t.Fatalf("repeat of an unsettled window: %+v, %v; want counted, not settled", rep, err)
	}
	if err := s.Settle(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Dedup(ctx, claimFor("probe", 2)); err != nil || rep.First || !rep.Settled {
		t.Fatalf("repeat after Settle: %+v, %v; want counted, settled", rep, err)
	}

	tk, err = s.Dedup(ctx, claimFor("done", 2))
	if err != nil || !tk.First {
		t.Fatalf("first: %+v, %v", tk, err)
	}
	tk.Settled = true
	if err := s.Sent(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Dedup(ctx, claimFor("done", 2)); err != nil || !rep.Settled {
		t.Fatalf("repeat of a window sent settled: %+v, %v", rep, err)
	}

	old := rep
	now.Add((5 * time.Minute).Milliseconds())
	tk, err = s.Dedup(ctx, claimFor("probe", 2))
	if err != nil || !tk.First {
		t.Fatalf("next window: %+v, %v", tk, err)
	}
	if err := s.Sent(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, old); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Dedup(ctx, claimFor("probe", 2)); err != nil || rep.First || rep.Settled {
		t.Fatalf("new window after an old one settled: %+v, %v; want counted, not settled", rep, err)
	}
}

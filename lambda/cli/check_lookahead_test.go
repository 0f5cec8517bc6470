package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/s3xguard/s3xguard/rules"
)

// TestJobBehindDecodesAhead: the job behind the one the merge stage is at
// decodes its input while the merge stage is busy elsewhere, up to the
// look-ahead budget, instead of leaving its core idle. The code before
// stopped it after two batches.
func TestJobBehindDecodesAhead(t *testing.T) {
	al, err := rules.Load("../../rules/allowlist.example.yaml")
	must(t, err)
	// Ten batches, some 0.6 MB with their input: within the budget.
	const n = 10 * batchLen
	recs := make([]string, n)
	for i := range recs {
		recs[i] = getObject(fmt.Sprint(i), "ASIAK", i%60, "10.1.2.3")
	}
	path := filepath.Join(t.TempDir(), "behind.json")
	must(t, os.WriteFile(path, []byte(trail(recs...)), 0o644))

	synctest.Test(t, func(t *testing.T) {
		c := &checker{allowlist: al, json: true, out: devNull{}}
		j := newJob(input{name: path, path: path, size: -1})
		done := make(chan struct{})
		go func() {
			c.decideInput(j, true)
			close(done)
		}()
		// Nobody merges j: the worker runs until its look-ahead is full.
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Errorf("the worker stopped with %d bytes ahead, before the %d records of its input were decided (budget %d bytes)", j.ahead.held, n, aheadBudget)
		}
		got := 0
		for b := range j.batches {
			got += len(b.decided)
			j.ahead.release(b.cost)
		}
		<-done
		if got != n {
			t.Errorf("%d records decided, want %d", got, n)
		}
	})
}

// TestLookAheadBound: a job holds at most aheadBudget bytes ahead of the
// merge stage, and a batch larger than the budget still goes, alone.
func TestLookAheadBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l lookAhead
		l.cond.L = &l.mu
		l.acquire(aheadBudget / 2)
		l.acquire(aheadBudget / 2)
		third := make(chan struct{})
		go func() {
			l.acquire(1)
			close(third)
		}()
		synctest.Wait()
		select {
		case <-third:
			t.Fatal("a byte over the budget was taken")
		default:
		}
		l.release(aheadBudget / 2)
		synctest.Wait()
		select {
		case <-third:
		default:
			t.Fatal("a release did not let the waiting batch go")
		}
		l.release(aheadBudget/2 + 1)
		l.acquire(3 * aheadBudget) // alone: must not wait forever
		if l.held != 3*aheadBudget {
			t.Errorf("held %d, want %d", l.held, 3*aheadBudget)
		}
	})
}

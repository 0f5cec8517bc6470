package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
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

// TestSessionIndexesPartitions: a session is found in its own account and
// region only, whatever partition was used last, and past maxPartitions
// the new partitions share one index (memory stays flat) and still find
// their sessions.
func TestSessionIndexesPartitions(t *testing.T) {
	rec := func(region, name, key string) *cloudtrail.Record {
		r := &cloudtrail.Record{EventSource: cloudtrail.EventSource, EventName: name, EventTime: "2026-11-20T10:00:00Z",
			RecipientAccountID: "111122223333", AWSRegion: region, SourceIPAddress: "10.1.2.3"}
		if name == "CreateSession" {
			r.SessionAccessKeyID = key
		} else {
			r.UserIdentity.AccessKeyID = key
		}
		return r
	}
	m := newSessionIndexes()
	m.add(rec("us-east-1", "CreateSession", "K1"))
	m.add(rec("us-west-2", "CreateSession", "K2"))
	for _, c := range []struct {
		region, key string
		found       bool
	}{
		{"us-east-1", "K1", true}, {"us-west-2", "K1", false}, {"us-east-1", "K1", true},
		{"us-west-2", "K2", true}, {"us-east-1", "K2", false}, {"eu-west-1", "K1", false},
	} {
		if got := m.lookup(rec(c.region, "GetObject", c.key)) != nil; got != c.found {
			t.Errorf("%s %s: found %v, want %v", c.region, c.key, got, c.found)
		}
	}
	for i := len(m.m); i < maxPartitions; i++ {
		m.add(rec(fmt.Sprintf("r-%d", i), "CreateSession", "X"))
	}
	m.add(rec("past-1", "CreateSession", "P1"))
	m.add(rec("past-2", "CreateSession", "P2"))
	if len(m.m) != maxPartitions+1 {
		t.Errorf("%d partitions, want %d and the shared one", len(m.m), maxPartitions)
	}
	if m.lookup(rec("past-1", "GetObject", "P1")) == nil || m.lookup(rec("past-2", "GetObject", "P2")) == nil {
		t.Error("a session past maxPartitions is not found")
	}
	if m.lookup(rec("us-east-1", "GetObject", "K1")) == nil {
		t.Error("us-east-1's session lost")
	}
}

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/s3xguard/s3xguard/test/harness"
)

// retried invokes payload as the platform does after a failed invocation:
// again until it succeeds (Lambda retries an asynchronous event twice, 1
// and 2 minutes apart; SQS redelivers until maxReceiveCount). A claim whose
// answer was lost holds until its lease (the function's timeout) runs out,
// which the real retries' spacing always exceeds: here the attempts are
// closer, so more of them may be needed.
func retried(t *testing.T, fn *harness.Lambda, payload []byte, first harness.Result) (tries int) {
	t.Helper()
	for r := first; r.Err != ""; tries++ {
		if tries == 20 {
			t.Fatalf("still failing after %d retries: %s\n%s", tries, r.Err, fn.Log())
		}
		time.Sleep(time.Second)
		r = fn.MustInvoke(t, payload)
	}
	return tries
}

// TestStateTableFaultKeepsTheQuarantine: a short DynamoDB failure (HTTP
// 500, throttling, a hang, a lost answer) while a quarantine is due must
// not drop it. The page goes out; the invocation fails, so the platform
// retries; after recovery, every retry and one sweep, each principal is in
// the bucket policy and in the records with nothing pending.
func TestStateTableFaultKeepsTheQuarantine(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "AWS_LAMBDA_FUNCTION_TIMEOUT": "8",
		"QUARANTINE_MAX_PER_HOUR": "1000", "QUARANTINE_MAX_PER_BUCKET_HOUR": "1000"})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // warm: identity known
	faults := []struct {
		name string
		f    harness.Fault
	}{
		{"HTTP 500", harness.Fault{Status: 500}},
		{"throttling", harness.Fault{Throttle: true}},
		{"hang", harness.Fault{Hang: true}},
		{"lost answer", harness.Fault{Lost: true}},
	}
	var table strings.Builder
	for i, f := range faults {
		roles := []string{fmt.Sprintf("ddb-%d-a", i), fmt.Sprintf("ddb-%d-b", i)}
		fault := f.f
		fault.Service = "dynamodb"
		w.proxy.Inject(&fault)
		var firsts []harness.Result
		var events [][]byte
		for _, role := range roles {
			w.createRole(role, "/")
			events = append(events, ev{principal: session(role)}.json())
			firsts = append(firsts, fn.MustInvoke(t, events[len(events)-1]))
		}
		pages := w.alerts(time.Second)
		w.proxy.Clear()
		if len(pages) != len(roles) {
			t.Errorf("%s: %d pages during the fault; want one per principal", f.name, len(pages))
		}
		tries := 0
		for j, role := range roles {
			if firsts[j].Err == "" {
				t.Errorf("%s: the invocation for %s succeeded without its quarantine recorded: no retry would come", f.name, role)
			}
			tries += retried(t, fn, events[j], firsts[j])
		}
		fn.MustInvoke(t, sweepEvent)
		recs := w.records()
		for _, role := range roles {
			switch r := recs[roleARN(role)]; {
			case !slices.Contains(w.denied(), roleARN(role)):
				t.Errorf("%s: %s not in the bucket policy after recovery", f.name, role)
			case r == nil || len(r.Pending) > 0:
				t.Errorf("%s: %s record %+v; want one with nothing pending", f.name, role, r)
			}
		}
		after := w.alerts(time.Second)
		for _, a := range after {
			if a.Attributes["action"] != "quarantined" {
				t.Errorf("%s: page after recovery says %q (%v); want quarantined", f.name, a.Attributes["action"], field(a.Doc, "response", "detail"))
			}
		}
		fmt.Fprintf(&table, "| %s | %d | %d | %d |\n", f.name, len(pages), tries, len(after))
	}
	t.Logf("\n| DynamoDB fault | pages during it | retries | pages after |\n|---|---|---|---|\n%s", table.String())
}

// TestBatchWithoutTheTablePagesOnce: during a DynamoDB outage, the repeats
// of one key inside a parallel SQS batch are one page (the instance's
// memory stands in for the table), not one per message in flight.
func TestBatchWithoutTheTablePagesOnce(t *testing.T) {
	const n = 8
	w := newWorld(t, map[string]string{"BATCH_PARALLELISM": "8"})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
	// A hang ends every message's claim at the same moment (its call
	// budget): the race at its sharpest.
	w.proxy.Inject(&harness.Fault{Service: "dynamodb", Hang: true})
	var bodies [][]byte
	for range n {
		bodies = append(bodies, ev{principal: session("writer"), key: "k"}.json())
	}
	r := fn.MustInvoke(t, sqsBatch(bodies...))
	if r.Err != "" || !strings.Contains(string(r.Body), `"batchItemFailures":[]`) {
		t.Fatalf("batch: %+v", r)
	}
	got := w.alerts(time.Second)
	if len(got) != 1 {
		t.Fatalf("%d pages for %d repeats of one key without the table; want 1", len(got), n)
	}
	if d, _ := got[0].Doc["duplicateReason"].(string); !strings.Contains(d, "state table was unavailable") {
		t.Errorf("page sent without deduplication does not say so: duplicateReason = %q", d)
	}
}

// TestSNSLostOrLateAnswerPagesAtMostTwice: a publish that reaches SNS and
// whose answer is lost, or comes after the attempt timeout, on every
// attempt of one invocation, then the platform's retry once the fault is
// over: one alert is delivered at most twice, and the page after the first
// says it may be a duplicate. (Before: 6 and 4 copies, none flagged.)
func TestSNSLostOrLateAnswerPagesAtMostTwice(t *testing.T) {
	w := newWorld(t, nil)
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
	for i, f := range []harness.Fault{{Service: "sns", Lost: true}, {Service: "sns", Late: true}} {
		f := f
		w.proxy.Inject(&f)
		e := ev{principal: session("writer"), ip: fmt.Sprintf("198.51.100.%d", i)}.json()
		first := fn.MustInvoke(t, e)
		w.proxy.Clear()
		if first.Err == "" {
			t.Errorf("%+v: the invocation succeeded though its publish got no answer", f)
		}
		tries := retried(t, fn, e, first)
		got := w.alerts(2 * time.Second)
		plain := 0
		for _, a := range got {
			if a.Doc["mayBeDuplicate"] != true {
				plain++
			}
		}
		if len(got) > 2 || plain > 1 || len(got) == 0 {
			t.Errorf("%+v: %d pages (%d not flagged as possible duplicates) after %d retries; want 1 or 2, at most 1 unflagged", f, len(got), plain, tries)
		}
		t.Logf("%+v: %d pages (%d unflagged), %d retries", f, len(got), plain, tries)
	}
}

// TestKilledLockHolderCostsSeconds: the bootstrap killed while it holds a
// bucket's lock (its policy read hangs) leaves the lock for at most the
// 3 s lease from the kill (was the 10 s lease from the lock's taking), and
// the next quarantine on the bucket lands. The lease is read from the
// table: the later the kill on a slow machine, the smaller the margin
// measured, so slowness cannot make this pass.
func TestKilledLockHolderCostsSeconds(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	w.createRole("holder", "/")
	w.createRole("next", "/")
	fn := w.function()
	victim := w.function()
	victim.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // identity known
	f := w.proxy.Inject(&harness.Fault{Service: "s3express", Action: "GET?policy", Hang: true})
	done := make(chan struct{})
	go func() {
		victim.Invoke(context.Background(), ev{principal: session("holder")}.json())
		close(done)
	}()
	for f.Hits(w.proxy) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := victim.KillBootstrap(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-done
	w.proxy.Clear()
	out := must(dynamodb.NewFromConfig(w.cfg).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "lock#bucket#" + bucket}}, ConsistentRead: aws.Bool(true)}))
	if out.Item == nil {
		t.Fatal("no lock item: the kill did not happen under the lock")
	}
	lease, _ := strconv.ParseInt(attrS(out.Item, "lease"), 10, 64)
	left := time.UnixMilli(lease).Sub(killed)
	if left > 3*time.Second+500*time.Millisecond {
		t.Errorf("the dead holder's lock holds %v past the kill; want at most the 3 s lease", left.Round(100*time.Millisecond))
	}
	t.Logf("the dead holder's lock held %v past the kill", left.Round(100*time.Millisecond))
	if r := fn.MustInvoke(t, ev{principal: session("next")}.json()); r.Err != "" {
		t.Fatal(r.Err)
	}
	if !slices.Contains(w.denied(), roleARN("next")) {
		t.Fatalf("the next quarantine on the bucket did not land: denied = %q", w.denied())
	}
}

// TestDependencyHangDoesNotHoldPaging: a Security Hub or DynamoDB that
// hangs holds an alert invocation for a few seconds at most (their call
// budgets), not the SDK's 15 s call budget: with reserved concurrency 20,
// invocation time is what caps the pages a second. The page goes out
// every time. The bound asserted is 7 s, against 13-21 s before.
func TestDependencyHangDoesNotHoldPaging(t *testing.T) {
	w := newWorld(t, map[string]string{"FINDINGS": "securityhub"})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
	var figures strings.Builder
	for i, service := range []string{"securityhub", "dynamodb"} {
		w.proxy.Inject(&harness.Fault{Service: service, Hang: true})
		t0 := time.Now()
		r := fn.MustInvoke(t, ev{principal: session("writer"), ip: fmt.Sprintf("198.51.100.%d", 20+i)}.json())
		took := time.Since(t0)
		w.proxy.Clear()
		if r.Err != "" {
			t.Errorf("%s hang: the invocation failed: %s", service, r.Err)
		}
		if got := w.alerts(time.Second); len(got) != 1 {
			t.Errorf("%s hang: %d pages; want 1", service, len(got))
		}
		if took > 7*time.Second {
			t.Errorf("%s hang held the alert invocation %v; want under 7 s", service, took.Round(100*time.Millisecond))
		}
		fmt.Fprintf(&figures, "| %s | %v |\n", service, took.Round(100*time.Millisecond))
	}
	t.Logf("\n| hung dependency | alert invocation took |\n|---|---|\n%s", figures.String())
}

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/s3xguard/s3xguard/test/asff"
	"github.com/s3xguard/s3xguard/test/harness"
)

// findings reads every finding moto's Security Hub holds (moto 5.2.5
// ignores GetFindings' filters: the test reads them all).
func (w *world) findings() []types.AwsSecurityFinding {
	w.t.Helper()
	c := securityhub.NewFromConfig(w.cfg)
	var all []types.AwsSecurityFinding
	in := &securityhub.GetFindingsInput{}
	for {
		out := must(c.GetFindings(context.Background(), in))
		all = append(all, out.Findings...)
		if out.NextToken == nil || *out.NextToken == "" {
			return all
		}
		in.NextToken = out.NextToken
	}
}

// TestSecurityHubFinding: with FINDINGS=securityhub an unauthorized event
// is paged and imported as a finding valid by AWS's ASFF reference
// (test/asff); the window's repeats, summarized by the sweep, update the
// same finding's count, never adding one.
func TestSecurityHubFinding(t *testing.T) {
	const window = 4 * time.Second
	w := newWorld(t, map[string]string{"FINDINGS": "securityhub", "DEDUP_WINDOW": window.String()})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // past cold start; allowed: no finding
	if got := w.findings(); len(got) != 0 {
		t.Fatalf("an allowed event made %d findings", len(got))
	}

	start := time.Now()
	for range 3 {
		if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
			t.Fatalf("invoke: %s\n%s", r.Err, fn.Log())
		}
	}
	if got := w.alerts(time.Second); len(got) != 1 {
		t.Fatalf("3 events in one window: %d alerts; want 1", len(got))
	}
	got := w.findings()
	if len(got) != 1 {
		t.Fatalf("3 events in one window: %d findings; want 1\n%s", len(got), fn.Log())
	}
	f := got[0]
	js, _ := json.Marshal(f)
	for _, err := range asff.Validate(js) {
		t.Errorf("the imported finding: %v\n%s", err, js)
	}
	for k, want := range map[string]string{
		"s3xguard/Kind": "unauthorized", "s3xguard/Count": "1", "s3xguard/EventName": "PutObject",
		"s3xguard/Principal": "arn:aws:iam::123456789012:role/writer", "s3xguard/Source": "function", "s3xguard/Action": "alert only",
	} {
		if f.ProductFields[k] != want {
			t.Errorf("ProductFields[%s] = %q; want %q", k, f.ProductFields[k], want)
		}
	}
	if *f.AwsAccountId != account || f.Severity == nil || f.Severity.Label != types.SeverityLabelHigh ||
		!strings.HasSuffix(*f.ProductArn, ":"+account+":product/"+account+"/default") {
		t.Errorf("finding %s", js)
	}
	id := *f.Id

	// The sweep after the window: the summary pages, and the finding is
	// updated in place with the count (1 + 2 repeats).
	time.Sleep(time.Until(start.Add(window + 500*time.Millisecond)))
	w.proxy.Reset()
	if r := fn.MustInvoke(t, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if got := w.alerts(time.Second); len(got) != 1 || got[0].Attributes["kind"] != "summary" {
		t.Fatalf("sweep: %+v; want one summary", got)
	}
	got = w.findings()
	if len(got) != 1 || *got[0].Id != id || got[0].ProductFields["s3xguard/Count"] != "3" {
		t.Fatalf("after the sweep: %d findings, %+v; want the one finding %s with count 3", len(got), got, id)
	}
	if *got[0].UpdatedAt <= *f.UpdatedAt {
		t.Errorf("UpdatedAt %s not after %s: Security Hub would ignore the update", *got[0].UpdatedAt, *f.UpdatedAt)
	}
	js, _ = json.Marshal(got[0])
	for _, err := range asff.Validate(js) {
		t.Errorf("the updated finding: %v", err)
	}
	// One read and one import for the update, none per repeat.
	if c := w.proxy.Calls(); c["securityhub:POST?"] != 2 {
		t.Errorf("sweep's Security Hub calls: %s; want one GetFindings and one BatchImportFindings", harness.FormatCalls(c))
	}
}

// TestSecurityHubFaultsKeepThePage: Security Hub failing, throttling or
// hanging loses no page and fails no invocation; the finding is counted
// as failed (FindingsFailed) and logged.
func TestSecurityHubFaultsKeepThePage(t *testing.T) {
	w := newWorld(t, map[string]string{"FINDINGS": "securityhub"})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
	for i, f := range []*harness.Fault{
		{Service: "securityhub", Status: 500},
		{Service: "securityhub", Throttle: true},
		{Service: "securityhub", Hang: true},
	} {
		w.proxy.Clear()
		w.proxy.Inject(f)
		ip := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}[i]
		w.proxy.Reset()
		done := make(chan harness.Result, 1)
		go func() { done <- fn.MustInvoke(t, ev{principal: session("writer"), ip: ip}.json()) }()
		// The page is out before the import is tried. (The import is
		// bounded, FindingsBudget: a hang may end before the page is read
		// from the queue, so the order is read at the proxy.)
		for f.Hits(w.proxy) == 0 {
			select {
			case r := <-done:
				t.Fatalf("fault %+v: the invocation ended (%+v) without trying the import", *f, r)
			case <-time.After(10 * time.Millisecond):
			}
		}
		if c := w.proxy.Calls(); c["sns:Publish"] != 1 {
			t.Errorf("fault %+v: %d publishes before the first import; want the page first", *f, c["sns:Publish"])
		}
		got := w.alerts(time.Second)
		if len(got) != 1 || got[0].Attributes["kind"] != "unauthorized" {
			t.Fatalf("fault %+v: %d alerts; want the page", *f, len(got))
		}
		r := <-done
		if r.Err != "" {
			t.Fatalf("fault %+v: the invocation failed: %s", *f, r.Err)
		}
		if f.Hits(w.proxy) == 0 {
			t.Errorf("fault %+v never hit: no import tried", *f)
		}
	}
	w.proxy.Clear()
	if got := w.findings(); len(got) != 0 {
		t.Errorf("%d findings imported through the faults", len(got))
	}
	log := fn.Log()
	if !strings.Contains(log, "findings not imported (the alerts were sent)") || !strings.Contains(log, `"FindingsFailed":1`) {
		t.Errorf("no error line or FindingsFailed metric:\n%s", log)
	}
}

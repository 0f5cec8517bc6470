package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/test/harness"
)

// matrixTimeout is the function timeout of the fault matrix (seconds): short,
// so that hangs past the deadline finish quickly. A claim's lease is at most
// this long.
const matrixTimeout = 5

// cell is one fault of the matrix.
type cell struct {
	service, fault string
	inject         func() *harness.Fault
	// kill: SIGKILL the bootstrap while it is held inside the faulted call.
	kill bool
}

func matrixCells() []cell {
	var cells []cell
	for _, s := range []struct{ service, first string }{{"sns", "Publish"}, {"dynamodb", "PutItem"}} {
		s := s
		cells = append(cells,
			cell{s.service, "HTTP 500, twice (transient)", func() *harness.Fault { return &harness.Fault{Service: s.service, Status: 500, Times: 2} }, false},
			cell{s.service, "HTTP 500 until cleared", func() *harness.Fault { return &harness.Fault{Service: s.service, Status: 500} }, false},
			cell{s.service, "throttling until cleared", func() *harness.Fault { return &harness.Fault{Service: s.service, Throttle: true} }, false},
			cell{s.service, "hang past the deadline", func() *harness.Fault { return &harness.Fault{Service: s.service, Hang: true} }, false},
			cell{s.service, "lost response (" + s.first + " took effect)", func() *harness.Fault {
				return &harness.Fault{Service: s.service, Action: s.first, Lost: true, Times: 1}
			}, false},
		)
	}
	return append(cells,
		cell{"dynamodb", "HTTP 500 on mark sent (UpdateItem) until cleared", func() *harness.Fault {
			return &harness.Fault{Service: "dynamodb", Action: "UpdateItem", Status: 500}
		}, false},
		cell{"dynamodb", "kill -9 mid-dedup (claim PutItem)", func() *harness.Fault { return &harness.Fault{Service: "dynamodb", Action: "PutItem", Hang: true} }, true},
		cell{"sns", "kill -9 mid-publish", func() *harness.Fault { return &harness.Fault{Service: "sns", Action: "Publish", Hang: true} }, true},
		cell{"dynamodb", "kill -9 after publish, before marked sent", func() *harness.Fault {
			return &harness.Fault{Service: "dynamodb", Action: "UpdateItem", Hang: true}
		}, true},
	)
}

// row is one line of the matrix's table.
type row struct {
	c                                  cell
	failed, retried, alerts, dups, may int
	repeats                            string
	problems                           []string
	firstAlerts                        []alert
}

// TestMatrix injects each fault into the real function's calls to SNS or
// DynamoDB (through the proxy), with three unauthorized events (two of one
// dedup key A, one of key B); then clears the fault and makes the retries
// Lambda makes for an asynchronous invocation that failed (2, here one
// function timeout apart, which is at least a claim's lease), and delivers
// every event once more (the asynchronous queue can deliver an event
// twice). Then it reads the final state: the alerts in the subscribed queue
// and the dedup records. Pass: every event is covered by a delivered alert
// or counted as a repeat of one, every record says sent, and each key has
// at most one duplicate alert.
func TestMatrix(t *testing.T) {
	var mu sync.Mutex
	var rows []row
	for i, c := range matrixCells() {
		t.Run(fmt.Sprintf("%02d %s %s", i, c.service, c.fault), func(t *testing.T) {
			t.Parallel()
			r := runCell(t, c)
			mu.Lock()
			rows = append(rows, r)
			mu.Unlock()
			for _, p := range r.problems {
				t.Error(p)
			}
		})
	}
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "\nfault matrix: 3 unauthorized events (keys A, A, B), function timeout %d s, fault cleared, then Lambda's retries and a second delivery of every event\n", matrixTimeout)
		fmt.Fprintf(&b, "| service | fault | invocations failed | retried until sent | alerts | duplicates | flagged mayBeDuplicate | repeats counted (A, B) | result |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range matrixCells() {
			for _, r := range rows {
				if r.c.service == c.service && r.c.fault == c.fault {
					res := "pass"
					if len(r.problems) > 0 {
						res = "FAIL: " + strings.Join(r.problems, "; ")
					}
					fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %s | %s |\n", r.c.service, r.c.fault, r.failed, r.retried, r.alerts, r.dups, r.may, r.repeats, res)
				}
			}
		}
		t.Log(b.String())
	})
}

func runCell(t *testing.T, c cell) row {
	r := row{c: c}
	w := newWorld(t, map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": fmt.Sprint(matrixTimeout)})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // past cold start
	const ipA, ipB = "203.0.113.10", "203.0.113.20"
	events := []struct {
		ip      string
		payload []byte
	}{
		{ipA, ev{principal: session("writer"), ip: ipA}.json()},
		{ipA, ev{principal: session("writer"), ip: ipA, name: "DeleteObject"}.json()},
		{ipB, ev{principal: session("writer"), ip: ipB}.json()},
	}
	invoke := func(p []byte) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*matrixTimeout*time.Second)
		defer cancel()
		res, err := fn.Invoke(ctx, p)
		return err == nil && res.Err == ""
	}

	f := w.proxy.Inject(c.inject())
	var failed [][]byte
	first := events
	if c.kill {
		done := make(chan bool)
		go func() { done <- invoke(events[0].payload) }()
		for deadline := time.Now().Add(10 * time.Second); f.Hits(w.proxy) == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				r.problems = append(r.problems, "the fault was never reached")
				return r
			}
		}
		if err := fn.KillBootstrap(); err != nil {
			t.Fatal(err)
		}
		if <-done {
			r.problems = append(r.problems, "the killed invocation succeeded")
		}
		r.failed++
		failed = append(failed, events[0].payload)
		w.proxy.Clear()
		fn.Stop()
		fn = w.function() // Lambda starts a new execution environment
		first = events[1:]
	}
	for _, e := range first {
		if !invoke(e.payload) {
			r.failed++
			failed = append(failed, e.payload)
		}
	}
	w.proxy.Clear()
	// Lambda retries a failed asynchronous invocation twice.
	for attempt := 0; attempt < 2 && len(failed) > 0; attempt++ {
		time.Sleep(matrixTimeout * time.Second)
		var still [][]byte
		for _, p := range failed {
			r.retried++
			if !invoke(p) {
				still = append(still, p)
			}
		}
		failed = still
	}
	if len(failed) > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d events still failing after Lambda's retries", len(failed)))
	}
	// The scheduled sweep (every minute) writes what an instance counted
	// while the table was down. Coverage is read now, before any event is
	// delivered again: each repeat then stands for one event of the three.
	if res := fn.MustInvoke(t, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)); res.Err != "" {
		r.problems = append(r.problems, "sweep: "+res.Err)
	}
	covered := map[string]int{}
	for _, ip := range []string{ipA, ipB} {
		covered[ip], _ = strconv.Atoi(attrS(w.dedupItem("writer", ip), "repeats"))
	}
	alertedFirst := map[string]bool{}
	for _, a := range w.alerts(2 * time.Second) {
		alertedFirst[fmt.Sprint(field(a.Doc, "event", "id"))] = true
		r.alerts++
		r.firstAlerts = append(r.firstAlerts, a)
	}
	for _, e := range events {
		if !alertedFirst[eventID(e.payload)] {
			if covered[e.ip] == 0 {
				r.problems = append(r.problems, fmt.Sprintf("key %s: event %s in no alert and not counted", e.ip, eventID(e.payload)))
			}
			covered[e.ip]--
		}
	}
	for _, e := range events { // the async queue may deliver twice
		if !invoke(e.payload) {
			r.problems = append(r.problems, "a second delivery failed")
		}
	}

	// Final state.
	alerts := append(r.firstAlerts, w.alerts(2*time.Second)...)
	r.alerts = len(alerts)
	perKey := map[string]map[string]int{} // ip -> event ID -> alerts
	for _, a := range alerts {
		ip := fmt.Sprint(field(a.Doc, "event", "sourceIP"))
		if perKey[ip] == nil {
			perKey[ip] = map[string]int{}
		}
		perKey[ip][fmt.Sprint(field(a.Doc, "event", "id"))]++
		if a.Doc["mayBeDuplicate"] == true {
			r.may++
		}
	}
	var reps []string
	for _, ip := range []string{ipA, ipB} {
		it := w.dedupItem("writer", ip)
		if st := attrS(it, "status"); st != "sent" {
			r.problems = append(r.problems, fmt.Sprintf("key %s: record status %q; want sent", ip, st))
		}
		var repeats int
		fmt.Sscan(attrS(it, "repeats"), &repeats)
		reps = append(reps, fmt.Sprint(repeats))
		n := 0
		for _, k := range perKey[ip] {
			n += k
		}
		if n == 0 {
			r.problems = append(r.problems, fmt.Sprintf("key %s: no alert delivered", ip))
		}
		if n > 2 {
			r.problems = append(r.problems, fmt.Sprintf("key %s: %d alerts; want at most one duplicate", ip, n))
		}
		r.dups += max(n-1, 0)
	}
	r.repeats = strings.Join(reps, ", ")
	if len(r.problems) > 0 {
		t.Logf("function log:\n%s", fn.Log())
	}
	return r
}

func eventID(payload []byte) string {
	var e struct{ Detail struct{ EventID string } }
	json.Unmarshal(payload, &e)
	return e.Detail.EventID
}

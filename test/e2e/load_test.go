package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/test/harness"
)

// TestLoadUnderFaults is the load figure under faults: 2,000 unauthorized
// events from 50 principals (200 dedup keys) and 20,000 allowed ones,
// shuffled, through SQS batches of 100 on 4 instances, with SNS throttling
// every publish for the first 15 s of the run. Failed messages are
// redelivered as SQS does until none fails. Then every unauthorized event
// must be in a delivered alert or counted as a repeat of one. A measurement:
// it runs only with S3XGUARD_FIGURES=1.
func TestLoadUnderFaults(t *testing.T) {
	if os.Getenv("S3XGUARD_FIGURES") != "1" {
		t.Skip("set S3XGUARD_FIGURES=1 (or run test/figures) to measure")
	}
	const principals, ips, perKey, allowed, instances, batchSize = 50, 4, 10, 20_000, 4, 100
	w := newWorld(t, map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "30"})
	type msg struct {
		body []byte
		key  string
		id   string
	}
	var msgs []msg
	for p := range principals {
		for i := range ips {
			ip := fmt.Sprintf("203.0.113.%d", i+1)
			for range perKey {
				b := ev{principal: session(fmt.Sprintf("load%02d", p)), ip: ip}.json()
				msgs = append(msgs, msg{b, fmt.Sprintf("load%02d|%s", p, ip), eventID(b)})
			}
		}
	}
	unauthorized := len(msgs)
	for i := range allowed {
		msgs = append(msgs, msg{body: ev{principal: session("etl"), ip: fmt.Sprintf("10.0.%d.%d", i/250, i%250)}.json()})
	}
	rand.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })

	fns := make([]*harness.Lambda, instances)
	for i := range fns {
		fns[i] = w.function()
	}
	throttle := w.proxy.Inject(&harness.Fault{Service: "sns", Action: "Publish", Throttle: true})
	start := time.Now()
	go func() {
		time.Sleep(15 * time.Second)
		w.proxy.Clear()
	}()
	pending, rounds, redelivered, failedInvocations := msgs, 0, 0, 0
	for len(pending) > 0 && rounds < 10 {
		rounds++
		batches := make(chan []msg)
		var mu sync.Mutex
		var again []msg
		var wg sync.WaitGroup
		for _, fn := range fns {
			wg.Go(func() {
				for b := range batches {
					var bodies [][]byte
					for _, m := range b {
						bodies = append(bodies, m.body)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
					r, err := fn.Invoke(ctx, sqsBatch(bodies...))
					cancel()
					var resp struct {
						BatchItemFailures []struct{ ItemIdentifier string }
					}
					if err != nil || r.Err != "" || json.Unmarshal(r.Body, &resp) != nil {
						mu.Lock()
						failedInvocations++
						again = append(again, b...) // the whole batch comes back
						mu.Unlock()
						continue
					}
					mu.Lock()
					for _, f := range resp.BatchItemFailures {
						i, _ := strconv.Atoi(f.ItemIdentifier[1:])
						again = append(again, b[i])
					}
					mu.Unlock()
				}
			})
		}
		for i := 0; i < len(pending); i += batchSize {
			batches <- pending[i:min(i+batchSize, len(pending))]
		}
		close(batches)
		wg.Wait()
		redelivered += len(again)
		pending = again
	}
	took := time.Since(start)
	if len(pending) > 0 {
		t.Fatalf("%d messages still failing after %d rounds", len(pending), rounds)
	}

	alerts := w.alerts(3 * time.Second)
	alerted := map[string]map[string]int{} // key -> event ID -> alerts
	may := 0
	for _, a := range alerts {
		role := fmt.Sprint(field(a.Doc, "principal", "normalized"))
		k := role[len(role)-6:] + "|" + fmt.Sprint(field(a.Doc, "event", "sourceIP"))
		if alerted[k] == nil {
			alerted[k] = map[string]int{}
		}
		alerted[k][fmt.Sprint(field(a.Doc, "event", "id"))]++
		if a.Doc["mayBeDuplicate"] == true {
			may++
		}
	}
	lost, counted, dups := 0, 0, 0
	events := map[string][]string{}
	for _, m := range msgs {
		if m.key != "" {
			events[m.key] = append(events[m.key], m.id)
		}
	}
	for k, ids := range events {
		var p, ip string
		fmt.Sscanf(k, "%6s|%s", &p, &ip)
		repeats, _ := strconv.Atoi(attrS(w.dedupItem(p, ip), "repeats"))
		counted += repeats
		uncovered, n := 0, 0
		for _, id := range ids {
			if alerted[k][id] == 0 {
				uncovered++
			}
		}
		for _, c := range alerted[k] {
			n += c
		}
		dups += max(n-1, 0)
		lost += max(uncovered-repeats, 0)
	}
	fmt.Printf("\nload under faults (%d unauthorized events from %d principals, %d dedup keys, %d allowed; SQS batches of %d on %d instances; SNS Publish throttled for the first 15 s, %d calls throttled):\n",
		unauthorized, principals, len(events), allowed, batchSize, instances, throttle.Hits(w.proxy))
	fmt.Printf("  took %.1f s in %d delivery rounds; %d messages redelivered, %d invocations failed whole\n", took.Seconds(), rounds, redelivered, failedInvocations)
	fmt.Printf("  alerts %d (keys %d, duplicates %d, flagged mayBeDuplicate %d); repeats counted %d; lost %d\n", len(alerts), len(alerted), dups, may, counted, lost)
	if lost != 0 {
		t.Errorf("%d unauthorized events lost", lost)
	}
}

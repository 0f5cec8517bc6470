package handler

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// tally counts what one invocation did. It has no lock: each message of
// a batch counts into its own, and the batch adds them up at the end.
type tally struct {
	Events, Allowed, Ignored, Unauthorized, Invalid int
	Forged                                          int
	Alerts, Suppressed, Summaries, Quarantines      int
	DryRuns, Errors                                 int
	// BreakerTripped counts the breaker's trips paged in this invocation
	// (the stack's breaker alarm watches it).
	BreakerTripped int
	// SessionMoved counts session-moved alerts; SessionUnchecked the zonal
	// calls whose session could not be looked up (the table failed).
	SessionMoved, SessionUnchecked int

	// Findings and FindingsFailed count the findings imported into
	// Security Hub, and those it did not take (FINDINGS=securityhub).
	Findings, FindingsFailed int

	// BusEvents and BusFailed count the events put on ALERT_BUS, and
	// those it did not take (the page went out regardless).
	BusEvents, BusFailed int

	// findings is what this invocation has to import (securityhub.go).
	findings findingQueue
}

// fields are the counters, in the order of metricNames.
func (t *tally) fields() []*int {
	return []*int{&t.Events, &t.Allowed, &t.Ignored, &t.Unauthorized, &t.Invalid, &t.Forged, &t.Alerts, &t.Suppressed,
		&t.Summaries, &t.Quarantines, &t.DryRuns, &t.Errors, &t.BreakerTripped, &t.Findings, &t.FindingsFailed, &t.SessionMoved, &t.SessionUnchecked, &t.BusEvents, &t.BusFailed}
}

// add adds o's counts to t.
func (t *tally) add(o *tally) {
	of := o.fields()
	for i, f := range t.fields() {
		*f += *of[i]
	}
	t.findings.add(&o.findings)
}

// Metrics writes one CloudWatch Embedded Metric Format line per invocation
// to the function's log: CloudWatch turns it into metrics, without an API
// call on the event path.
type Metrics struct {
	mu        sync.Mutex
	W         io.Writer
	Namespace string
	Mode      string
}

var metricNames = []string{"Events", "Allowed", "Ignored", "Unauthorized", "Invalid", "Forged", "Alerts", "Suppressed", "Summaries", "Quarantines", "DryRuns", "Errors", "BreakerTripped", "Findings", "FindingsFailed", "SessionMoved", "SessionUnchecked", "BusEvents", "BusFailed"}

// Emit writes the line.
func (mt *Metrics) Emit(t *tally) {
	values := t.fields()
	defs := make([]map[string]string, len(metricNames))
	line := map[string]any{"Mode": mt.Mode}
	for i, n := range metricNames {
		defs[i] = map[string]string{"Name": n, "Unit": "Count"}
		line[n] = *values[i]
	}
	line["_aws"] = map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": mt.Namespace, "Dimensions": [][]string{{"Mode"}}, "Metrics": defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	mt.mu.Lock()
	defer mt.mu.Unlock()
	mt.W.Write(append(b, '\n'))
}

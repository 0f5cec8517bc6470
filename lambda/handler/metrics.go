package handler

import (
	"encoding/json"
	"io"
	"strconv"
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
//
// The line is on every invocation's path, most of them allowed events
// that cost a few microseconds: everything but the timestamp and the
// counts is encoded once, and the line is appended into a buffer kept
// between invocations, without allocating.
type Metrics struct {
	mu        sync.Mutex
	W         io.Writer
	Namespace string
	Mode      string

	// head is the line up to the timestamp, mode the rest up to the
	// counts; buf is the line being written (under mu).
	head, mode []byte
	buf        []byte
}

var metricNames = [...]string{"Events", "Allowed", "Ignored", "Unauthorized", "Invalid", "Forged", "Alerts", "Suppressed", "Summaries", "Quarantines", "DryRuns", "Errors", "BreakerTripped", "Findings", "FindingsFailed", "SessionMoved", "SessionUnchecked", "BusEvents", "BusFailed"}

// counts are the counters, in the order of metricNames; an array, not
// fields' pointers, so that reading them allocates nothing. Its length is
// metricNames': a counter added to one and not the other does not compile.
func (t *tally) counts() [len(metricNames)]int {
	return [...]int{t.Events, t.Allowed, t.Ignored, t.Unauthorized, t.Invalid, t.Forged, t.Alerts, t.Suppressed,
		t.Summaries, t.Quarantines, t.DryRuns, t.Errors, t.BreakerTripped, t.Findings, t.FindingsFailed, t.SessionMoved, t.SessionUnchecked,
		t.BusEvents, t.BusFailed}
}

// countKeys are `,"Events":` and so on, as the line writes them.
var countKeys = func() [][]byte {
	keys := make([][]byte, len(metricNames))
	for i, n := range metricNames {
		keys[i] = []byte(`,"` + n + `":`)
	}
	return keys
}()

// prepare encodes the line's fixed parts: the metric declarations,
// namespace and mode (json.Marshal escapes what configuration holds).
func (mt *Metrics) prepare() {
	defs := make([]map[string]string, len(metricNames))
	for i, n := range metricNames {
		defs[i] = map[string]string{"Name": n, "Unit": "Count"}
	}
	decl, err1 := json.Marshal([]map[string]any{{"Namespace": mt.Namespace, "Dimensions": [][]string{{"Mode"}}, "Metrics": defs}})
	mode, err2 := json.Marshal(mt.Mode)
	if err1 != nil || err2 != nil {
		// Strings and maps of strings always encode.
		panic("metrics: the EMF declaration does not encode")
	}
	mt.head = append(append([]byte(`{"_aws":{"CloudWatchMetrics":`), decl...), `,"Timestamp":`...)
	mt.mode = append([]byte(`},"Mode":`), mode...)
}

// Emit writes the line. A nil Metrics writes nothing.
func (mt *Metrics) Emit(t *tally) {
	if mt == nil {
		return
	}
	counts := t.counts()
	now := time.Now().UnixMilli()
	mt.mu.Lock()
	defer mt.mu.Unlock()
	if mt.head == nil {
		mt.prepare()
	}
	b := append(mt.buf[:0], mt.head...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, mt.mode...)
	for i, k := range countKeys {
		b = append(b, k...)
		b = strconv.AppendInt(b, int64(counts[i]), 10)
	}
	b = append(b, '}', '\n')
	mt.buf = b
	mt.W.Write(b)
}

package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"
)

// BenchmarkWarmAllowed is a warm invocation of one allowed event, the
// function's commonest, with the metrics line and without it (its
// baseline, in the same run), and the line alone.
func BenchmarkWarmAllowed(b *testing.B) {
	h := testHandler(b)
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	payload := event("etl", "PutObject", nil)
	for _, c := range []struct {
		name    string
		metrics *Metrics
	}{
		{"invocation", &Metrics{W: io.Discard, Namespace: "s3xguard", Mode: "alert"}},
		{"invocation without the metrics line", nil},
	} {
		h.Metrics = c.metrics
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("the metrics line alone", func(b *testing.B) {
		mt := &Metrics{W: io.Discard, Namespace: "s3xguard", Mode: "alert"}
		m := tally{Events: 1, Allowed: 1}
		b.ReportAllocs()
		for b.Loop() {
			mt.Emit(&m)
		}
	})
}

// emfLine is the line as the EMF specification lays it out, built the
// plain way (json.Marshal of maps): what Emit must write, in any key order.
func emfLine(namespace, mode string, t *tally, ts int64) map[string]any {
	defs := []any{}
	line := map[string]any{"Mode": mode}
	for i, n := range metricNames {
		defs = append(defs, map[string]any{"Name": n, "Unit": "Count"})
		line[n] = float64(*t.fields()[i])
	}
	line["_aws"] = map[string]any{
		"Timestamp": float64(ts),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": namespace, "Dimensions": []any{[]any{"Mode"}}, "Metrics": defs,
		}},
	}
	return line
}

// TestMetricsLine: each line is one JSON object, ended by a newline, equal
// to the EMF line built the plain way, every counter in its place; the
// namespace and mode are escaped; a second line reuses nothing of the
// first's counts.
func TestMetricsLine(t *testing.T) {
	var out bytes.Buffer
	mt := &Metrics{W: &out, Namespace: `s3x"guard`, Mode: "enforce\n"}
	var m tally
	for i, f := range m.fields() {
		*f = 1000 + i // each counter its own value: a swap shows
	}
	for _, m := range []*tally{&m, {Events: 1, Allowed: 1}} {
		out.Reset()
		before := time.Now().UnixMilli()
		mt.Emit(m)
		after := time.Now().UnixMilli()
		line := out.Bytes()
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("not one line: %q", line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		ts := got["_aws"].(map[string]any)["Timestamp"].(float64)
		if int64(ts) < before || int64(ts) > after {
			t.Errorf("Timestamp %v not the time of the call (%d..%d)", ts, before, after)
		}
		if want := emfLine(`s3x"guard`, "enforce\n", m, int64(ts)); !reflect.DeepEqual(got, want) {
			t.Errorf("line\n%s\nwant the same as\n%v", line, want)
		}
	}
}

// TestMetricsLineAllocatesNothing: the line costs no allocation once the
// first is written (it cost 192 when encoded with maps and json.Marshal).
func TestMetricsLineAllocatesNothing(t *testing.T) {
	mt := &Metrics{W: io.Discard, Namespace: "s3xguard", Mode: "alert"}
	m := tally{Events: 1, Allowed: 1}
	mt.Emit(&m)
	if n := testing.AllocsPerRun(100, func() { mt.Emit(&m) }); n != 0 {
		t.Errorf("%v allocations per line; want 0", n)
	}
}

// TestCountsFollowFields: counts (the line's) and fields (add's) name the
// counters in the same order, metricNames'.
func TestCountsFollowFields(t *testing.T) {
	var m tally
	fs := m.fields()
	if len(fs) != len(metricNames) || len(m.counts()) != len(metricNames) {
		t.Fatalf("%d fields, %d counts, %d names", len(fs), len(m.counts()), len(metricNames))
	}
	for i, f := range fs {
		*f = i + 1
	}
	for i, c := range m.counts() {
		if c != i+1 {
			t.Errorf("counts()[%d] (%s) = %d; want %d", i, metricNames[i], c, i+1)
		}
	}
}

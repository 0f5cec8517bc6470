package state

import (
	"testing"
	"time"
)

func TestPendingEntryRoundTrip(t *testing.T) {
	w := &Window{Key: "unauthorized|arn:aws:iam::1:role/r|b--use1-az4--x-s3|203.0.113.1", Start: time.UnixMilli(1000), End: time.UnixMilli(301000)}
	got, ok := parsePending(pendingEntry(w))
	if !ok || got.Key != w.Key || !got.Start.Equal(w.Start) || !got.End.Equal(w.End) {
		t.Fatalf("got %+v, %v; want %+v", got, ok, w)
	}
	for _, bad := range []string{"", "x|k|1", "1|k|y", "1"} {
		if _, ok := parsePending(bad); ok {
			t.Errorf("parsePending(%q) accepted", bad)
		}
	}
}

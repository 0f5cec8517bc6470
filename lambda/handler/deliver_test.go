package handler

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/state"
)

// Without the table, the events of one key in flight at once in one
// instance have one sender; the others wait for its window and count.
func TestMemoryOneSenderPerKey(t *testing.T) {
	var mem memory
	var senders, counted atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, _, release := mem.countOrClaim(context.Background(), "k", alert.High)
			if ok {
				counted.Add(1)
				return
			}
			defer release()
			senders.Add(1)
			time.Sleep(20 * time.Millisecond) // publishing
			mem.remember(state.Window{Key: "k", End: time.Now().Add(time.Minute), Severity: int(alert.High)})
		})
	}
	wg.Wait()
	if senders.Load() != 1 || counted.Load() != 15 {
		t.Fatalf("%d senders, %d counted among 16; want 1 and 15", senders.Load(), counted.Load())
	}
	// A sender that could not send lets the next one try.
	_, _, release := mem.countOrClaim(context.Background(), "other", alert.High)
	release()
	if ok, _, release := mem.countOrClaim(context.Background(), "other", alert.High); ok || release == nil {
		t.Fatal("after a sender gave up, the next event counted against a window never remembered")
	}
}

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// The real bootstrap runs the allowlist the stack bundled (its hash in
// ALLOWLIST_SHA256) and refuses to start on any other: an allowlist
// edited in place, or stale, fails the cold start, naming both hashes,
// and decides nothing.
func TestAllowlistHashAtColdStart(t *testing.T) {
	sum := sha256.Sum256([]byte(allowlist))
	built := hex.EncodeToString(sum[:])

	w := newWorld(t, map[string]string{"ALLOWLIST_SHA256": built})
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("the bundled allowlist: %s\n%s", r.Err, fn.Log())
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 {
		t.Fatalf("the bundled allowlist: %d alerts; want 1", len(got))
	}
	fn.Stop()

	// Widened in place after the build: every role allowed.
	widened := strings.Replace(allowlist, `role/etl"]`, `role/*"]`, 1)
	if widened == allowlist {
		t.Fatal("the test's allowlist changed: widen it another way")
	}
	if err := os.WriteFile(w.env["ALLOWLIST"], []byte(widened), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := w.function()
	r, err := stale.Invoke(t.Context(), ev{principal: session("writer")}.json())
	if err == nil && r.Err == "" {
		t.Fatalf("an edited allowlist ran: %+v\n%s", r, stale.Log())
	}
	if log := stale.Log(); !strings.Contains(log, "ALLOWLIST_SHA256") || !strings.Contains(log, built) {
		t.Errorf("cold start log does not name the expected hash %s:\n%s", built, log)
	}
	if got := w.alerts(2 * time.Second); len(got) != 0 {
		t.Errorf("an edited allowlist: %d alerts; want none (nothing decided)", len(got))
	}
}

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/test/harness"
)

// The real bootstrap runs only the allowlist whose digest was linked into
// it when the stack bundled it. Neither the allowlist file nor the
// function's configuration can change that: an allowlist edited in place,
// a configuration naming another digest, and a bootstrap built without a
// digest all fail the cold start, naming the cause, and decide nothing.
func TestAllowlistPinnedAtColdStart(t *testing.T) {
	built := config.AllowlistDigest([]byte(allowlist))
	widened := strings.Replace(allowlist, `role/etl"]`, `role/*"]`, 1)
	if widened == allowlist {
		t.Fatal("the test's allowlist changed: widen it another way")
	}
	wide := config.AllowlistDigest([]byte(widened))

	w := newWorld(t, nil)
	fn := w.function()
	if w.pin != built {
		t.Fatalf("the world pinned %s; want %s", w.pin, built)
	}
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("the pinned allowlist: %s\n%s", r.Err, fn.Log())
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 {
		t.Fatalf("the pinned allowlist: %d alerts; want 1", len(got))
	}
	fn.Stop()

	for _, tt := range []struct {
		name string
		// file is the allowlist on disk; env the configuration's digest;
		// pin the digest linked into the bootstrap ("" for none).
		file, env, pin string
		want           []string
	}{
		// Widened in place after the build: every role allowed, and the
		// configuration left saying nothing, as before the pin it passed.
		{"file edited, configuration silent", widened, "", built, []string{"ALLOWLIST_SHA256", built, wide}},
		// The configuration's digest rewritten to match the widened file.
		{"file edited, configuration follows it", widened, wide, built, []string{"ALLOWLIST_SHA256", "this binary was built for the allowlist with SHA-256 " + built}},
		// A bootstrap built by hand, with no digest, in Lambda.
		{"no digest in the bootstrap", allowlist, "", "", []string{"ALLOWLIST_SHA256", "no allowlist digest compiled in"}},
		{"no digest in the bootstrap, configuration names one", allowlist, built, "", []string{"no allowlist digest compiled in"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, map[string]string{"ALLOWLIST_SHA256": tt.env})
			if err := os.WriteFile(w.env["ALLOWLIST"], []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			fn := harness.StartLambda(t, w.bootstrap(tt.pin), w.env)
			r, err := fn.Invoke(t.Context(), ev{principal: session("writer")}.json())
			if err == nil && r.Err == "" {
				t.Fatalf("the function started: %+v\n%s", r, fn.Log())
			}
			log := fn.Log()
			for _, want := range tt.want {
				if !strings.Contains(log, want) {
					t.Errorf("cold start log lacks %q:\n%s", want, log)
				}
			}
			if got := w.alerts(2 * time.Second); len(got) != 0 {
				t.Errorf("%d alerts; want none (nothing decided)", len(got))
			}
		})
	}
}

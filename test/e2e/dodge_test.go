package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/test/harness"
)

// A denied probe opens a dedup window that is alerted, not quarantined
// (QUARANTINE_FAILED_CALLS is off by default). The intruder's successful
// calls inside that window, with the same key (principal, bucket, source),
// must still be quarantined, and that quarantine paged; once it is in
// force, further repeats are only counted, with no bucket policy call.
func TestDeniedProbeDoesNotShadowTheQuarantine(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	fn := w.function()
	for _, name := range []string{"CreateSession", "PutObject", "DeleteObject"} {
		t.Run(name, func(t *testing.T) {
			role := "dodge-" + name
			w.createRole(role, "/")
			probe := ev{principal: session(role), name: "PutBucketPolicy", errorCode: "AccessDenied"}
			if r := fn.MustInvoke(t, probe.json()); r.Err != "" {
				t.Fatalf("probe: %s\n%s", r.Err, fn.Log())
			}
			got := w.alerts(time.Second)
			if len(got) != 1 || got[0].Attributes["action"] != "alert only" {
				t.Fatalf("probe alerts = %+v; want one, alert only", got)
			}
			// The probe again, as the intruder would each window: counted.
			if r := fn.MustInvoke(t, probe.json()); r.Err != "" {
				t.Fatal(r.Err)
			}
			if r := fn.MustInvoke(t, ev{principal: session(role), name: name}.json()); r.Err != "" {
				t.Fatalf("%s: %s\n%s", name, r.Err, fn.Log())
			}
			if !slices.Contains(w.denied(), roleARN(role)) {
				t.Fatalf("%s after a denied probe: denied = %q; want %s quarantined", name, w.denied(), role)
			}
			got = w.alerts(time.Second)
			if len(got) != 1 || got[0].Attributes["action"] != "quarantined" || got[0].Attributes["eventName"] != name {
				t.Fatalf("alerts after %s = %+v; want one page saying it was quarantined", name, got)
			}
			// In force: the next repeats are counted only.
			w.proxy.Reset()
			for range 2 {
				if r := fn.MustInvoke(t, ev{principal: session(role), name: name}.json()); r.Err != "" {
					t.Fatal(r.Err)
				}
			}
			if c := w.proxy.Calls(); c["s3express:GET?policy"]+c["s3express:PUT?policy"] != 0 {
				t.Errorf("repeats of a quarantined key called the bucket policy: %s", harness.FormatCalls(c))
			}
			if got := w.alerts(time.Second); len(got) != 0 {
				t.Errorf("repeats of a quarantined key paged: %d alerts", len(got))
			}
		})
	}
}

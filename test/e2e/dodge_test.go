package e2e

import (
	"fmt"
	"slices"
	"strings"
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

// TestRepeatQuarantinePagedAfterAFailedPublish: a repeat that quarantines
// and then cannot page it fails its invocation; the platform's retry of the
// same event finds the quarantine in force, put there by that event, and
// pages it, flagged as a possible duplicate. The code before counted the
// retry and paged nothing: on-call held only the window's "alert only".
func TestRepeatQuarantinePagedAfterAFailedPublish(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	fn := w.function()
	role := "dodge-unpaged"
	w.createRole(role, "/")
	probe := ev{principal: session(role), name: "PutBucketPolicy", errorCode: "AccessDenied"}
	if r := fn.MustInvoke(t, probe.json()); r.Err != "" {
		t.Fatalf("probe: %s\n%s", r.Err, fn.Log())
	}
	if got := w.alerts(time.Second); len(got) != 1 || got[0].Attributes["action"] != "alert only" {
		t.Fatalf("probe alerts = %+v; want one, alert only", got)
	}
	e := ev{principal: session(role), name: "CreateSession"}.json()
	w.proxy.Fail("sns", 500)
	if r := fn.MustInvoke(t, e); r.Err == "" {
		t.Fatalf("SNS failing: the repeat's invocation succeeded: %s", r.Body)
	}
	w.proxy.Fail("sns", 0)
	if !slices.Contains(w.denied(), roleARN(role)) {
		t.Fatalf("the repeat did not quarantine: denied = %q\n%s", w.denied(), fn.Log())
	}
	if got := w.alerts(time.Second); len(got) != 0 {
		t.Fatalf("%d alerts got out through a failing SNS", len(got))
	}
	// The platform retries the same event.
	if r := fn.MustInvoke(t, e); r.Err != "" {
		t.Fatalf("retry: %s\n%s", r.Err, fn.Log())
	}
	got := w.alerts(2 * time.Second)
	if len(got) != 1 || got[0].Attributes["eventName"] != "CreateSession" {
		t.Fatalf("retry alerts = %+v; want one page about the CreateSession\n%s", got, fn.Log())
	}
	if a := got[0]; a.Attributes["action"] != "already quarantined" || a.Doc["mayBeDuplicate"] != true ||
		!strings.Contains(fmt.Sprint(a.Doc["response"]), "an earlier attempt of this event") {
		t.Errorf("retry page: action %q, mayBeDuplicate %v, response %v; want the quarantine, by this event's earlier attempt, flagged",
			a.Attributes["action"], a.Doc["mayBeDuplicate"], a.Doc["response"])
	}
	// Paged: the window is settled, and the next repeat is counted only.
	if r := fn.MustInvoke(t, e); r.Err != "" {
		t.Fatal(r.Err)
	}
	if got := w.alerts(time.Second); len(got) != 0 {
		t.Errorf("a repeat after the page paged again: %d alerts", len(got))
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/test/harness"
)

// Attacks on the quarantine itself (issue 16): an edited statement, a
// guarded principal planted for adoption, a deleted principal, one role
// under many session names, and the roles the guard must never deny.

const writerARN = "arn:aws:iam::123456789012:role/app/team/writer"

// quarantineStmt is the statement s3xguard writes, with extra fields
// spliced in (",\"Condition\":{...}") or the Effect replaced.
func quarantineStmt(effect, extra string, principals ...string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"` + effect + `","Principal":{"AWS":["` +
		strings.Join(principals, `","`) + `"]},"Action":"s3express:CreateSession","Resource":"arn:aws:s3express:us-east-1:123456789012:bucket/` + bucket + `"` + extra + `}]}`
}

// settle runs the sweep until every record is done and want is denied
// (on a loaded machine a first quarantine may go pending), then drains
// the health queue: what the settling paged is not the test's.
func (w *world) settle(fn *harness.Lambda, health string, want ...string) {
	w.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Second) {
		fn.MustInvoke(w.t, sweepEvent)
		pending := 0
		for _, r := range w.records() {
			pending += len(r.Pending)
		}
		if slices.Equal(w.denied(), want) && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("not settled: denied %q, %d parts pending", w.denied(), pending)
		}
	}
	w.receive(health, 500*time.Millisecond)
	w.alerts(500 * time.Millisecond)
}

// An edit to the statement that keeps its principals (a Condition that
// never matches, the Effect turned to Allow) leaves access open while it
// looks quarantined: the next event re-applies it, the sweep restores it,
// and both page.
func TestEditedQuarantineStatementIsRestored(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TTL": "0"})
	health := w.withHealth()
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("writer")}.json())
	w.settle(fn, health, writerARN)
	intact := w.policy()

	w.putPolicy(quarantineStmt("Deny", `,"Condition":{"StringEquals":{"s3express:SessionMode":"NoSuchMode"}}`, writerARN))
	fn.MustInvoke(t, ev{principal: session("writer"), ip: "198.51.100.30"}.json())
	if a := w.alerts(2 * time.Second); len(a) != 1 || a[0].Attributes["action"] != "quarantined" {
		t.Fatalf("alerts = %+v; want quarantined (re-applied), not already quarantined", a)
	}
	if strings.Contains(w.policy(), "Condition") {
		t.Fatalf("policy still carries the Condition: %s", w.policy())
	}
	if n := w.receive(health, time.Second); len(n) != 1 || !strings.Contains(fmt.Sprint(field(n[0].Doc, "detail")), "Condition added") {
		t.Fatalf("health = %+v; want one notice naming the Condition", n)
	}

	w.putPolicy(quarantineStmt("Allow", "", writerARN))
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if got := w.policy(); got != intact {
		t.Fatalf("after the sweep policy = %s; want the statement s3xguard writes, %s", got, intact)
	}
	n := w.receive(health, time.Second)
	if len(n) != 1 || n[0].Attributes["notice"] != "edited" || !strings.Contains(fmt.Sprint(field(n[0].Doc, "detail")), "Effect changed") {
		t.Fatalf("health = %+v; want one edited notice naming the Effect", n)
	}
	w.quietSweep(fn, health, "a sweep after the restore")
}

// quietSweep runs a sweep that must find nothing to do: no health page, no
// bucket policy write.
func (w *world) quietSweep(fn *harness.Lambda, health, which string) {
	w.t.Helper()
	w.proxy.Reset()
	fn.MustInvoke(w.t, sweepEvent)
	if n := w.receive(health, time.Second); len(n) != 0 {
		w.t.Fatalf("%s paged again: %+v", which, n)
	}
	if c := w.proxy.Calls(); c["s3express:PUT?policy"] != 0 {
		w.t.Fatalf("%s wrote the policy: %s", which, harness.FormatCalls(c))
	}
}

// Principals planted in the statement for the sweep to adopt and defend
// go through the guard: the wildcard, the root, a protected role are
// removed and paged, never recorded; an ordinary one is adopted.
func TestAdoptionGoesThroughTheGuard(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "GUARDED_BUCKETS": bucket})
	health := w.withHealth()
	root := "arn:aws:iam::123456789012:root"
	w.putPolicy(quarantineStmt("Deny", "", "*", root, roleARN("BreakGlass"), writerARN))
	fn := w.function()
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if got := w.denied(); !slices.Equal(got, []string{writerARN}) {
		t.Fatalf("denied = %q; want the writer only", got)
	}
	recs := w.records()
	if len(recs) != 1 || recs[writerARN] == nil || !recs[writerARN].Adopted {
		t.Fatalf("records = %+v; want the writer adopted, nothing else", recs)
	}
	kinds := map[string][]string{}
	for _, n := range w.receive(health, time.Second) {
		kinds[n.Attributes["notice"]] = append(kinds[n.Attributes["notice"]], fmt.Sprint(field(n.Doc, "principals")))
	}
	if len(kinds["adopted"]) != 1 || len(kinds["refused"]) != 1 || len(kinds) != 2 {
		t.Fatalf("health = %v; want one adopted and one refused notice", kinds)
	}
	for _, p := range []string{"*", root, roleARN("BreakGlass")} {
		if !strings.Contains(kinds["refused"][0], p) {
			t.Errorf("refused notice %s does not name %s", kinds["refused"][0], p)
		}
	}
	fn.MustInvoke(t, sweepEvent)
	if n := w.receive(health, time.Second); len(n) != 0 {
		t.Fatalf("second sweep paged again: %+v", n)
	}
	if got := w.denied(); !slices.Equal(got, []string{writerARN}) {
		t.Fatalf("second sweep: denied = %q; want the refused ones never re-applied", got)
	}
}

// A quarantined role deleted: AWS shows its unique ID in the policy and
// rejects a write that names its ARN. The sweep drops it (its record says
// why), pages once, and still re-applies the other principal of the
// bucket that went missing at the same time.
func TestDeletedQuarantinedPrincipalIsDroppedOnce(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TTL": "0"})
	health := w.withHealth()
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("writer")}.json())
	fn.MustInvoke(t, ev{principal: session("etl")}.json())
	w.settle(fn, health, writerARN, roleARN("etl"))

	// What AWS shows once the writer is deleted, with etl removed by hand.
	w.putPolicy(quarantineStmt("Deny", "", "AROAEXAMPLEWRITER0001"))
	reject := w.proxy.Inject(&harness.Fault{Service: "s3express", Action: "PUT?policy", BodyContains: writerARN,
		Status: 400, Code: "MalformedPolicy", Message: "Invalid principal in policy"})
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if reject.Hits(w.proxy) == 0 {
		t.Fatal("the sweep never tried to write the deleted principal: the test proves nothing")
	}
	if got := w.denied(); !slices.Equal(got, []string{roleARN("etl")}) {
		t.Fatalf("denied = %q; want etl re-applied, the writer and the unique ID dropped", got)
	}
	r := w.records()[writerARN]
	if r == nil || !strings.Contains(r.Gone, "Invalid principal") || len(r.Pending) != 0 {
		t.Fatalf("writer record = %+v; want gone, saying why, nothing pending", r)
	}
	kinds := map[string]int{}
	for _, n := range w.receive(health, time.Second) {
		kinds[n.Attributes["notice"]]++
	}
	if kinds["gone"] != 1 || kinds["drift"] != 1 || kinds["pending"] != 0 {
		t.Fatalf("health = %v; want one gone and one drift notice, nothing pending", kinds)
	}
	for range 2 {
		w.quietSweep(fn, health, "a later sweep")
	}
}

// With QUARANTINE_TARGET=session, one role under many session names takes
// one breaker slot: it cannot switch enforcement off for the hour by
// itself. Once the breaker is open every refusal pages, not the first
// only.
func TestBreakerCountsRolesNotSessions(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TARGET": "session",
		"QUARANTINE_MAX_PER_HOUR": "2", "QUARANTINE_MAX_PER_BUCKET_HOUR": "10"})
	health := w.withHealth()
	for _, r := range []string{"intruder", "intruder-2", "intruder-3"} {
		w.createRole(r, "/")
	}
	fn := w.function()
	var want []string
	for i := range 5 {
		s := fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/writer/name-%d", i)
		want = append(want, s)
		// From another address each: one alert per caller per origin.
		fn.MustInvoke(t, ev{principal: s, ip: fmt.Sprintf("198.51.100.%d", 40+i)}.json())
	}
	fn.MustInvoke(t, ev{principal: session("intruder")}.json())
	want = append(want, session("intruder"))
	fn.MustInvoke(t, ev{principal: session("intruder-2")}.json())
	fn.MustInvoke(t, ev{principal: session("intruder-3")}.json())
	slices.Sort(want)
	if got := w.denied(); !slices.Equal(got, want) {
		t.Fatalf("denied = %q; want the writer's five sessions and the first intruder", got)
	}
	refused := 0
	for _, a := range w.alerts(2 * time.Second) {
		if strings.Contains(fmt.Sprint(field(a.Doc, "response", "detail")), "circuit breaker") {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d alerts refused by the breaker; want 2 (intruder-2 and -3)", refused)
	}
	var pages []string
	for _, n := range w.receive(health, time.Second) {
		pages = append(pages, n.Attributes["notice"]+" "+fmt.Sprint(field(n.Doc, "principals")))
	}
	if len(pages) != 2 || !strings.HasPrefix(pages[0], "breaker") || !strings.HasPrefix(pages[1], "breaker") {
		t.Fatalf("health = %q; want each of the two refusals paged", pages)
	}
}

// The roles the guard must never deny though the allowlist does not name
// them: the break-glass role (BREAK_GLASS_ROLE_ARN), AWS's own roles, the
// organization's access role, the CDK roles of a custom qualifier.
func TestGuardNeverDeniesTheAccountsLifelines(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "BREAK_GLASS_ROLE_ARN": roleARN("ops/Oncall"),
		"CDK_QUALIFIER": "acme42", "QUARANTINE_MAX_PER_HOUR": "100", "QUARANTINE_MAX_PER_BUCKET_HOUR": "100"})
	roles := map[string]string{
		"Oncall":                                        "break-glass",
		"AWSReservedSSO_Admin_0123456789abcdef":         "AWS manages",
		"OrganizationAccountAccessRole":                 "OrganizationAccountAccessRole",
		"cdk-acme42-deploy-role-123456789012-us-east-1": "cdk-acme42-",
	}
	for r := range roles {
		w.createRole(r, "/")
	}
	fn := w.function()
	for r := range roles {
		fn.MustInvoke(t, ev{principal: session(r)}.json())
	}
	if p := w.policy(); p != "" {
		t.Fatalf("a lifeline was denied: %s", p)
	}
	if recs := w.records(); len(recs) != 0 {
		t.Fatalf("records = %+v; want none", recs)
	}
	for _, a := range w.alerts(2 * time.Second) {
		role := strings.TrimPrefix(a.Attributes["principal"], "arn:aws:iam::123456789012:role/")
		if d := fmt.Sprint(field(a.Doc, "response", "detail")); a.Attributes["action"] != "not quarantined" || !strings.Contains(d, roles[role]) {
			t.Errorf("%s: %s (%s); want not quarantined, naming %q", role, a.Attributes["action"], d, roles[role])
		}
		delete(roles, role)
	}
	if len(roles) != 0 {
		t.Errorf("no alert for %v", roles)
	}
}

// A principal of this account calling another account's bucket: only the
// owner can write that bucket's policy, so nothing is recorded (no pending
// intent retried and paged for ever) and the alert says why.
func TestOtherAccountsBucketIsNeverRecorded(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	health := w.withHealth()
	fn := w.function()
	var m map[string]any
	if err := json.Unmarshal(ev{principal: session("writer")}.json(), &m); err != nil {
		t.Fatal(err)
	}
	m["detail"].(map[string]any)["resources"] = []any{map[string]any{"accountId": "999999999999",
		"type": "AWS::S3Express::DirectoryBucket", "ARN": "arn:aws:s3express:us-east-1:999999999999:bucket/" + bucket}}
	fn.MustInvoke(t, must(json.Marshal(m)))
	if p := w.policy(); p != "" {
		t.Fatalf("policy = %s; want another account's bucket left alone", p)
	}
	if recs := w.records(); len(recs) != 0 {
		t.Fatalf("records = %+v; want no pending intent that can never succeed", recs)
	}
	w.wantAlerts(1, "not quarantined", "detail", "belongs to account 999999999999")
	fn.MustInvoke(t, sweepEvent)
	if n := w.receive(health, time.Second); len(n) != 0 {
		t.Fatalf("health = %+v; want nothing for the sweep to page", n)
	}
}

// `quarantine list` prints what the records say, and the records are not
// to be trusted: terminal escapes, bidi overrides and line separators are
// printed escaped, never raw.
func TestQuarantineListEscapesRecordText(t *testing.T) {
	w := newWorld(t, nil)
	st := &state.Store{DB: dynamodb.NewFromConfig(w.cfg), Table: table}
	evil := "\x1b]0;owned\x07\x1b[2J reason\u202etxt.exe\u2028next\u009b31m"
	err := st.UpdateQuarantines(context.Background(), bucket, func(m map[string]*state.Quarantine) bool {
		m[writerARN] = &state.Quarantine{Principal: writerARN, At: time.Now(), Reason: evil, Pending: []string{"bucket\x1b[1A"}}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.cli("quarantine", "list", "--bucket", bucket)
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if i := strings.IndexFunc(out, func(r rune) bool {
		return r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x202e
	}); i >= 0 {
		t.Fatalf("list printed %q raw:\n%q", out[i:i+1], out)
	}
	for _, want := range []string{`\x1b]0;owned\x07\x1b[2J reason\u{202E}txt.exe\u{2028}next\u{009B}31m`, `bucket\x1b[1A`} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %s:\n%s", want, out)
		}
	}
}

// ownPolicyEvent is a bucket-policy call by the function's own role, with
// the document it logged (nil: none logged).
func ownPolicyEvent(t *testing.T, name, ip string, doc any) []byte {
	var m map[string]any
	if err := json.Unmarshal(ev{principal: session("guard-fn"), name: name, ip: ip}.json(), &m); err != nil {
		t.Fatal(err)
	}
	if doc != nil {
		m["detail"].(map[string]any)["requestParameters"].(map[string]any)["bucketPolicy"] = doc
	}
	return must(json.Marshal(m))
}

// The function's role may write bucket policies: a write by it passes only
// if it wrote a document the function computed (noted before its own
// write), however CloudTrail formats it. A policy the function did not
// compute, or a delete it did not make, written with its credentials, is
// alerted.
func TestOwnRoleWritesAreVerified(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "FUNCTION_ROLE_ARN": "arn:aws:iam::123456789012:role/service/guard-fn"})
	w.runAsRole("arn:aws:iam::123456789012:role/service/guard-fn")
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("writer")}.json())
	w.alerts(2 * time.Second)
	written := w.policy()
	if written == "" {
		t.Fatal("the quarantine wrote no policy")
	}
	var logged map[string]any // as CloudTrail logs it: an object, members in any order
	if err := json.Unmarshal([]byte(written), &logged); err != nil {
		t.Fatal(err)
	}
	fn.MustInvoke(t, ownPolicyEvent(t, "PutBucketPolicy", "10.9.0.1", logged))
	fn.MustInvoke(t, ownPolicyEvent(t, "PutBucketPolicy", "10.9.0.2", nil)) // not logged: the current policy is checked
	if a := w.alerts(2 * time.Second); len(a) != 0 {
		t.Fatalf("the function's own write was alerted: %+v", a)
	}

	logged["Statement"] = append(logged["Statement"].([]any), map[string]any{"Sid": "Open", "Effect": "Allow",
		"Principal": map[string]any{"AWS": "*"}, "Action": "s3express:CreateSession", "Resource": "*"})
	fn.MustInvoke(t, ownPolicyEvent(t, "PutBucketPolicy", "10.9.0.3", logged))
	fn.MustInvoke(t, ownPolicyEvent(t, "DeleteBucketPolicy", "10.9.0.4", nil))
	got := map[string]string{}
	for _, a := range w.alerts(2 * time.Second) {
		got[a.Attributes["eventName"]] = a.Attributes["kind"] + ": " + fmt.Sprint(field(a.Doc, "decision", "reasons"))
	}
	for _, name := range []string{"PutBucketPolicy", "DeleteBucketPolicy"} {
		if !strings.HasPrefix(got[name], "unauthorized") || !strings.Contains(got[name], "s3xguard did not compute") {
			t.Errorf("%s by the function's role: %q; want an unauthorized alert saying s3xguard did not compute it", name, got[name])
		}
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3xguard/s3xguard/test/harness"
)

func field(doc map[string]any, path ...string) any {
	var v any = doc
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func TestAlertOnUnauthorizedOnly(t *testing.T) {
	w := newWorld(t, nil)
	fn := w.function()

	if r := fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.1.2.3"}.json()); r.Err != "" {
		t.Fatalf("allowed event: %s\n%s", r.Err, fn.Log())
	}
	if got := w.alerts(2 * time.Second); len(got) != 0 {
		t.Fatalf("allowed event produced %d alerts: %+v", len(got), got)
	}

	w.proxy.Reset()
	if r := fn.MustInvoke(t, ev{principal: session("writer"), key: "reports/2026/q3.csv"}.json()); r.Err != "" {
		t.Fatalf("unauthorized event: %s\n%s", r.Err, fn.Log())
	}
	if c := w.proxy.Calls(); c["sns:Publish"] != 1 || c["s3express:GET?policy"]+c["s3express:PUT?policy"] != 0 {
		t.Errorf("calls for one alert-only event: %s; want one publish, no bucket policy call", harness.FormatCalls(c))
	}
	got := w.alerts(2 * time.Second)
	if len(got) != 1 {
		t.Fatalf("unauthorized event produced %d alerts; want 1", len(got))
	}
	a := got[0]
	if want := "[s3xguard HIGH] unauthorized PutObject on " + bucket + " by role/writer"; a.Subject != want {
		t.Errorf("Subject = %q; want %q", a.Subject, want)
	}
	for k, want := range map[string]string{
		"severity": "high", "bucket": bucket, "principal": "arn:aws:iam::123456789012:role/writer", "account": account,
		"eventName": "PutObject", "action": "alert only", "kind": "unauthorized",
	} {
		if a.Attributes[k] != want {
			t.Errorf("attribute %s = %q; want %q", k, a.Attributes[k], want)
		}
	}
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"principal", "accessKeyId"}, "ASIAE2EEXAMPLE"},
		{[]string{"principal", "identityType"}, "AssumedRole"},
		{[]string{"event", "key"}, "reports/2026/q3.csv"},
		{[]string{"event", "sourceIP"}, "203.0.113.7"},
		{[]string{"event", "availabilityZone"}, "use1-az4"},
		{[]string{"response", "action"}, "alert only"},
		{[]string{"response", "mode"}, "alert"},
	} {
		if got := field(a.Doc, c.path...); got != c.want {
			t.Errorf("%s = %v; want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if r, _ := field(a.Doc, "decision", "reasons").([]any); len(r) == 0 || !strings.Contains(fmt.Sprint(r), "etl") {
		t.Errorf("reasons do not name the closest entry: %v", r)
	}

	// A malformed event is an invalid alert, and the function lives on.
	if r := fn.MustInvoke(t, []byte(`{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3express","detail":"oops"}`)); r.Err != "" {
		t.Fatalf("malformed event: %s", r.Err)
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 || got[0].Attributes["kind"] != "invalid" {
		t.Fatalf("malformed event: alerts %+v; want one of kind invalid", got)
	}
	if r := fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.9.9.9"}.json()); r.Err != "" {
		t.Fatalf("event after a malformed one: %s", r.Err)
	}
	logs := fn.Log()
	if !strings.Contains(logs, `"requestId":`) || !strings.Contains(logs, `"CloudWatchMetrics"`) {
		t.Errorf("no JSON log line with requestId, or no EMF line:\n%s", logs)
	}
}

func TestSQSBatch(t *testing.T) {
	w := newWorld(t, nil)
	fn := w.function()
	body := func(b []byte) string { s, _ := json.Marshal(string(b)); return string(s) }
	batch := fmt.Sprintf(`{"Records":[
		{"messageId":"m1","eventSource":"aws:sqs","body":%s},
		{"messageId":"m2","eventSource":"aws:sqs","body":%s},
		{"messageId":"m3","eventSource":"aws:sqs","body":"not json"}]}`,
		body(ev{principal: session("etl"), ip: "10.0.0.1"}.json()), body(ev{principal: session("writer")}.json()))
	r := fn.MustInvoke(t, []byte(batch))
	if r.Err != "" || strings.TrimSpace(string(r.Body)) != `{"batchItemFailures":[]}` {
		t.Fatalf("batch: %+v; want no failures", r)
	}
	got := w.alerts(2 * time.Second)
	kinds := []string{}
	for _, a := range got {
		kinds = append(kinds, a.Attributes["kind"])
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"invalid", "unauthorized"}) {
		t.Fatalf("batch alerts: %v; want one invalid, one unauthorized", kinds)
	}

	// With SNS down, the unauthorized message alone is reported for retry.
	w.proxy.Fail("sns", 503)
	batch = fmt.Sprintf(`{"Records":[
		{"messageId":"ok","eventSource":"aws:sqs","body":%s},
		{"messageId":"bad","eventSource":"aws:sqs","body":%s}]}`,
		body(ev{principal: session("etl"), ip: "10.0.0.2"}.json()), body(ev{principal: session("writer"), ip: "198.51.100.1"}.json()))
	r = fn.MustInvoke(t, []byte(batch))
	if strings.TrimSpace(string(r.Body)) != `{"batchItemFailures":[{"itemIdentifier":"bad"}]}` {
		t.Fatalf("batch with SNS failing: %+v; want only \"bad\" failed", r)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "dry-run"})
	w.withDenyPolicy()
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("%s\n%s", r.Err, fn.Log())
	}
	got := w.alerts(2 * time.Second)
	if len(got) != 1 {
		t.Fatalf("%d alerts; want 1", len(got))
	}
	stmt, _ := field(got[0].Doc, "response", "statement").(string)
	if field(got[0].Doc, "response", "action") != "would quarantine" ||
		!strings.Contains(stmt, `"arn:aws:iam::123456789012:role/app/team/writer"`) || !strings.Contains(stmt, `"Effect":"Deny"`) {
		t.Errorf("dry-run response = %v", field(got[0].Doc, "response"))
	}
	if p := w.policy(); p != "" {
		t.Errorf("dry run wrote a bucket policy: %s", p)
	}
	ic := iam.NewFromConfig(w.cfg)
	if l := must(ic.ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String("writer")})); len(l.PolicyNames) != 0 {
		t.Errorf("dry run put inline policies: %v", l.PolicyNames)
	}
	if got := w.attached("writer"); len(got) != 0 {
		t.Errorf("dry run attached policies: %v", got)
	}
	if said := fmt.Sprint(field(got[0].Doc, "response", "iam")); !strings.Contains(said, "attach "+w.env["IAM_DENY_POLICY_ARN"]+" to role/writer") {
		t.Errorf("dry run says IAM %s; want the attach it would make", said)
	}
}

func TestEnforceQuarantinesAndReleases(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	deny := w.withDenyPolicy()
	// An existing statement must survive the merge.
	other := `{"Version":"2012-10-17","Statement":[{"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3express:CreateSession","Resource":"*"}]}`
	must(w.s3().PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(other)}))
	fn := w.function()

	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("%s\n%s", r.Err, fn.Log())
	}
	if r := fn.MustInvoke(t, ev{principal: "arn:aws:iam::123456789012:user/people/alice", idType: "IAMUser", name: "DeleteObject"}.json()); r.Err != "" {
		t.Fatalf("%s\n%s", r.Err, fn.Log())
	}
	want := []string{"arn:aws:iam::123456789012:role/app/team/writer", "arn:aws:iam::123456789012:user/people/alice"}
	if got := w.denied(); !slices.Equal(got, want) {
		t.Fatalf("denied = %q; want %q (role path resolved)", got, want)
	}
	if !strings.Contains(w.policy(), `"Sid":"Owner"`) {
		t.Fatalf("the other statement was lost: %s", w.policy())
	}
	if got := w.attached("writer"); !slices.Equal(got, []string{deny}) {
		t.Errorf("role attached policies = %v; want the managed deny", got)
	}
	if got := w.inline("writer"); len(got) != 0 {
		t.Errorf("role inline policies = %v; want none (REVOKE_SESSIONS is off)", got)
	}
	w.wantAlerts(2, "quarantined", "note", "5 minutes")

	// Already quarantined: a new source is a new alert; one policy read
	// confirms it, and nothing is written.
	w.proxy.Reset()
	if r := fn.MustInvoke(t, ev{principal: session("writer"), ip: "198.51.100.9"}.json()); r.Err != "" {
		t.Fatal(r.Err)
	}
	c := w.proxy.Calls()
	for k, n := range c {
		if strings.HasPrefix(k, "iam:") || strings.HasPrefix(k, "s3express:") && (k != "s3express:GET?policy" || n != 1) {
			t.Errorf("already-quarantined principal cost %s; want one policy GET", harness.FormatCalls(c))
			break
		}
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 || got[0].Attributes["action"] != "already quarantined" {
		t.Errorf("alerts = %+v; want one, already quarantined", got)
	}

	out, err := w.cli("quarantine", "list", "--bucket", bucket)
	if err != nil || !strings.Contains(out, "role/app/team/writer") || !strings.Contains(out, "user/people/alice") {
		t.Fatalf("quarantine list: %v\n%s", err, out)
	}
	out, err = w.cli("quarantine", "release", "--bucket", bucket, "--principal", "arn:aws:iam::123456789012:role/writer", "--deny-policy", deny)
	if err != nil || !strings.Contains(out, "released arn:aws:iam::123456789012:role/app/team/writer") {
		t.Fatalf("release by the ARN alerts show: %v\n%s", err, out)
	}
	if got := w.denied(); !slices.Equal(got, want[1:]) {
		t.Fatalf("after release denied = %q; want %q", got, want[1:])
	}
	if got := w.attached("writer"); len(got) != 0 {
		t.Errorf("after release, role attached policies = %v; want none", got)
	}
	if out, err = w.cli("quarantine", "release", "--bucket", bucket, "--all", "--deny-policy", deny); err != nil {
		t.Fatalf("release --all: %v\n%s", err, out)
	}
	if p := w.policy(); strings.Contains(p, "S3xguardQuarantine") || !strings.Contains(p, `"Sid":"Owner"`) {
		t.Fatalf("after release --all: %s", p)
	}
}

func TestGuardsAndCircuitBreaker(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_MAX_PER_HOUR": "2"})
	w.runAsRole("arn:aws:iam::123456789012:role/service/guard-fn")
	for _, r := range []string{"a", "b", "c"} {
		w.createRole("intruder-"+r, "/")
	}
	fn := w.function()
	for _, e := range []ev{
		{principal: session("BreakGlass")},
		{principal: session("guard-fn")},
		{principal: "arn:aws:iam::123456789012:root", idType: "Root"},
		{principal: session("intruder-a")},
		{principal: session("intruder-b")},
		{principal: session("intruder-c")},
	} {
		if r := fn.MustInvoke(t, e.json()); r.Err != "" {
			t.Fatalf("%s: %s\n%s", e.principal, r.Err, fn.Log())
		}
	}
	detail := map[string]string{}
	for _, a := range w.alerts(2 * time.Second) {
		detail[a.Attributes["principal"]] = a.Attributes["action"] + ": " + fmt.Sprint(field(a.Doc, "response", "detail"))
	}
	for p, want := range map[string]string{
		"arn:aws:iam::123456789012:role/BreakGlass": "not quarantined: the principal is protected",
		"arn:aws:iam::123456789012:role/guard-fn":   "not quarantined: the function's own role",
		"arn:aws:iam::123456789012:root":            "not quarantined: the account root",
		"arn:aws:iam::123456789012:role/intruder-a": "quarantined",
		"arn:aws:iam::123456789012:role/intruder-b": "quarantined",
		"arn:aws:iam::123456789012:role/intruder-c": "not quarantined: circuit breaker",
	} {
		if !strings.HasPrefix(detail[p], want) {
			t.Errorf("%s: %q; want %q", p, detail[p], want)
		}
	}
	if got := w.denied(); !slices.Equal(got, []string{"arn:aws:iam::123456789012:role/intruder-a", "arn:aws:iam::123456789012:role/intruder-b"}) {
		t.Errorf("denied = %q; want only intruder-a and -b", got)
	}
}

func TestConcurrentQuarantinesOnOneBucket(t *testing.T) {
	const n, instances = 20, 4
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_MAX_PER_HOUR": "100", "QUARANTINE_MAX_PER_BUCKET_HOUR": "100"})
	var want []string
	for i := range n {
		name := fmt.Sprintf("r%02d", i)
		w.createRole(name, "/")
		want = append(want, "arn:aws:iam::123456789012:role/"+name)
	}
	fns := make([]*harness.Lambda, instances)
	for i := range fns {
		fns[i] = w.function()
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range instances {
		wg.Go(func() {
			for j := i; j < n; j += instances {
				if r := fns[i].MustInvoke(t, ev{principal: session(fmt.Sprintf("r%02d", j))}.json()); r.Err != "" {
					errs <- r.Err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("invocation failed: %s", e)
	}
	if got := w.denied(); !slices.Equal(got, want) {
		t.Fatalf("after %d concurrent quarantines, denied %d: %q", n, len(got), got)
	}
	out, err := w.cli("quarantine", "release", "--bucket", bucket, "--all")
	if err != nil || strings.Count(out, "released ") != n {
		t.Fatalf("release --all: %v\n%s", err, out)
	}
	if p := w.policy(); p != "" {
		t.Fatalf("policy left after releasing all: %s", p)
	}
}

func TestDedupAcrossInstances(t *testing.T) {
	const window = 6 * time.Second
	w := newWorld(t, map[string]string{"DEDUP_WINDOW": window.String()})
	a, b := w.function(), w.function()
	for _, fn := range []*harness.Lambda{a, b} { // past cold start
		fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, fn := range []*harness.Lambda{a, b} {
		wg.Go(func() {
			for range 5 {
				if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
					t.Errorf("invoke: %s", r.Err)
				}
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > window/2 {
		t.Fatalf("10 invocations took %v, too close to the %v window for this check", took, window)
	}
	got := w.alerts(time.Second)
	if len(got) != 1 {
		t.Fatalf("10 repeats across 2 instances: %d alerts; want 1", len(got))
	}
	time.Sleep(time.Until(start.Add(window + 500*time.Millisecond)))
	// The scheduled sweep sends the summary.
	if r := a.MustInvoke(t, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, a.Log())
	}
	got = w.alerts(time.Second)
	if len(got) != 1 || got[0].Attributes["kind"] != "summary" || field(got[0].Doc, "repeats", "count") != float64(9) {
		t.Fatalf("after the window: %+v; want one summary counting 9", got)
	}
	// Sent once: another sweep finds nothing due.
	b.MustInvoke(t, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`))
	if got := w.alerts(time.Second); len(got) != 0 {
		t.Fatalf("second sweep sent %d", len(got))
	}
}

func TestAlertFailureFailsTheInvocation(t *testing.T) {
	w := newWorld(t, nil)
	fn := w.function()
	w.proxy.Fail("sns", 500)
	e := ev{principal: session("writer")}.json()
	r := fn.MustInvoke(t, e)
	if r.Err == "" {
		t.Fatalf("SNS failing: invocation succeeded: %s", r.Body)
	}
	if c := w.proxy.Calls()["sns:Publish"]; c < 2 {
		t.Errorf("SNS 500 was tried %d times; want retries", c)
	}
	// The retry (as EventBridge would) sends the alert: the failed attempt
	// did not leave a dedup window behind.
	w.proxy.Fail("sns", 0)
	if r := fn.MustInvoke(t, e); r.Err != "" {
		t.Fatalf("retry: %s", r.Err)
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 {
		t.Fatalf("retry produced %d alerts; want 1", len(got))
	}
	// Without the state table, the alert still goes out.
	w.proxy.Fail("dynamodb", 500)
	if r := fn.MustInvoke(t, ev{principal: session("writer"), ip: "198.51.100.5"}.json()); r.Err != "" {
		t.Fatalf("DynamoDB failing: %s", r.Err)
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 {
		t.Fatalf("DynamoDB failing: %d alerts; want 1", len(got))
	}
	w.proxy.Fail("dynamodb", 0)

	// AWS unreachable altogether.
	w.moto.Stop()
	if r := fn.MustInvoke(t, ev{principal: session("writer"), ip: "198.51.100.4"}.json()); r.Err == "" {
		t.Fatal("moto stopped: invocation succeeded")
	}
}

func TestQuarantineExpires(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TTL": "2s"})
	w.withDenyPolicy()
	health := w.withHealth()
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatal(r.Err)
	}
	if got := w.denied(); len(got) != 1 {
		t.Fatalf("denied = %q; want the writer", got)
	}
	fn.MustInvoke(t, sweepEvent)
	if got := w.denied(); len(got) != 1 {
		t.Fatalf("released before its time: denied = %q", got)
	}
	time.Sleep(2500 * time.Millisecond)
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if p := w.policy(); p != "" {
		t.Fatalf("expired quarantine still in the policy: %s", p)
	}
	if got := w.attached("writer"); len(got) != 0 {
		t.Errorf("after expiry, role attached policies = %v; want none", got)
	}
	if out, err := w.cli("quarantine", "list", "--bucket", bucket); err != nil || strings.Contains(out, "writer") {
		t.Errorf("list after expiry: %v\n%s", err, out)
	}
	// A release is never silent: the expiry pages the health topic.
	if n := w.receive(health, time.Second); len(n) != 1 || n[0].Attributes["notice"] != "expired" {
		t.Errorf("health = %+v; want one expired notice", n)
	}
}

func TestFullPolicyIsLeftAlone(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	// Just under 20 KB: the quarantine statement (about 230 bytes) cannot fit.
	var arns []string
	full := ""
	for i := 0; len(full) < 20*1024-150; i++ {
		arns = append(arns, fmt.Sprintf(`"arn:aws:iam::123456789012:role/partner-role-%03d"`, i))
		full = `{"Version":"2012-10-17","Statement":[{"Sid":"Partners","Effect":"Allow","Principal":{"AWS":[` + strings.Join(arns, ",") +
			`]},"Action":"s3express:CreateSession","Resource":"*"}]}`
	}
	must(w.s3().PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(full)}))
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatal(r.Err)
	}
	got := w.alerts(2 * time.Second)
	if len(got) != 1 || got[0].Attributes["action"] != "not quarantined" || !strings.Contains(fmt.Sprint(field(got[0].Doc, "response", "detail")), "20 KB") {
		t.Fatalf("alerts = %+v; want one saying the policy is full", got)
	}
	if w.policy() != full {
		t.Fatal("a full policy was changed")
	}
}

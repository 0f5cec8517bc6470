package e2e

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/test/harness"
)

var sweepEvent = []byte(`{"version":"0","id":"sweep","source":"aws.events","detail-type":"Scheduled Event","account":"123456789012","region":"us-east-1","detail":{}}`)

// withHealth gives the function a health topic of its own, subscribed by a
// queue, and returns the queue's URL.
func (w *world) withHealth() string {
	ctx := context.Background()
	snsc, sqsc := sns.NewFromConfig(w.cfg), sqs.NewFromConfig(w.cfg)
	topic := *must(snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("s3xguard-health")})).TopicArn
	q := *must(sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("health")})).QueueUrl
	qarn := must(sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})).Attributes["QueueArn"]
	must(snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &topic, Protocol: aws.String("sqs"), Endpoint: &qarn}))
	w.env["HEALTH_TOPIC_ARN"] = topic
	return q
}

// withDenyPolicy creates the managed deny policy the stack would create
// and turns the IAM response on; it returns the policy's ARN.
func (w *world) withDenyPolicy() string {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3express:*","Resource":"*"}]}`
	arn := *must(iam.NewFromConfig(w.cfg).CreatePolicy(context.Background(), &iam.CreatePolicyInput{
		PolicyName: aws.String("s3xguard-quarantine-deny"), PolicyDocument: aws.String(doc)})).Policy.Arn
	w.env["IAM_RESPONSE"], w.env["IAM_DENY_POLICY_ARN"] = "on", arn
	return arn
}

// records reads the bucket's quarantine records straight from the table.
func (w *world) records() map[string]*state.Quarantine {
	st := &state.Store{DB: dynamodb.NewFromConfig(w.cfg), Table: table}
	r, err := st.Quarantines(context.Background(), bucket)
	if err != nil {
		w.t.Fatal(err)
	}
	return r.Map
}

// attached lists the managed policies attached to a role.
func (w *world) attached(role string) []string {
	var out []string
	for _, p := range must(iam.NewFromConfig(w.cfg).ListAttachedRolePolicies(context.Background(), &iam.ListAttachedRolePoliciesInput{RoleName: &role})).AttachedPolicies {
		out = append(out, *p.PolicyArn)
	}
	return out
}

func (w *world) inline(role string) []string {
	return must(iam.NewFromConfig(w.cfg).ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: &role})).PolicyNames
}

func (w *world) putPolicy(doc string) {
	must(w.s3().PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)}))
}

// wantAlerts receives the alerts, and fails unless there are n, the first
// with action and its response member containing substr.
func (w *world) wantAlerts(n int, action, member, substr string) []alert {
	w.t.Helper()
	got := w.alerts(2 * time.Second)
	if len(got) != n || got[0].Attributes["action"] != action || !strings.Contains(fmt.Sprint(field(got[0].Doc, "response", member)), substr) {
		w.t.Fatalf("alerts = %+v; want %d, the first %q with response.%s containing %q", got, n, action, member, substr)
	}
	return got
}

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

func TestIAMResponseAttachesTheManagedPolicyOnly(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "REVOKE_SESSIONS": "on"})
	deny := w.withDenyPolicy()
	w.withHealth()
	other := bucket
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("%s\n%s", r.Err, fn.Log())
	}
	if got := w.attached("writer"); !slices.Equal(got, []string{deny}) {
		t.Fatalf("attached = %q; want only %s", got, deny)
	}
	// The one inline write: the named revocation, as the console's.
	if got := w.inline("writer"); !slices.Equal(got, []string{"S3xguardRevokeOlderSessions"}) {
		t.Fatalf("inline = %q; want only S3xguardRevokeOlderSessions", got)
	}
	doc := must(iam.NewFromConfig(w.cfg).GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String("writer"), PolicyName: aws.String("S3xguardRevokeOlderSessions")})).PolicyDocument
	if d, _ := url.QueryUnescape(*doc); !strings.Contains(d, `"aws:TokenIssueTime"`) || !strings.Contains(d, `"Deny"`) {
		t.Errorf("revocation policy = %s", d)
	}
	got := w.alerts(2 * time.Second)
	if len(got) != 1 || got[0].Attributes["action"] != "quarantined" {
		t.Fatalf("alerts = %+v", got)
	}
	iamSaid := fmt.Sprint(field(got[0].Doc, "response", "iam"))
	if !strings.Contains(iamSaid, "attached the managed deny policy to role/writer") || !strings.Contains(iamSaid, "revoked sessions of role/writer") {
		t.Errorf("alert says IAM %s; want what was done", iamSaid)
	}
	if note := fmt.Sprint(field(got[0].Doc, "response", "note")); !strings.Contains(note, "5 minutes plus the CloudTrail-to-EventBridge delivery delay") {
		t.Errorf("note = %q", note)
	}
	// A user: attached, never revoked (sessions are a role's).
	fn.MustInvoke(t, ev{principal: "arn:aws:iam::123456789012:user/people/alice", idType: "IAMUser"}.json())
	ul := must(iam.NewFromConfig(w.cfg).ListAttachedUserPolicies(context.Background(), &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")})).AttachedPolicies
	if len(ul) != 1 || *ul[0].PolicyArn != deny {
		t.Fatalf("user attached = %v", ul)
	}
	if out, err := w.cli("quarantine", "release", "--bucket", other, "--all", "--deny-policy", deny); err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	if got := w.attached("writer"); len(got) != 0 {
		t.Errorf("after release attached = %q", got)
	}
	if got := w.inline("writer"); len(got) != 0 {
		t.Errorf("after release inline = %q; want the revocation removed", got)
	}
	if p := w.policy(); p != "" {
		t.Errorf("policy after release: %s", p)
	}
}

// A deleted principal leaves its unique ID in the policy, and AWS rejects
// a write that carries it (moto does not: the ID is planted by hand). The
// next quarantine drops it, records and pages that it did.
func TestDeletedPrincipalDoesNotBlockTheNextQuarantine(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	health := w.withHealth()
	w.putPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":["AROAEXAMPLEDELETED01"]},"Action":"s3express:CreateSession","Resource":"arn:aws:s3express:us-east-1:123456789012:bucket/` + bucket + `"}]}`)
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatal(r.Err)
	}
	if got := w.denied(); !slices.Equal(got, []string{"arn:aws:iam::123456789012:role/app/team/writer"}) {
		t.Fatalf("denied = %q; want the writer only, the unique ID dropped", got)
	}
	if r := w.records()["arn:aws:iam::123456789012:role/app/team/writer"]; r == nil || !slices.Equal(r.Dropped, []string{"AROAEXAMPLEDELETED01"}) {
		t.Fatalf("record = %+v; want the dropped ID recorded", r)
	}
	a := w.alerts(2 * time.Second)
	if len(a) != 1 || !strings.Contains(fmt.Sprint(field(a[0].Doc, "response", "detail")), "dropped AROAEXAMPLEDELETED01") {
		t.Fatalf("alerts = %+v; want the drop said", a)
	}
	if n := w.receive(health, time.Second); len(n) != 1 || n[0].Attributes["notice"] != "dropped" {
		t.Fatalf("health = %+v; want one dropped notice", n)
	}
}

// Removing the statement by hand is found by the sweep, re-applied, and
// paged as drift; the "already quarantined" path checks the policy too.
func TestDriftIsReappliedAndPaged(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TTL": "0"})
	health := w.withHealth()
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("writer")}.json())
	fn.MustInvoke(t, ev{principal: session("etl")}.json())
	want := []string{"arn:aws:iam::123456789012:role/app/team/writer", roleARN("etl")}
	if got := w.denied(); !slices.Equal(got, want) {
		t.Fatalf("denied = %q", got)
	}
	if a := w.alerts(2 * time.Second); len(a) != 2 || !strings.HasPrefix(fmt.Sprint(field(a[0].Doc, "response", "until")), "never") {
		t.Fatalf("alerts = %+v; want until never with QUARANTINE_TTL=0", a)
	}
	// Settle: on a loaded machine a first quarantine may go pending; the
	// sweep finishes it, and what it paged about that is not this test's.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Second) {
		fn.MustInvoke(t, sweepEvent)
		pending := 0
		for _, r := range w.records() {
			pending += len(r.Pending)
		}
		if slices.Equal(w.denied(), want) && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled: denied %q, %d parts pending", w.denied(), pending)
		}
	}
	w.receive(health, 500*time.Millisecond)
	w.putPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3express:CreateSession","Resource":"*"}]}`)
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if got := w.denied(); !slices.Equal(got, want) {
		t.Fatalf("after the sweep denied = %q; want the removed statement re-applied", got)
	}
	if !strings.Contains(w.policy(), `"Sid":"Other"`) {
		t.Fatal("the sweep lost the other statement")
	}
	n := w.receive(health, time.Second)
	if len(n) != 1 || n[0].Attributes["notice"] != "drift" || fmt.Sprint(field(n[0].Doc, "count")) != "2" {
		t.Fatalf("health = %+v; want one drift notice for 2 principals", n)
	}
	// One principal removed by hand: a new event finds it with one GET.
	w.putPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":"` + roleARN("etl") + `"},"Action":"s3express:CreateSession","Resource":"arn:aws:s3express:us-east-1:123456789012:bucket/` + bucket + `"}]}`)
	fn.MustInvoke(t, ev{principal: session("writer"), ip: "198.51.100.20"}.json())
	if got := w.denied(); !slices.Equal(got, want) {
		t.Fatalf("denied = %q; want the writer re-applied on its next event", got)
	}
	if a := w.alerts(2 * time.Second); len(a) != 1 || a[0].Attributes["action"] != "quarantined" {
		t.Fatalf("alerts = %+v; want quarantined (re-applied), not already quarantined", a)
	}
	if n := w.receive(health, time.Second); len(n) != 1 || n[0].Attributes["notice"] != "drift" {
		t.Fatalf("health = %+v; want one drift notice", n)
	}
	// Nothing removed: already quarantined, one policy read and no write.
	w.proxy.Reset()
	fn.MustInvoke(t, ev{principal: session("writer"), ip: "198.51.100.21"}.json())
	if c := w.proxy.Calls(); c["s3express:GET?policy"] != 1 || c["s3express:PUT?policy"] != 0 {
		t.Errorf("already quarantined cost %s; want one policy GET, no PUT", harness.FormatCalls(c))
	}
}

// A deny in the policy without a record (a crash between the write and the
// record, or added by hand) is adopted by the sweep and announced.
func TestDenyWithoutRecordIsAdopted(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "GUARDED_BUCKETS": bucket})
	health := w.withHealth()
	w.putPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/app/team/writer"},"Action":"s3express:CreateSession","Resource":"arn:aws:s3express:us-east-1:123456789012:bucket/` + bucket + `"}]}`)
	fn := w.function()
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if r := w.records()["arn:aws:iam::123456789012:role/app/team/writer"]; r == nil || !r.Adopted || r.Until.IsZero() {
		t.Fatalf("record = %+v; want adopted, with an expiry", r)
	}
	if n := w.receive(health, time.Second); len(n) != 1 || n[0].Attributes["notice"] != "adopted" {
		t.Fatalf("health = %+v; want one adopted notice", n)
	}
	fn.MustInvoke(t, sweepEvent)
	if n := w.receive(health, time.Second); len(n) != 0 {
		t.Fatalf("second sweep paged again: %+v", n)
	}
}

// Five strangers whose calls were denied are alerted, never quarantined,
// and do not use the breaker: the next real intruder is still quarantined.
func TestAccessDeniedStrangersDoNotTripTheBreaker(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_MAX_PER_HOUR": "2", "QUARANTINE_MAX_PER_BUCKET_HOUR": "1"})
	health := w.withHealth()
	for i := range 5 {
		w.createRole(fmt.Sprintf("stranger-%d", i), "/")
	}
	w.createRole("intruder", "/")
	w.createRole("intruder-2", "/")
	fn := w.function()
	for i := range 5 {
		fn.MustInvoke(t, ev{principal: session(fmt.Sprintf("stranger-%d", i)), errorCode: "AccessDenied"}.json())
	}
	fn.MustInvoke(t, ev{principal: session("intruder")}.json())
	fn.MustInvoke(t, ev{principal: session("intruder-2")}.json())
	if got := w.denied(); !slices.Equal(got, []string{roleARN("intruder")}) {
		t.Fatalf("denied = %q; want the intruder only", got)
	}
	actions := map[string]string{}
	for _, a := range w.alerts(2 * time.Second) {
		actions[a.Attributes["principal"]] = a.Attributes["action"] + ": " + fmt.Sprint(field(a.Doc, "response", "detail"))
	}
	for i := range 5 {
		if got := actions[roleARN(fmt.Sprintf("stranger-%d", i))]; !strings.Contains(got, "the call failed (AccessDenied)") {
			t.Errorf("stranger-%d: %q", i, got)
		}
	}
	if got := actions[roleARN("intruder-2")]; !strings.Contains(got, "circuit breaker") || !strings.Contains(got, "bucket limit") {
		t.Errorf("intruder-2: %q; want refused by the per-bucket breaker", got)
	}
	if n := w.receive(health, time.Second); len(n) != 1 || n[0].Attributes["notice"] != "breaker" {
		t.Fatalf("health = %+v; want the breaker trip paged once", n)
	}
}

// Forged or foreign records are never quarantined, whatever the handler's
// envelope checks say.
func TestForeignRecordIsNeverQuarantined(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	fn := w.function()
	forged := strings.ReplaceAll(string(ev{principal: session("writer")}.json()), `"recipientAccountId":"123456789012"`, `"recipientAccountId":"999999999999"`)
	fn.MustInvoke(t, []byte(forged))
	bare := `{"eventVersion":"1.09","eventID":"bare-1","eventTime":"2026-11-25T10:00:00Z","eventSource":"s3express.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","recipientAccountId":"999999999999","userIdentity":{"type":"AssumedRole","arn":"` + session("writer") + `","accountId":"123456789012"},"requestParameters":{"bucketName":"` + bucket + `"}}`
	fn.MustInvoke(t, []byte(bare))
	if p := w.policy(); p != "" {
		t.Fatalf("a forged event changed the policy: %s", p)
	}
	if len(w.records()) != 0 {
		t.Fatal("a forged event left a record")
	}
}

// TestFaultMatrix injects each fault into each call of enforce, then
// recovers as AWS would (the same event again, the scheduled sweep), and
// checks the final state: the principal is in the policy and in the
// records with nothing pending, and the deny policy attached.
func TestFaultMatrix(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_MAX_PER_HOUR": "1000", "QUARANTINE_MAX_PER_BUCKET_HOUR": "1000"})
	deny := w.withDenyPolicy()
	w.withHealth()
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // warm
	type cell struct{ call, fault, first, after string }
	var rows []cell
	calls := []struct{ name, service, action string }{
		{"S3 policy read", "s3express", "GET?policy"},
		{"S3 policy write", "s3express", "PUT?policy"},
		{"IAM role lookup (GetRole)", "iam", "GetRole"},
		{"IAM deny (AttachRolePolicy)", "iam", "AttachRolePolicy"},
	}
	faults := []struct {
		name string
		f    harness.Fault
	}{
		{"HTTP 500", harness.Fault{Status: 500}},
		{"throttling", harness.Fault{Throttle: true}},
		{"hang (until the 8 s call timeout)", harness.Fault{Hang: true}},
		{"lost response", harness.Fault{Lost: true}},
	}
	n := 0
	for _, c := range calls {
		for _, f := range faults {
			n++
			role := fmt.Sprintf("fm-%02d", n)
			w.createRole(role, "/")
			fault := f.f
			fault.Service, fault.Action = c.service, c.action
			w.proxy.Inject(&fault)
			e := ev{principal: session(role)}
			r := fn.MustInvoke(t, e.json())
			first := "error: " + r.Err
			if r.Err == "" {
				first = "?"
				for _, a := range w.alerts(1500 * time.Millisecond) {
					if a.Attributes["principal"] == roleARN(role) {
						first = a.Attributes["action"]
					}
				}
			}
			w.proxy.Clear()
			// Recovery: the event again (as a retry would bring it), then the sweep.
			fn.MustInvoke(t, e.json())
			w.alerts(500 * time.Millisecond)
			rows = append(rows, cell{c.name, f.name, first, w.sweepUntil(fn, role, deny, 0)})
		}
	}
	// kill -9 of the bootstrap at each step of enforce: the call hangs,
	// the process dies, a new execution environment takes the retry, and
	// the sweep finishes what remains.
	steps := []struct{ name, service, action string }{
		{"resolving the role (iam:GetRole)", "iam", "GetRole"},
		{"reading the policy (GET?policy)", "s3express", "GET?policy"},
		{"writing the policy (before PUT?policy)", "s3express", "PUT?policy"},
		{"after the policy write (lost PUT answer)", "s3express", "PUT?policy"},
		{"attaching the deny (iam:AttachRolePolicy)", "iam", "AttachRolePolicy"},
	}
	for i, s := range steps {
		n++
		role := fmt.Sprintf("fm-%02d", n)
		w.createRole(role, "/")
		f := &harness.Fault{Service: s.service, Action: s.action, Hang: true}
		if i == 3 {
			f = &harness.Fault{Service: s.service, Action: s.action, Lost: true, Times: 1}
			w.proxy.Inject(&harness.Fault{Service: "s3express", Action: "GET?policy", Hang: true})
		}
		w.proxy.Inject(f)
		// The sweep leaves a quarantine to its holder until the holder's
		// deadline: a short timeout keeps the test short.
		w.env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "12"
		victim := w.function()
		w.env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "60"
		victim.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // started, identity known
		done := make(chan harness.Result, 1)
		e := ev{principal: session(role)}
		go func() {
			r, _ := victim.Invoke(context.Background(), e.json())
			done <- r
		}()
		deadline := time.Now().Add(20 * time.Second)
		for f.Hits(w.proxy) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if i == 3 { // the answer was lost: wait for the read-back that follows
			time.Sleep(300 * time.Millisecond)
		}
		if pid := victim.BootstrapPID(); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-done
		victim.Stop()
		w.proxy.Clear()
		w.alerts(500 * time.Millisecond)
		fn.MustInvoke(t, e.json())
		// The sweep takes over at the dead holder's deadline, and a lock it
		// left is recovered by its lease: the sweep runs (every second here,
		// every minute deployed) until then.
		rows = append(rows, cell{"kill -9", s.name, "killed", w.sweepUntil(fn, role, deny, 20*time.Second)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| call | fault | first answer (alert action) | after retry + sweep |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.call, r.fault, r.first, r.after)
		if r.after != "ok" {
			t.Errorf("%s / %s: %s", r.call, r.fault, r.after)
		}
	}
	t.Log(b.String())
}

// sweepUntil runs the sweep until check passes or within has passed, and
// returns check's last answer.
func (w *world) sweepUntil(fn *harness.Lambda, role, deny string, within time.Duration) string {
	deadline := time.Now().Add(within)
	for {
		fn.MustInvoke(w.t, sweepEvent)
		got := w.check(role, deny)
		if got == "ok" || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Second)
	}
}

// check says "ok" when role is denied in the policy, recorded with nothing
// pending, and has the deny policy attached; else what is wrong.
func (w *world) check(role, deny string) string {
	var wrong []string
	if !slices.Contains(w.denied(), roleARN(role)) {
		wrong = append(wrong, "not in the policy")
	}
	switch r := w.records()[roleARN(role)]; {
	case r == nil:
		wrong = append(wrong, "no record")
	case len(r.Pending) > 0:
		wrong = append(wrong, "pending "+strings.Join(r.Pending, ","))
	}
	if !slices.Contains(w.attached(role), deny) {
		wrong = append(wrong, "deny not attached")
	}
	if len(wrong) == 0 {
		return "ok"
	}
	return strings.Join(wrong, "; ")
}

// QUARANTINE_TARGET=session denies the logged session only, and leaves the
// role-wide IAM response alone.
func TestSessionTarget(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TARGET": "session"})
	w.withDenyPolicy()
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("writer")}.json())
	if got := w.denied(); !slices.Equal(got, []string{session("writer")}) {
		t.Fatalf("denied = %q; want the session ARN only", got)
	}
	if got := w.attached("writer"); len(got) != 0 {
		t.Errorf("attached = %q; the role-wide deny was applied in session mode", got)
	}
	w.wantAlerts(1, "quarantined", "detail", "this role session only")
}

// Quarantines racing on one bucket from several instances, with the sweep
// running all the while: every principal lands in the policy and the
// records with nothing pending, and the sweep never mistakes work in
// flight for drift or for a deny without a record.
func TestQuarantinesRaceWithTheSweep(t *testing.T) {
	const n, instances = 12, 3
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_MAX_PER_HOUR": "100", "QUARANTINE_MAX_PER_BUCKET_HOUR": "100"})
	deny := w.withDenyPolicy()
	health := w.withHealth()
	for i := range n {
		w.createRole(fmt.Sprintf("race-%02d", i), "/")
	}
	fns := make([]*harness.Lambda, instances)
	for i := range fns {
		fns[i] = w.function()
	}
	sweeper := w.function()
	stop := make(chan struct{})
	swept := make(chan int)
	go func() {
		k := 0
		for {
			select {
			case <-stop:
				swept <- k
				return
			default:
				sweeper.MustInvoke(t, sweepEvent)
				k++
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			for j := i; j < n; j += instances {
				if r := fns[i].MustInvoke(t, ev{principal: session(fmt.Sprintf("race-%02d", j))}.json()); r.Err != "" {
					t.Errorf("invocation failed: %s", r.Err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	t.Logf("%d sweeps ran during the race", <-swept)
	for i := range n {
		if got := w.check(fmt.Sprintf("race-%02d", i), deny); got != "ok" {
			t.Errorf("race-%02d: %s", i, got)
		}
	}
	for _, a := range w.receive(health, time.Second) {
		t.Errorf("the sweep paged during a clean race: %s %v", a.Attributes["notice"], field(a.Doc, "detail"))
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/s3xguard/s3xguard/test/harness"
)

// sqsBatch wraps events as the SQS event source mapping delivers them.
func sqsBatch(bodies ...[]byte) []byte {
	var recs []string
	for i, b := range bodies {
		s, _ := json.Marshal(string(b))
		recs = append(recs, fmt.Sprintf(`{"messageId":"m%d","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:%s:events","body":%s}`, i, account, s))
	}
	return []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)
}

// edit changes an event's EventBridge envelope (the record is "detail").
func edit(e []byte, fn func(env map[string]any)) []byte {
	var env map[string]any
	if err := json.Unmarshal(e, &env); err != nil {
		panic(err)
	}
	fn(env)
	b, _ := json.Marshal(env)
	return b
}

// Forged inputs are alerted as forged and never quarantined, through the
// function and through the queue, even in enforce mode.
func TestForgedNeverQuarantined(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	w.withDenyPolicy()
	fn := w.function()
	real := ev{principal: session("writer"), name: "DeleteObject"}
	forged := map[string][]byte{
		"bare record": edit(real.json(), func(env map[string]any) {
			for k := range env {
				if k != "detail" {
					delete(env, k)
				}
			}
			maps.Copy(env, env["detail"].(map[string]any))
			delete(env, "detail")
		}),
		"other account":   edit(real.json(), func(env map[string]any) { env["account"] = "210987654321" }),
		"other region":    edit(real.json(), func(env map[string]any) { env["region"] = "eu-west-1" }),
		"other source":    edit(real.json(), func(env map[string]any) { env["source"] = "my.app" }),
		"other recipient": edit(real.json(), func(env map[string]any) { env["detail"].(map[string]any)["recipientAccountId"] = "210987654321" }),
	}
	var bodies [][]byte
	for name, e := range forged {
		if r := fn.MustInvoke(t, e); r.Err != "" {
			t.Fatalf("%s: %s", name, r.Err)
		}
		bodies = append(bodies, e)
	}
	if r := fn.MustInvoke(t, sqsBatch(bodies...)); r.Err != "" || !strings.Contains(string(r.Body), `"batchItemFailures":[]`) {
		t.Fatalf("forged batch: %+v", r)
	}
	got := w.alerts(2 * time.Second)
	inputs := map[string]int{}
	seen := map[string]bool{}
	for _, a := range got {
		if a.Attributes["kind"] != "forged" || a.Attributes["action"] != "alert only" {
			t.Errorf("forged input alerted as %s / %s: %v", a.Attributes["kind"], a.Attributes["action"], a.Doc)
		}
		input := strings.SplitN(fmt.Sprint(a.Doc["input"]), ":", 2)[0]
		if k := input + fmt.Sprint(field(a.Doc, "decision", "reasons")); !seen[k] {
			seen[k] = true
			inputs[input]++
		}
	}
	// One alert per class and source (a slow publish retried may deliver
	// one twice): 5 classes, invoke and sqs.
	if inputs["invoke"] != 5 || inputs["sqs"] != 5 {
		t.Errorf("forged alerts by input: %v; want 5 through invoke, 5 through sqs", inputs)
	}
	if p := w.policy(); p != "" {
		t.Fatalf("a forged event changed the bucket policy: %s", p)
	}
	if c := w.proxy.Calls(); c["iam:PutRolePolicy"]+c["s3express:PUT?policy"] != 0 {
		t.Fatalf("a forged event reached enforcement: %s", harness.FormatCalls(c))
	}
	// The real event is quarantined.
	if r := fn.MustInvoke(t, real.json()); r.Err != "" {
		t.Fatal(r.Err)
	}
	if d := w.denied(); len(d) != 1 {
		t.Fatalf("denied = %v; want the writer", d)
	}
}

// Any payload is judged by the function: not JSON, empty, huge.
func TestAnyPayloadIsAnInvalidAlert(t *testing.T) {
	w := newWorld(t, nil)
	fn := w.function()
	huge := []byte(`{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3express","account":"` + account +
		`","region":"us-east-1","detail":{"eventSource":"s3express.amazonaws.com","eventName":"PutObject","recipientAccountId":"` + account +
		`","userAgent":"` + strings.Repeat("A", 300_000) + `","userIdentity":{"type":"AssumedRole","arn":"` + session("writer") + `","accountId":"` + account + `"}}}`)
	for name, p := range map[string][]byte{"not json": []byte("hello, guard"), "empty": {}, "number": []byte("42")} {
		if r := fn.MustInvoke(t, p); r.Err != "" {
			t.Fatalf("%s: %s\n%s", name, r.Err, fn.Log())
		}
	}
	if r := fn.MustInvoke(t, huge); r.Err != "" {
		t.Fatalf("huge: %s", r.Err)
	}
	got := w.alerts(2 * time.Second)
	kinds := map[string]int{}
	for _, a := range got {
		kinds[a.Attributes["kind"]]++
		if a.Attributes["kind"] == "unauthorized" {
			if c, _ := a.Doc["clipped"].([]any); len(c) == 0 || !strings.Contains(fmt.Sprint(c), "event.userAgent") {
				t.Errorf("huge user agent: clipped = %v", a.Doc["clipped"])
			}
		}
	}
	// not JSON and a number are different classes; empty is a third.
	if kinds["invalid"] != 3 || kinds["unauthorized"] != 1 {
		t.Fatalf("alerts by kind %v; want 3 invalid, 1 unauthorized (the huge one, clipped)", kinds)
	}
}

// A HeadObject then a DeleteBucketPolicy in one window: two alerts. The
// function's own policy reads are allowed and never alerted (its writes are
// verified: TestOwnRoleWritesAreVerified).
func TestEscalationAndOwnCalls(t *testing.T) {
	w := newWorld(t, map[string]string{"FUNCTION_ROLE_ARN": "arn:aws:iam::123456789012:role/service/guard-fn"})
	fn := w.function()
	for _, e := range []ev{
		{principal: session("writer"), name: "HeadObject"},
		{principal: session("writer"), name: "GetObject"},
		{principal: session("writer"), name: "DeleteBucketPolicy"},
		{principal: session("writer"), name: "HeadObject"},
		{principal: session("writer"), name: "PutBucketPolicy"},
		{principal: session("guard-fn"), name: "GetBucketPolicy"},
	} {
		if r := fn.MustInvoke(t, e.json()); r.Err != "" {
			t.Fatal(r.Err)
		}
	}
	var got []string
	for _, a := range w.alerts(2 * time.Second) {
		got = append(got, a.Attributes["eventName"]+"/"+a.Attributes["severity"]+fmt.Sprintf("/escalated=%v", a.Doc["escalated"] == true))
	}
	slices.Sort(got)
	want := []string{"DeleteBucketPolicy/critical/escalated=true", "HeadObject/medium/escalated=false"}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts %v; want %v", got, want)
	}
	if !strings.Contains(fn.Log(), `"rule":"s3xguard-self"`) {
		t.Errorf("own call not logged as allowed by s3xguard-self")
	}
}

// dedupItem reads the dedup record of an unauthorized event's key.
func (w *world) dedupItem(principalRole, ip string) map[string]ddbtypes.AttributeValue {
	k := fmt.Sprintf("dedup#unauthorized|arn:aws:iam::%s:role/%s|%s|%s", account, principalRole, bucket, ip)
	out := must(dynamodb.NewFromConfig(w.cfg).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: k}}, ConsistentRead: aws.Bool(true)}))
	return out.Item
}

func attrS(it map[string]ddbtypes.AttributeValue, name string) string {
	switch v := it[name].(type) {
	case *ddbtypes.AttributeValueMemberS:
		return v.Value
	case *ddbtypes.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

// A batch under an SNS that hangs stops taking messages at the reserve and
// reports the rest as failures before the deadline; SQS's redelivery of
// those sends every alert once.
func TestBatchStopsAtTheReserve(t *testing.T) {
	const n = 30
	w := newWorld(t, map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "5"})
	fn := w.function()
	fn.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
	var bodies [][]byte
	for i := range n {
		bodies = append(bodies, ev{principal: session("writer"), ip: fmt.Sprintf("198.51.100.%d", i)}.json())
	}
	w.proxy.Inject(&harness.Fault{Service: "sns", Hang: true})
	t0 := time.Now()
	r := fn.MustInvoke(t, sqsBatch(bodies...))
	took := time.Since(t0)
	var resp struct {
		BatchItemFailures []struct{ ItemIdentifier string }
	}
	if err := json.Unmarshal(r.Body, &resp); err != nil || r.Err != "" {
		t.Fatalf("batch under a hanging SNS: %+v (%v); want a partial failure report, not a timeout\n%s", r, err, fn.Log())
	}
	if len(resp.BatchItemFailures) != n || took >= 5*time.Second {
		t.Fatalf("%d of %d messages reported failed, after %v; want all, before the 5 s deadline", len(resp.BatchItemFailures), n, took)
	}
	if !strings.Contains(fn.Log(), "out of time; messages left for SQS to redeliver") {
		t.Error("no log line for the messages left")
	}
	w.proxy.Clear()
	var again [][]byte
	for _, f := range resp.BatchItemFailures {
		var i int
		fmt.Sscanf(f.ItemIdentifier, "m%d", &i)
		again = append(again, bodies[i])
	}
	// SQS redelivers what failed until nothing does (on a loaded machine a
	// redelivery may itself stop at the reserve).
	for round := 0; len(again) > 0; round++ {
		if round == 5 {
			t.Fatalf("%d messages still failing after 5 redeliveries", len(again))
		}
		r = fn.MustInvoke(t, sqsBatch(again...))
		resp.BatchItemFailures = nil
		if err := json.Unmarshal(r.Body, &resp); err != nil || r.Err != "" {
			t.Fatalf("redelivery: %+v", r)
		}
		var next [][]byte
		for _, f := range resp.BatchItemFailures {
			var i int
			fmt.Sscanf(f.ItemIdentifier, "m%d", &i)
			next = append(next, again[i])
		}
		again = next
	}
	if got := w.alerts(2 * time.Second); len(got) != n {
		t.Fatalf("%d alerts after redelivery; want %d", len(got), n)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/s3xguard/s3xguard/test/harness"
)

const alertBus = "s3xguard-alerts"

// withBus creates ALERT_BUS with a rule sending every s3xguard event to a
// queue, and returns the queue's URL.
func (w *world) withBus() string {
	ctx := context.Background()
	eb, sqsc := eventbridge.NewFromConfig(w.cfg), sqs.NewFromConfig(w.cfg)
	must(eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(alertBus)}))
	q := *must(sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bus")})).QueueUrl
	qarn := must(sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})).Attributes["QueueArn"]
	must(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), EventBusName: aws.String(alertBus),
		EventPattern: aws.String(`{"source":["s3xguard"]}`)}))
	must(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"), EventBusName: aws.String(alertBus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: &qarn}}}))
	w.env["ALERT_BUS"] = alertBus
	return q
}

// busEvent is one EventBridge event as the bus's queue received it.
type busEvent struct {
	Source     string         `json:"source"`
	DetailType string         `json:"detail-type"`
	Detail     map[string]any `json:"detail"`
}

func (w *world) busEvents(queueURL string, quiet time.Duration) []busEvent {
	w.t.Helper()
	sqsc := sqs.NewFromConfig(w.cfg)
	var out []busEvent
	deadline := time.Now().Add(quiet)
	for time.Now().Before(deadline) {
		got := must(sqsc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1}))
		for _, m := range got.Messages {
			var e busEvent
			if err := json.Unmarshal([]byte(*m.Body), &e); err != nil {
				w.t.Fatalf("bus event is not JSON: %v: %s", err, *m.Body)
			}
			out = append(out, e)
			must(sqsc.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: m.ReceiptHandle}))
			deadline = time.Now().Add(quiet)
		}
	}
	return out
}

// releaseCommand is the release command among an alert's next steps.
func releaseCommand(t *testing.T, a alert) string {
	t.Helper()
	for _, s := range field(a.Doc, "nextSteps").([]any) {
		if _, cmd, ok := strings.Cut(s.(string), ": AWS_REGION="); ok && strings.Contains(cmd, "s3xguard quarantine release") {
			return "AWS_REGION=" + cmd
		}
	}
	t.Fatalf("no release command in the next steps: %v", field(a.Doc, "nextSteps"))
	return ""
}

// runPaged runs a command copied from a page as on-call would: the
// command's own variables and arguments, and credentials; no STATE_TABLE,
// IAM_DENY_POLICY_ARN or ALERT_BUS, so the page must name them all.
func (w *world) runPaged(command string) (string, error) {
	w.t.Helper()
	fields := strings.Fields(command)
	env := []string{}
	for k, v := range harness.FunctionEnv(w.moto.URL) {
		if k != "AWS_REGION" {
			env = append(env, k+"="+v)
		}
	}
	for len(fields) > 0 && strings.Contains(fields[0], "=") {
		env, fields = append(env, fields[0]), fields[1:]
	}
	if len(fields) == 0 || fields[0] != "s3xguard" {
		w.t.Fatalf("command %q does not run s3xguard", command)
	}
	cmd := exec.Command(harness.Build(w.t, "./lambda/cmd/s3xguard"), fields[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The page's release command, run as written against moto, releases
// exactly the principal of that page and nothing else; every alert is
// copied to ALERT_BUS as the very document SNS subscribers got, and the
// release resolves the alert's incident on the bus.
func TestPagedReleaseCommandAndBus(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce"})
	deny := w.withDenyPolicy()
	busQ := w.withBus()
	fn := w.function()
	alice := "arn:aws:iam::123456789012:user/people/alice"
	for _, e := range []ev{{principal: session("writer")}, {principal: alice, idType: "IAMUser"}} {
		if r := fn.MustInvoke(t, e.json()); r.Err != "" {
			t.Fatalf("%s\n%s", r.Err, fn.Log())
		}
	}
	writerARN := "arn:aws:iam::123456789012:role/app/team/writer"
	if got := w.denied(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{writerARN, alice}) {
		t.Fatalf("denied = %q; want the writer and alice", got)
	}
	alerts := w.alerts(2 * time.Second)
	if len(alerts) != 2 {
		t.Fatalf("alerts = %d; want 2", len(alerts))
	}
	var writer alert
	for _, a := range alerts {
		if a.Attributes["guardedAccount"] != account || a.Attributes["guardedRegion"] != harness.Region {
			t.Errorf("attributes %v; want the guarded account and region", a.Attributes)
		}
		if field(a.Doc, "response", "target") == writerARN {
			writer = a
		}
	}
	if writer.Doc == nil {
		t.Fatalf("no alert names the writer's deny: %+v", alerts)
	}

	events := w.busEvents(busQ, 2*time.Second)
	if len(events) != 2 {
		t.Fatalf("bus events = %d; want one per alert", len(events))
	}
	var matched int
	for _, e := range events {
		if e.Source != "s3xguard" || e.DetailType != "s3xguard alert" {
			t.Errorf("bus event source %q, detail type %q", e.Source, e.DetailType)
		}
		for _, a := range alerts {
			if reflect.DeepEqual(e.Detail, a.Doc) {
				matched++
			}
		}
	}
	if matched != 2 {
		t.Errorf("%d of 2 bus events carry an alert's document unchanged", matched)
	}

	cmd := releaseCommand(t, writer)
	for _, arg := range []string{"--table " + table, "--deny-policy " + deny, "--bus " + alertBus, "--principal " + writerARN} {
		if !strings.Contains(cmd, arg) {
			t.Errorf("release command %q lacks %q", cmd, arg)
		}
	}
	if out, err := w.runPaged(cmd); err != nil {
		t.Fatalf("paged release command %q: %v\n%s", cmd, err, out)
	}
	if got := w.denied(); !slices.Equal(got, []string{alice}) {
		t.Errorf("after the writer's release, denied = %q; want alice only", got)
	}
	if _, ok := w.records()[writerARN]; ok || len(w.records()) != 1 {
		t.Errorf("records after release = %v; want alice's only", w.records())
	}
	if got := w.attached("writer"); len(got) != 0 {
		t.Errorf("writer still has %v attached", got)
	}
	rel := w.busEvents(busQ, 2*time.Second)
	if len(rel) != 1 || rel[0].DetailType != "s3xguard quarantine released" ||
		rel[0].Detail["dedupKey"] != writer.Doc["dedupKey"] || rel[0].Detail["reason"] != "released" {
		t.Errorf("bus after release = %+v; want one release with dedupKey %v", rel, writer.Doc["dedupKey"])
	}
}

// An expired quarantine resolves its incident: the sweep that lifts it
// puts "s3xguard quarantine released" with the alert's dedupKey and
// reason "expired" on the bus.
func TestExpiryReleaseOnTheBus(t *testing.T) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "QUARANTINE_TTL": "2s"})
	busQ := w.withBus()
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("%s\n%s", r.Err, fn.Log())
	}
	alerts := w.alerts(2 * time.Second)
	if len(alerts) != 1 || alerts[0].Attributes["action"] != "quarantined" {
		t.Fatalf("alerts = %+v; want one quarantine", alerts)
	}
	if got := w.busEvents(busQ, time.Second); len(got) != 1 || got[0].DetailType != "s3xguard alert" {
		t.Fatalf("bus = %+v; want the alert", got)
	}
	time.Sleep(2500 * time.Millisecond) // past QUARANTINE_TTL
	if r := fn.MustInvoke(t, sweepEvent); r.Err != "" {
		t.Fatalf("sweep: %s\n%s", r.Err, fn.Log())
	}
	if got := w.denied(); len(got) != 0 {
		t.Fatalf("after expiry denied = %q", got)
	}
	rel := w.busEvents(busQ, 2*time.Second)
	if len(rel) != 1 || rel[0].DetailType != "s3xguard quarantine released" || rel[0].Detail["reason"] != "expired" ||
		rel[0].Detail["dedupKey"] != alerts[0].Doc["dedupKey"] {
		t.Errorf("bus after expiry = %+v; want one release with dedupKey %v", rel, alerts[0].Doc["dedupKey"])
	}
}

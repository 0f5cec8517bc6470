package e2e

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/s3xguard/s3xguard/infra/central"
	"github.com/s3xguard/s3xguard/test/harness"
)

// centralAccount is the organization's central account; the world's own
// account (harness.Account) is the member. moto keeps each account's
// resources apart and switches account on AssumeRole.
const centralAccount = "999988887777"

// memberStack stands for the member stack's name, which its forward rule
// matches alarm names by.
const memberStack = "StackSet-s3xguard-0123"

// withCentral builds the organization's central path as the stacks deploy
// it: in the central account, the central bus and its alert rule
// (central.AlertPattern); in the member, the forward rule on the default
// bus (central.ForwardPattern) with the central bus as target; and points
// the function's ALERT_BUS at the member's default bus. moto's EventBridge
// cannot target SNS, so the central rule's target is a queue standing for
// the organization's alert topic. It returns that queue's URL.
func (w *world) withCentral() string {
	w.t.Helper()
	ctx := context.Background()
	hub := w.in(centralAccount)
	eb, sqsc := eventbridge.NewFromConfig(hub), sqs.NewFromConfig(hub)
	busARN := *must(eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(central.BusName)})).EventBusArn
	q := *must(sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("central-alerts")})).QueueUrl
	qarn := must(sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})).Attributes["QueueArn"]
	must(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("MemberAlerts"), EventBusName: aws.String(central.BusName),
		EventPattern: aws.String(jsonOf(w.t, central.AlertPattern()))}))
	must(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("MemberAlerts"), EventBusName: aws.String(central.BusName),
		Targets: []ebtypes.Target{{Id: aws.String("topic"), Arn: &qarn}}}))

	member := eventbridge.NewFromConfig(w.cfg)
	must(member.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("ForwardToCentral"),
		EventPattern: aws.String(jsonOf(w.t, central.ForwardPattern(memberStack)))}))
	must(member.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ForwardToCentral"),
		Targets: []ebtypes.Target{{Id: aws.String("central"), Arn: &busARN}}}))
	w.env["ALERT_BUS"] = "default"
	return q
}

// in is a setup configuration acting in account.
func (w *world) in(account string) aws.Config {
	w.t.Helper()
	cfg := harness.SetupConfig(w.moto.URL)
	c := must(sts.NewFromConfig(cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/setup"), RoleSessionName: aws.String("setup")})).Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	return cfg
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// centralEvents reads the central queue as busEvents reads a member's.
func (w *world) centralEvents(queueURL string, quiet time.Duration) []busEvent {
	w.t.Helper()
	hub := w.cfg
	w.cfg = w.in(centralAccount)
	defer func() { w.cfg = hub }()
	return w.busEvents(queueURL, quiet)
}

// A member's alert pages locally and reaches the central account through
// the member's default bus and the central bus, as the same document,
// naming the member account, region and bucket.
func TestOrgAlertReachesCentral(t *testing.T) {
	w := newWorld(t, nil)
	centralQ := w.withCentral()
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("%s\n%s", r.Err, fn.Log())
	}
	local := w.alerts(2 * time.Second)
	if len(local) != 1 {
		t.Fatalf("local pages = %d; want 1", len(local))
	}
	events := w.centralEvents(centralQ, 2*time.Second)
	if len(events) != 1 {
		t.Fatalf("central events = %d; want 1 (the member's alert)\n%s", len(events), fn.Log())
	}
	e := events[0]
	if e.Source != central.Source || e.DetailType != central.AlertDetailType {
		t.Errorf("central event source %q, detail type %q", e.Source, e.DetailType)
	}
	if !reflect.DeepEqual(e.Detail, local[0].Doc) {
		t.Errorf("central page differs from the member's:\ncentral %v\nlocal   %v", e.Detail, local[0].Doc)
	}
	for _, c := range []struct {
		path []string
		want string
	}{{[]string{"guarded", "account"}, account}, {[]string{"guarded", "region"}, harness.Region}, {[]string{"event", "bucket"}, bucket}} {
		if got := field(e.Detail, c.path...); got != c.want {
			t.Errorf("central page %v = %v; want %q", c.path, got, c.want)
		}
	}
}

// With the central path broken (the central bus gone: EventBridge in the
// member refuses the forward), the member still pages locally, once, and
// the invocation succeeds: the bus is a copy of the page, never a reason
// to retry it.
func TestOrgMemberPagesWhenCentralFails(t *testing.T) {
	w := newWorld(t, nil)
	centralQ := w.withCentral()
	must(eventbridge.NewFromConfig(w.in(centralAccount)).DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(central.BusName)}))
	fn := w.function()
	if r := fn.MustInvoke(t, ev{principal: session("writer")}.json()); r.Err != "" {
		t.Fatalf("invocation failed with the central path down: %s\n%s", r.Err, fn.Log())
	}
	if local := w.alerts(2 * time.Second); len(local) != 1 || local[0].Attributes["kind"] != "unauthorized" {
		t.Fatalf("local pages = %+v; want one unauthorized alert", local)
	}
	if n := len(w.centralEvents(centralQ, time.Second)); n != 0 {
		t.Errorf("central events = %d with its bus deleted", n)
	}
	// And with EventBridge itself unreachable from the member.
	w.proxy.Fail("events", 503)
	if r := fn.MustInvoke(t, ev{principal: session("etl"), ip: "192.0.2.10"}.json()); r.Err != "" {
		t.Fatalf("invocation failed with EventBridge down: %s\n%s", r.Err, fn.Log())
	}
	if local := w.alerts(2 * time.Second); len(local) != 1 {
		t.Fatalf("local pages with EventBridge down = %d; want 1", len(local))
	}
	if w.proxy.Calls()["events:PutEvents"] == 0 {
		t.Errorf("the function never tried the bus: %s", harness.FormatCalls(w.proxy.Calls()))
	}
}

package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/doctor"
	"github.com/s3xguard/s3xguard/rules"
)

// synthesized is one config's app, synthesized once and shared by tests:
// every synth starts node through jsii, which takes seconds.
type synthesized struct {
	cfg      *Config
	guard    *Guard
	template map[string]any
	outdir   string
}

var (
	functionOnce sync.Once
	functionDir  string
	functionErr  error
	synthMu      sync.Mutex
	synths       = map[string]*synthesized{}
)

// scratch holds the function build and the cloud assemblies, shared by
// the tests of this package and removed after them.
var scratch string

func TestMain(m *testing.M) {
	var err error
	if scratch, err = os.MkdirTemp("", "s3xguard-infra-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(scratch)
	os.Exit(code)
}

// configs: "full" is the strictest deployment (enforce, IAM response,
// trail, named buckets, event queue, every kind of subscription, a
// break-glass role); "minimal" relies on an existing trail, guards every
// bucket and leaves IAM alone; "revoke" adds session revocation, guards
// every bucket, and protects principals of every kind (some of which the
// stack must warn about).
func configFor(name string) *Config {
	c := validConfig()
	switch name {
	case "full":
		c.IAMResponse, c.CreateTrail, c.QueueEvents = true, true, true
		c.Buckets = []string{"analytics--use1-az4--x-s3", "logs-app--use1-az4--x-s3"}
		c.Subscriptions = Subscriptions{Email: []string{"secops@example.com"}, SMS: []string{"+15555550100"}, HTTPS: []string{"https://hooks.example.com/s3xguard"}}
		c.HealthSubscriptions = &Subscriptions{Email: []string{"platform@example.com"}}
	case "minimal":
		c.ResponseMode, c.Buckets, c.BreakGlassRoleArn = "alert", []string{"*"}, ""
	case "routing":
		c.Subscriptions = Subscriptions{Email: []string{"secops@example.com"}}
		c.Routing = testRouting()
	case "revoke":
		two := 2
		c.IAMResponse, c.RevokeSessions, c.Buckets = true, true, []string{"*"}
		c.Allowlist = "testdata/protected.yaml"
		c.Subscriptions = Subscriptions{Email: []string{"secops@example.com"}}
		c.QuarantineTTL, c.QuarantineTarget, c.QuarantineFailedCalls, c.QuarantineMaxPerBucketHour = "0", "session", true, &two
		c.ReservedConcurrency, c.BatchParallelism = 50, 8
		c.Findings = "securityhub"
		c.SessionCheck, c.SessionTolerance = "enforce", "16,48"
		c.CdkQualifier = "guard7"
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

var configs = []string{"full", "minimal", "revoke", "routing"}

func synth(t *testing.T, name string) *synthesized {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synths[name]; ok {
		return s
	}
	functionOnce.Do(func() {
		functionDir, functionErr = BuildFunction("../..", "../../rules/allowlist.example.yaml", scratch)
	})
	if functionErr != nil {
		t.Fatal(functionErr)
	}
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	outdir, err := os.MkdirTemp(scratch, "cdk.out-")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	cfg := configFor(name)
	guards, err := AddStages(app, cfg, func(string) (string, error) { return functionDir, nil })
	if err != nil {
		t.Fatal(err)
	}
	app.Synth(nil)
	tmpl := assertions.Template_FromStack(guards[0].Stack, nil)
	var m map[string]any
	b, _ := json.Marshal(tmpl.ToJSON())
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	s := &synthesized{cfg: cfg, guard: guards[0], template: m, outdir: outdir}
	synths[name] = s
	return s
}

// resources returns the properties of every resource of type typ, by
// logical ID.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.template["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			p, _ := r["Properties"].(map[string]any)
			if p == nil {
				p = map[string]any{}
			}
			out[id] = p
		}
	}
	return out
}

func (s *synthesized) one(t *testing.T, typ string) map[string]any {
	t.Helper()
	rs := s.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s; want 1", len(rs), typ)
	}
	for _, p := range rs {
		return p
	}
	return nil
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestFunction(t *testing.T) {
	s := synth(t, "full")
	fn := s.one(t, "AWS::Lambda::Function")
	for k, want := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "MemorySize": 256.0, "Timeout": 60.0} {
		if fn[k] != want {
			t.Errorf("%s = %v; want %v", k, fn[k], want)
		}
	}
	if js(fn["Architectures"]) != `["arm64"]` {
		t.Errorf("Architectures = %s", js(fn["Architectures"]))
	}
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, want := range map[string]string{
		"RESPONSE_MODE": "enforce", "DEDUP_WINDOW": "5m", "QUARANTINE_MAX_PER_HOUR": "5", "QUARANTINE_TTL": "24h",
		"IAM_RESPONSE": "on", "OBJECT_KEYS": "truncate", "GUARDED_BUCKETS": "analytics--use1-az4--x-s3,logs-app--use1-az4--x-s3",
	} {
		if env[k] != want {
			t.Errorf("env %s = %v; want %q", k, env[k], want)
		}
	}
	if !strings.Contains(js(env["ALERT_TOPIC_ARN"]), "Alerts") || !strings.Contains(js(env["STATE_TABLE"]), "State") {
		t.Errorf("ALERT_TOPIC_ARN %s, STATE_TABLE %s: want references to the topic and table", js(env["ALERT_TOPIC_ARN"]), js(env["STATE_TABLE"]))
	}
	if !strings.Contains(js(env["ACCOUNT_ID"]), "AWS::AccountId") {
		t.Errorf("ACCOUNT_ID = %s; want the stack's account", js(env["ACCOUNT_ID"]))
	}
	for k, want := range map[string]string{
		"HEALTH_TOPIC_ARN":    `{"Ref":"Health`,
		"FUNCTION_ROLE_ARN":   `{"Fn::GetAtt":["FunctionRole`,
		"IAM_DENY_POLICY_ARN": `{"Ref":"QuarantineDeny`,
	} {
		if !strings.HasPrefix(js(env[k]), want) {
			t.Errorf("env %s = %s; want %s...", k, js(env[k]), want)
		}
	}
	for k, want := range map[string]string{
		"REVOKE_SESSIONS": "off", "QUARANTINE_TARGET": "role", "QUARANTINE_MAX_PER_BUCKET_HOUR": "3", "QUARANTINE_FAILED_CALLS": "off",
		"BATCH_PARALLELISM": "4", "FINDINGS": "off", "SESSION_CHECK": "off", "SESSION_TOLERANCE": "24,64",
	} {
		if env[k] != want {
			t.Errorf("env %s = %v; want %q", k, env[k], want)
		}
	}
	if fn["ReservedConcurrentExecutions"] != 20.0 {
		t.Errorf("reserved concurrency %v; want the default 20", fn["ReservedConcurrentExecutions"])
	}
	r := synth(t, "revoke").one(t, "AWS::Lambda::Function")
	renv := r["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, want := range map[string]string{
		"REVOKE_SESSIONS": "on", "QUARANTINE_TARGET": "session", "QUARANTINE_MAX_PER_BUCKET_HOUR": "2", "QUARANTINE_FAILED_CALLS": "on",
		"QUARANTINE_TTL": "0", "GUARDED_BUCKETS": "*", "BATCH_PARALLELISM": "8", "FINDINGS": "securityhub",
		"SESSION_CHECK": "enforce", "SESSION_TOLERANCE": "16,48",
	} {
		if renv[k] != want {
			t.Errorf("revoke: env %s = %v; want %q", k, renv[k], want)
		}
	}
	if r["ReservedConcurrentExecutions"] != 50.0 {
		t.Errorf("revoke: reserved concurrency %v; want 50", r["ReservedConcurrentExecutions"])
	}
	if v, ok := synth(t, "minimal").one(t, "AWS::Lambda::Function")["Environment"].(map[string]any)["Variables"].(map[string]any)["IAM_DENY_POLICY_ARN"]; ok {
		t.Errorf("IAM response off, yet IAM_DENY_POLICY_ARN = %s", js(v))
	}
	lg := s.one(t, "AWS::Logs::LogGroup")
	if lg["RetentionInDays"] != 365.0 {
		t.Errorf("log retention %v", lg["RetentionInDays"])
	}
	if m := synth(t, "minimal"); js(m.one(t, "AWS::Lambda::Function")["Environment"]) == js(fn["Environment"]) {
		t.Error("minimal and full configs gave the same environment")
	}
}

// TestFunctionBundle: the asset holds the arm64 bootstrap and the allowlist.
func TestFunctionBundle(t *testing.T) {
	synth(t, "full")
	data, err := os.ReadFile(filepath.Join(functionDir, "allowlist.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Parse("bundled", data); err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile(filepath.Join(functionDir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	// ELF, 64-bit, machine AArch64 (0xB7).
	if len(f) < 20 || string(f[1:4]) != "ELF" || f[4] != 2 || f[18] != 0xB7 {
		t.Fatal("bootstrap is not a linux/arm64 ELF executable")
	}
	// The bundled allowlist's digest is linked into the binary: the
	// function's configuration cannot name another allowlist.
	if digest := config.AllowlistDigest(data); !strings.Contains(string(f), digest) {
		t.Errorf("bootstrap does not carry the bundled allowlist's digest %s", digest)
	}
}

// TestRulePattern: the deployed pattern is rules.EventPattern's, one
// source of truth, for named buckets and for all.
func TestRulePattern(t *testing.T) {
	for _, name := range []string{"full", "minimal"} {
		s := synth(t, name)
		var events map[string]any
		for _, r := range s.resources("AWS::Events::Rule") {
			if r["EventPattern"] != nil {
				events = r
			}
		}
		if events == nil {
			t.Fatalf("%s: no event pattern rule", name)
		}
		raw, err := rules.EventPattern(s.cfg.Buckets)
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		json.Unmarshal(raw, &want)
		// Only the account the stack guards: an event another account
		// puts on this bus never reaches the function.
		want["account"] = []any{"111122223333"}
		if !reflect.DeepEqual(events["EventPattern"], want) {
			t.Errorf("%s: pattern\n%s\nwant\n%s", name, js(events["EventPattern"]), raw)
		}
		if events["State"] != "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" {
			t.Errorf("%s: rule state %v; want ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (read-only management events too)", name, events["State"])
		}
		target := events["Targets"].([]any)[0].(map[string]any)
		if js(target["RetryPolicy"]) != `{"MaximumEventAgeInSeconds":7200,"MaximumRetryAttempts":8}` {
			t.Errorf("retry policy %s", js(target["RetryPolicy"]))
		}
		if !strings.Contains(js(target["DeadLetterConfig"]), "DeadLetters") {
			t.Errorf("dead letter config %s", js(target["DeadLetterConfig"]))
		}
	}
	var sweep bool
	for _, r := range synth(t, "full").resources("AWS::Events::Rule") {
		sweep = sweep || r["ScheduleExpression"] == "rate(1 minute)"
	}
	if !sweep {
		t.Error("no rate(1 minute) sweep rule")
	}
}

// TestQueueEvents: with queueEvents the rule feeds a queue the function
// reads in batches, reporting failed messages alone; without, no queue.
func TestQueueEvents(t *testing.T) {
	s := synth(t, "full")
	esm := s.one(t, "AWS::Lambda::EventSourceMapping")
	if js(esm["FunctionResponseTypes"]) != `["ReportBatchItemFailures"]` || esm["BatchSize"] != 100.0 ||
		!strings.Contains(js(esm["EventSourceArn"]), "Events") {
		t.Errorf("event source mapping %s", js(esm))
	}
	var events map[string]any
	for id, q := range s.resources("AWS::SQS::Queue") {
		if strings.HasPrefix(id, "Events") {
			events = q
		}
	}
	if events == nil || !strings.Contains(js(events["RedrivePolicy"]), "DeadLetters") || events["VisibilityTimeout"] != 360.0 {
		t.Fatalf("events queue %s", js(events))
	}
	for _, r := range s.resources("AWS::Events::Rule") {
		if r["EventPattern"] != nil && !strings.Contains(js(r["Targets"]), "Events") {
			t.Errorf("the rule does not target the events queue: %s", js(r["Targets"]))
		}
	}
	m := synth(t, "minimal")
	if n := len(m.resources("AWS::Lambda::EventSourceMapping")); n != 0 {
		t.Errorf("queueEvents off, yet %d event source mappings", n)
	}
	for _, r := range m.resources("AWS::Events::Rule") {
		if r["EventPattern"] != nil && !strings.Contains(js(r["Targets"]), "Function") {
			t.Errorf("the rule does not target the function: %s", js(r["Targets"]))
		}
	}
}

func TestStateTable(t *testing.T) {
	s := synth(t, "full")
	tbl := s.one(t, "AWS::DynamoDB::Table")
	for k, want := range map[string]string{
		"KeySchema":                        `[{"AttributeName":"pk","KeyType":"HASH"}]`,
		"TimeToLiveSpecification":          `{"AttributeName":"expires","Enabled":true}`,
		"PointInTimeRecoverySpecification": `{"PointInTimeRecoveryEnabled":true}`,
		"BillingMode":                      `"PAY_PER_REQUEST"`,
		"SSESpecification":                 `{"SSEEnabled":true}`,
	} {
		if js(tbl[k]) != want {
			t.Errorf("%s = %s; want %s", k, js(tbl[k]), want)
		}
	}
	for _, r := range s.template["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == "AWS::DynamoDB::Table" && r["DeletionPolicy"] != "Retain" {
			t.Errorf("table DeletionPolicy %v; want Retain", r["DeletionPolicy"])
		}
	}
}

// byID returns the properties of the one resource of type typ whose logical
// ID starts with prefix.
func (s *synthesized) byID(t *testing.T, typ, prefix string) map[string]any {
	t.Helper()
	var out map[string]any
	for id, p := range s.resources(typ) {
		if strings.HasPrefix(id, prefix) {
			if out != nil {
				t.Fatalf("more than one %s named %s*", typ, prefix)
			}
			out = p
		}
	}
	if out == nil {
		t.Fatalf("no %s named %s*", typ, prefix)
	}
	return out
}

// between is the part of s after the first from and before the next to.
func between(s, from, to string) string {
	_, s, _ = strings.Cut(s, from)
	s, _, _ = strings.Cut(s, to)
	return s
}

// policyStatement returns the statement with Sid sid of a policy document,
// as JSON, or "".
func policyStatement(doc any, sid string) string {
	m, _ := doc.(map[string]any)
	sts, _ := m["Statement"].([]any)
	for _, st := range sts {
		if st.(map[string]any)["Sid"] == sid {
			return js(st)
		}
	}
	return ""
}

// TestTopics: alerts and health go to two topics, each under its own key
// (rotation on, CloudWatch admitted), TLS only, with their own subscribers.
func TestTopics(t *testing.T) {
	s := synth(t, "full")
	alerts, health := s.byID(t, "AWS::SNS::Topic", "Alerts"), s.byID(t, "AWS::SNS::Topic", "Health")
	if !strings.Contains(js(alerts["KmsMasterKeyId"]), "AlertKey") || !strings.Contains(js(health["KmsMasterKeyId"]), "HealthKey") {
		t.Errorf("topic keys: alerts %s, health %s", js(alerts["KmsMasterKeyId"]), js(health["KmsMasterKeyId"]))
	}
	keys := s.resources("AWS::KMS::Key")
	if len(keys) != 3 {
		t.Errorf("%d keys; want 3 (alerts, health, failed invocations)", len(keys))
	}
	for id, key := range keys {
		if key["EnableKeyRotation"] != true {
			t.Errorf("key %s: rotation off", id)
		}
		if !strings.HasPrefix(id, "FailedInvocations") && !strings.Contains(js(key["KeyPolicy"]), `"Service":"cloudwatch.amazonaws.com"`) {
			t.Errorf("key %s does not admit CloudWatch alarms: %s", id, js(key["KeyPolicy"]))
		}
	}
	for _, prefix := range []string{"AlertsPolicy", "HealthPolicy"} {
		policy := js(s.byID(t, "AWS::SNS::TopicPolicy", prefix)["PolicyDocument"])
		if !strings.Contains(policy, `"Condition":{"Bool":{"aws:SecureTransport":"false"}}`) || !strings.Contains(policy, `"Effect":"Deny"`) {
			t.Errorf("%s does not deny publishing without TLS: %s", prefix, policy)
		}
		if !strings.Contains(policy, `"Principal":{"Service":"cloudwatch.amazonaws.com"}`) {
			t.Errorf("%s does not admit CloudWatch alarms: %s", prefix, policy)
		}
	}
	protocols := map[string]map[string]bool{"Alerts": {}, "Health": {}}
	for _, sub := range s.resources("AWS::SNS::Subscription") {
		protocols[topicOf(sub)][sub["Protocol"].(string)+":"+sub["Endpoint"].(string)] = true
	}
	if !reflect.DeepEqual(protocols, map[string]map[string]bool{
		"Alerts": {"email:secops@example.com": true, "sms:+15555550100": true, "https:https://hooks.example.com/s3xguard": true},
		"Health": {"email:platform@example.com": true},
	}) {
		t.Errorf("subscriptions %v", protocols)
	}
	// healthSubscriptions left out: the alert topic's subscribers.
	var revoke []string
	for _, sub := range synth(t, "revoke").resources("AWS::SNS::Subscription") {
		revoke = append(revoke, topicOf(sub)+" "+sub["Endpoint"].(string))
	}
	sort.Strings(revoke)
	if js(revoke) != `["Alerts secops@example.com","Health secops@example.com"]` {
		t.Errorf("revoke: subscriptions %v; want secops on both topics", revoke)
	}
	if n := len(synth(t, "minimal").resources("AWS::SNS::Subscription")); n != 0 {
		t.Errorf("minimal config has %d subscriptions", n)
	}
}

// topicOf names the topic a subscription belongs to.
func topicOf(sub map[string]any) string {
	if strings.HasPrefix(js(sub["TopicArn"]), `{"Ref":"Health`) {
		return "Health"
	}
	return "Alerts"
}

func TestQueues(t *testing.T) {
	s := synth(t, "full")
	for id, q := range s.resources("AWS::SQS::Queue") {
		if q["SqsManagedSseEnabled"] != true && !strings.Contains(js(q["KmsMasterKeyId"]), "FailedInvocationsKey") {
			t.Errorf("queue %s not encrypted: %s", id, js(q))
		}
	}
	if q := s.byID(t, "AWS::SQS::Queue", "DeadLetters"); q["MessageRetentionPeriod"] != 1209600.0 {
		t.Errorf("DLQ keeps messages %v s; want 14 days", q["MessageRetentionPeriod"])
	}
	failed := s.byID(t, "AWS::SQS::Queue", "FailedInvocations")
	if failed["MessageRetentionPeriod"] != 1209600.0 || !strings.Contains(js(failed["KmsMasterKeyId"]), "FailedInvocationsKey") {
		t.Errorf("failed-invocation queue %s; want 14 days under its own KMS key", js(failed))
	}
	policies := s.resources("AWS::SQS::QueuePolicy")
	if len(policies) != 3 {
		t.Errorf("%d queue policies; want 3 (events, DLQ, failed invocations)", len(policies))
	}
	for id, p := range policies {
		if !strings.Contains(js(p), `"aws:SecureTransport":"false"`) {
			t.Errorf("queue policy %s does not deny non-TLS: %s", id, js(p))
		}
	}
}

// TestAsyncInvoke: an invocation Lambda accepted is retried twice, kept up
// to 6 hours, then sent to the failed-invocation queue, which the
// function's role may send to and an alarm watches.
func TestAsyncInvoke(t *testing.T) {
	for _, name := range configs {
		s := synth(t, name)
		cfg := s.one(t, "AWS::Lambda::EventInvokeConfig")
		if cfg["MaximumRetryAttempts"] != 2.0 || cfg["MaximumEventAgeInSeconds"] != 21600.0 || cfg["Qualifier"] != "$LATEST" ||
			!strings.Contains(js(cfg["DestinationConfig"]), `{"OnFailure":{"Destination":{"Fn::GetAtt":["FailedInvocations`) {
			t.Errorf("%s: event invoke config %s", name, js(cfg))
		}
		var send string
		for _, st := range s.statements(t) {
			if strings.Contains(st, `"sqs:SendMessage"`) && strings.Contains(st, "FailedInvocations") {
				send = st
			}
		}
		if !strings.Contains(send, `"Effect":"Allow"`) {
			t.Errorf("%s: the function may not send to the failed-invocation queue: %s", name, send)
		}
		if st := find(s.statements(t), `"kms:GenerateDataKey*"],"Effect":"Allow","Resource":{"Fn::GetAtt":["FailedInvocationsKey`); st == "" {
			t.Errorf("%s: the function cannot use the failed-invocation queue's key", name)
		}
	}
}

// alarmsByID maps each alarm's logical ID prefix (before the hash) to it.
func (s *synthesized) alarmsByID() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, a := range s.resources("AWS::CloudWatch::Alarm") {
		out[strings.TrimRight(id, "0123456789ABCDEF")] = a
	}
	return out
}

func TestAlarms(t *testing.T) {
	s := synth(t, "full")
	alarms := s.alarmsByID()
	for id, a := range alarms {
		actions := js(a["AlarmActions"])
		switch {
		case id == "HealthDeliveryAlarm":
			if !strings.Contains(actions, `"Ref":"Alerts`) {
				t.Errorf("%s notifies %s; want the alert topic (the health topic watched by the other)", id, actions)
			}
		case !strings.Contains(actions, `"Ref":"Health`) || strings.Contains(actions, "Alerts"):
			t.Errorf("%s notifies %s; want the health topic only", id, actions)
		}
	}
	for id, metric := range map[string]string{
		"FunctionErrorsAlarm": "Errors", "FunctionThrottlesAlarm": "Throttles", "DeadLettersAlarm": "ApproximateNumberOfMessagesVisible",
		"FailedInvocationsAlarm": "ApproximateNumberOfMessagesVisible", "BacklogAlarm": "ApproximateAgeOfOldestMessage",
		"RuleFailedInvocationsAlarm": "FailedInvocations", "SweepFailedInvocationsAlarm": "FailedInvocations",
		"AlertDeliveryAlarm": "NumberOfNotificationsFailed", "HealthDeliveryAlarm": "NumberOfNotificationsFailed",
		"BreakerAlarm": "BreakerTripped", "SilenceAlarm": "MatchedEvents",
	} {
		if a := alarms[id]; a == nil || a["MetricName"] != metric {
			t.Errorf("%s: %s; want an alarm on %s", id, js(a), metric)
		}
	}
	if len(alarms) != 11 {
		t.Errorf("%d alarms; want 11", len(alarms))
	}
	for id, want := range map[string]string{
		"FailedInvocationsAlarm":      `"QueueName","Value":{"Fn::GetAtt":["FailedInvocations`,
		"AlertDeliveryAlarm":          `"TopicName","Value":{"Fn::GetAtt":["Alerts`,
		"HealthDeliveryAlarm":         `"TopicName","Value":{"Fn::GetAtt":["Health`,
		"RuleFailedInvocationsAlarm":  `"RuleName","Value":{"Ref":"S3ExpressEvents`,
		"SweepFailedInvocationsAlarm": `"RuleName","Value":{"Ref":"Sweep`,
	} {
		if d := js(alarms[id]["Dimensions"]); !strings.Contains(d, want) {
			t.Errorf("%s dimensions %s; want %s", id, d, want)
		}
	}
	breaker := alarms["BreakerAlarm"]
	if breaker["Namespace"] != "s3xguard" || js(breaker["Dimensions"]) != `[{"Name":"Mode","Value":"enforce"}]` || breaker["Statistic"] != "Sum" {
		t.Errorf("breaker alarm %s", js(breaker))
	}
	silence := alarms["SilenceAlarm"]
	if silence["ComparisonOperator"] != "LessThanThreshold" || silence["TreatMissingData"] != "breaching" ||
		silence["EvaluationPeriods"] != 6.0 || silence["Period"] != 3600.0 || silence["Namespace"] != "AWS/Events" {
		t.Errorf("silence alarm %s", js(silence))
	}
	// The fail-open paths, each alarmed only when configured.
	r := synth(t, "revoke").alarmsByID()
	for id, metric := range map[string]string{"FindingsFailedAlarm": "FindingsFailed", "SessionUncheckedAlarm": "SessionUnchecked"} {
		a := r[id]
		if a == nil || a["MetricName"] != metric || a["Namespace"] != "s3xguard" || a["Statistic"] != "Sum" ||
			!strings.Contains(js(a["AlarmActions"]), `"Ref":"Health`) {
			t.Errorf("revoke: %s: %s; want an alarm on %s paging the health topic", id, js(a), metric)
		}
		if alarms[id] != nil {
			t.Errorf("full: %s without findings or sessionCheck", id)
		}
	}
	// Alert mode never quarantines: no breaker alarm; no event queue: no backlog alarm.
	m := synth(t, "minimal").alarmsByID()
	if m["BreakerAlarm"] != nil || m["BacklogAlarm"] != nil || m["FailedInvocationsAlarm"] == nil {
		t.Errorf("minimal alarms: breaker %v, backlog %v, failed invocations %v", m["BreakerAlarm"] != nil, m["BacklogAlarm"] != nil, m["FailedInvocationsAlarm"] != nil)
	}
}

// statements returns the function role's policy statements as JSON.
func (s *synthesized) statements(t *testing.T) []string {
	var out []string
	for _, p := range s.resources("AWS::IAM::Policy") {
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, js(st))
		}
	}
	return out
}

func find(stmts []string, substr string) string {
	for _, s := range stmts {
		if strings.Contains(s, substr) {
			return s
		}
	}
	return ""
}

func sid(stmts []string, sid string) string { return find(stmts, `"Sid":"`+sid+`"`) }

var inlineWrites = []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"}

func TestPermissions(t *testing.T) {
	full, minimal, revoke := synth(t, "full"), synth(t, "minimal"), synth(t, "revoke")
	fs := full.statements(t)
	if st := find(fs, `"sns:Publish"`); st == "" || !strings.Contains(st, "Alerts") || strings.Contains(st, `"Resource":"*"`) {
		t.Errorf("sns:Publish statement: %s", st)
	}
	var health bool
	for _, st := range fs {
		health = health || strings.Contains(st, `"sns:Publish"`) && strings.Contains(st, `"Resource":{"Ref":"Health`)
	}
	if !health {
		t.Error("the function may not publish to the health topic")
	}
	st := find(fs, "s3express:PutBucketPolicy")
	for _, want := range []string{"s3express:GetBucketPolicy", "s3express:DeleteBucketPolicy",
		":s3express:us-east-1:111122223333:bucket/analytics--use1-az4--x-s3", ":s3express:us-east-1:111122223333:bucket/logs-app--use1-az4--x-s3"} {
		if !strings.Contains(st, want) {
			t.Errorf("bucket policy statement lacks %s: %s", want, st)
		}
	}
	if strings.Contains(st, "bucket/*") {
		t.Errorf("named buckets, yet bucket/*: %s", st)
	}
	if st := find(minimal.statements(t), "s3express:PutBucketPolicy"); !strings.Contains(st, ":bucket/*") {
		t.Errorf("all buckets guarded, yet no bucket/*: %s", st)
	}
	if st := find(fs, `"kms:GenerateDataKey*"],"Effect":"Allow","Resource":{"Fn::GetAtt":["AlertKey`); st == "" {
		t.Error("the function cannot use the alert key")
	}
	if st := find(fs, "dynamodb:PutItem"); st == "" || strings.Contains(st, "dynamodb:Scan") || strings.Contains(st, "dynamodb:*") {
		t.Errorf("dynamodb statement: %s", st)
	}
	if st := find(fs, `"iam:GetRole"`); !strings.Contains(st, ":role/*") {
		t.Errorf("iam:GetRole statement: %s", st)
	}
	// IAM response on: attach and detach of the stack's deny policy only,
	// on role/* and user/*; no inline policy writes at all.
	allow := sid(fs, "QuarantineIAM")
	for _, want := range []string{`"Effect":"Allow"`, `"iam:AttachRolePolicy"`, `"iam:DetachRolePolicy"`, `"iam:AttachUserPolicy"`, `"iam:DetachUserPolicy"`,
		`"Condition":{"ArnEquals":{"iam:PolicyARN":{"Ref":"QuarantineDeny`, ":role/*", ":user/*"} {
		if !strings.Contains(allow, want) {
			t.Errorf("IAM response allow lacks %s: %s", want, allow)
		}
	}
	if n := strings.Count(strings.Join(fs, ""), "iam:PolicyARN"); n != 1 {
		t.Errorf("iam:PolicyARN appears %d times; want once, on the one attach statement", n)
	}
	for _, a := range inlineWrites {
		if strings.Contains(js(full.template["Resources"]), a) {
			t.Errorf("revokeSessions off, yet the template names %s", a)
		}
	}
	deny := sid(fs, "NeverQuarantineProtected")
	for _, want := range []string{`"Effect":"Deny"`, `"iam:AttachRolePolicy"`, `"iam:AttachUserPolicy"`,
		":iam::111122223333:role/BreakGlass", ":iam::111122223333:role/*/BreakGlass", ":iam::111122223333:role/platform-admin",
		":iam::111122223333:role/cdk-hnb659fds-*", ":iam::111122223333:role/Responder", "FunctionRole"} {
		if !strings.Contains(deny, want) {
			t.Errorf("deny statement lacks %s: %s", want, deny)
		}
	}
	// The deny policy: s3express:* on the guarded buckets, or bucket/*.
	dp := js(full.one(t, "AWS::IAM::ManagedPolicy")["PolicyDocument"])
	if !strings.Contains(dp, `"Action":"s3express:*","Effect":"Deny"`) || !strings.Contains(dp, ":bucket/analytics--use1-az4--x-s3") ||
		!strings.Contains(dp, ":bucket/logs-app--use1-az4--x-s3") || strings.Contains(dp, "bucket/*") || strings.Contains(dp, `"Effect":"Allow"`) {
		t.Errorf("deny policy %s", dp)
	}
	if dp := js(revoke.one(t, "AWS::IAM::ManagedPolicy")["PolicyDocument"]); !strings.Contains(dp, ":bucket/*") {
		t.Errorf("all buckets guarded, yet the deny policy is %s", dp)
	}
	// revokeSessions: inline role policies on role/*, never on AWS-managed,
	// organization, bootstrap, protected or the function's own roles, and
	// never on users.
	rs := revoke.statements(t)
	// findings: securityhub: import into the account's default product,
	// read back from its hub; nothing without the prop.
	if st := sid(rs, "ImportFindings"); !strings.Contains(st, `"Action":"securityhub:BatchImportFindings","Effect":"Allow"`) ||
		!strings.Contains(st, `:securityhub:us-east-1:111122223333:product/111122223333/default"`) {
		t.Errorf("import findings statement %s", st)
	}
	if st := sid(rs, "ReadFindingsToUpdate"); !strings.Contains(st, `"Action":"securityhub:GetFindings"`) || !strings.Contains(st, `:securityhub:us-east-1:111122223333:hub/default"`) {
		t.Errorf("read findings statement %s", st)
	}
	if st := find(fs, "securityhub:"); st != "" {
		t.Errorf("findings off, yet %s", st)
	}
	if st := sid(rs, "RevokeSessions"); !strings.Contains(st, `"Action":["iam:PutRolePolicy","iam:DeleteRolePolicy"],"Effect":"Allow"`) ||
		!strings.Contains(st, ":role/*") || strings.Contains(st, ":user/") {
		t.Errorf("revoke statement %s", st)
	}
	never := sid(rs, "NeverRevoke")
	for _, want := range []string{`"Effect":"Deny"`, ":role/aws-service-role/*", ":role/aws-reserved/*", ":role/OrganizationAccountAccessRole", ":role/*/OrganizationAccountAccessRole"} {
		if !strings.Contains(never, want) {
			t.Errorf("never-revoke statement lacks %s: %s", want, never)
		}
	}
	rdeny := sid(rs, "NeverQuarantineProtected")
	for _, want := range []string{`"iam:PutRolePolicy"`, ":user/alice", ":user/*/alice", ":role/shared-admin", ":role/BreakGlass", ":role/cdk-guard7-*", "FunctionRole"} {
		if !strings.Contains(rdeny, want) {
			t.Errorf("revoke: protected deny lacks %s: %s", want, rdeny)
		}
	}
	for _, not := range []string{"OtherAccountAdmin", "444455556666", "federated-user", ":root"} {
		if strings.Contains(rdeny, not) {
			t.Errorf("revoke: protected deny names %s: %s", not, rdeny)
		}
	}
	for _, a := range inlineWrites[2:] {
		if strings.Contains(js(revoke.template["Resources"]), a) {
			t.Errorf("revokeSessions revokes roles only, yet the template names %s", a)
		}
	}
	// IAM response off: no IAM write, no deny policy.
	// Resources only: the ContainmentScp output names IAM actions to deny.
	tmpl := js(minimal.template["Resources"])
	for _, a := range append(append([]string{}, inlineWrites...), "iam:Attach", "iam:Detach", "AWS::IAM::ManagedPolicy") {
		if strings.Contains(tmpl, a) {
			t.Errorf("IAM response off, yet the template has %s", a)
		}
	}
	for _, st := range append(append(fs, minimal.statements(t)...), rs...) {
		if strings.Contains(st, `"Action":"*"`) || strings.Contains(st, `"Resource":"*"`) && !strings.Contains(st, "xray") {
			t.Errorf("wildcard statement: %s", st)
		}
	}
}

// TestResourcePolicies: only the rules reach the function and the event
// queue; only the function (and the break-glass role) publishes, receives
// and writes the table; the deploy role and operators subscribe.
func TestResourcePolicies(t *testing.T) {
	full, minimal := synth(t, "full"), synth(t, "minimal")
	fnOnly := `"ArnNotLike":{"aws:PrincipalArn":[{"Fn::GetAtt":["FunctionRole`
	operators := `"arn:aws:iam::111122223333:role/oncall/Responder"]`
	notService := `"Bool":{"aws:PrincipalIsAWSService":"false"}`

	// The function's resource policy: events.amazonaws.com from the rules.
	for name, rules := range map[string][]string{"full": {"Sweep"}, "minimal": {"S3ExpressEvents", "Sweep"}} {
		perms := synth(t, name).resources("AWS::Lambda::Permission")
		var got []string
		for _, p := range perms {
			if p["Principal"] != "events.amazonaws.com" || p["Action"] != "lambda:InvokeFunction" {
				t.Errorf("%s: function permission %s", name, js(p))
			}
			arn := js(p["SourceArn"])
			if !strings.HasPrefix(arn, `{"Fn::GetAtt":["`) {
				t.Errorf("%s: function permission without a rule's SourceArn: %s", name, js(p))
				continue
			}
			got = append(got, strings.TrimRight(strings.Split(arn, `"`)[3], "0123456789ABCDEF"))
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, rules) {
			t.Errorf("%s: the function admits %v; want the rules %v", name, got, rules)
		}
	}

	// The event queue: only the rule sends, only the function (and the
	// break-glass role) receives.
	events := full.byID(t, "AWS::SQS::QueuePolicy", "EventsPolicy")["PolicyDocument"]
	if st := policyStatement(events, "OnlyTheRuleSends"); !strings.Contains(st, `"Condition":{"ArnNotEquals":{"aws:SourceArn":{"Fn::GetAtt":["S3ExpressEvents`) ||
		!strings.Contains(st, `"Effect":"Deny"`) || !strings.Contains(st, `"Principal":{"AWS":"*"}`) || !strings.Contains(st, `"Action":"sqs:SendMessage"`) {
		t.Errorf("event queue send statement %s", st)
	}
	if st := policyStatement(events, "OnlyTheFunctionReceives"); !strings.Contains(st, fnOnly) || !strings.Contains(st, operators) ||
		!strings.Contains(st, `"sqs:ReceiveMessage"`) || !strings.Contains(st, notService) {
		t.Errorf("event queue receive statement %s", st)
	}
	// The DLQ: only AWS services send; the failed-invocation queue: only
	// the function. Both are read by the break-glass role only.
	dlq := full.byID(t, "AWS::SQS::QueuePolicy", "DeadLettersPolicy")["PolicyDocument"]
	if st := policyStatement(dlq, "OnlyAWSServicesSend"); !strings.Contains(st, `"Condition":{`+notService+`}`) || !strings.Contains(st, `"Effect":"Deny"`) {
		t.Errorf("DLQ send statement %s", st)
	}
	failed := full.byID(t, "AWS::SQS::QueuePolicy", "FailedInvocationsPolicy")["PolicyDocument"]
	if st := policyStatement(failed, "OnlyTheFunctionSends"); !strings.Contains(st, fnOnly) || strings.Contains(st, "Responder") {
		t.Errorf("failed-invocation queue send statement %s", st)
	}
	for name, doc := range map[string]any{"DLQ": dlq, "failed invocations": failed} {
		if st := policyStatement(doc, "OnlyOperatorsReceive"); !strings.Contains(st, `{"aws:PrincipalArn":["arn:aws:iam::111122223333:role/oncall/Responder"]}`) {
			t.Errorf("%s receive statement %s", name, st)
		}
	}
	// Without a break-glass role, the queues' readers are left to IAM.
	if st := policyStatement(minimal.byID(t, "AWS::SQS::QueuePolicy", "DeadLettersPolicy")["PolicyDocument"], "OnlyOperatorsReceive"); st != "" {
		t.Errorf("minimal: no break-glass role, yet %s", st)
	}

	// Topics: the function publishes (CloudWatch too, as a service); the
	// deployment and the break-glass role subscribe.
	for _, prefix := range []string{"AlertsPolicy", "HealthPolicy"} {
		doc := full.byID(t, "AWS::SNS::TopicPolicy", prefix)["PolicyDocument"]
		if st := policyStatement(doc, "OnlyTheGuardPublishes"); !strings.Contains(st, fnOnly) || !strings.Contains(st, notService) || strings.Contains(st, "Responder") {
			t.Errorf("%s publish statement %s", prefix, st)
		}
		if st := policyStatement(doc, "OnlyDeployAndOperatorsSubscribe"); !strings.Contains(st, `:iam::111122223333:role/cdk-hnb659fds-cfn-exec-role-111122223333-us-east-1"]]},"arn:aws:iam::111122223333:role/oncall/Responder"]`) {
			t.Errorf("%s subscribe statement %s", prefix, st)
		}
	}
	// The exemption names one role exactly, of the configured qualifier: no
	// wildcard a new role's name could match.
	for _, name := range configs {
		s := synth(t, name)
		q := s.cfg.CdkQualifier
		for _, prefix := range []string{"AlertsPolicy", "HealthPolicy"} {
			st := policyStatement(s.byID(t, "AWS::SNS::TopicPolicy", prefix)["PolicyDocument"], "OnlyDeployAndOperatorsSubscribe")
			if !strings.Contains(st, ":role/cdk-"+q+"-cfn-exec-role-111122223333-us-east-1\"") || strings.Contains(between(st, `"ArnNotLike"`, `"Bool"`), "*") {
				t.Errorf("%s %s: subscribe exemption %s; want exactly the %s bootstrap's cfn-exec role", name, prefix, st, q)
			}
		}
	}
	// Keys: direct use by the function and the break-glass role only;
	// use through SNS and SQS is left to their policies.
	for id, key := range full.resources("AWS::KMS::Key") {
		st := policyStatement(key["KeyPolicy"], "OnlyTheGuardUsesKey")
		if !strings.Contains(st, `"aws:ViaAWSService":"false"`) || !strings.Contains(st, fnOnly) || !strings.Contains(st, operators) || !strings.Contains(st, `"kms:Decrypt"`) {
			t.Errorf("key %s: %s", id, st)
		}
	}
	// The state table: item writes by the function and the break-glass role.
	tbl := full.one(t, "AWS::DynamoDB::Table")["ResourcePolicy"].(map[string]any)["PolicyDocument"]
	st := policyStatement(tbl, "OnlyTheGuardWritesItems")
	for _, want := range append([]string{fnOnly, operators, notService, `"Effect":"Deny"`, `"Resource":"*"`}, tableWrites...) {
		if !strings.Contains(st, want) {
			t.Errorf("table policy lacks %s: %s", want, st)
		}
	}
	// Item reads too, and the copies that leave the policy behind: the
	// items say who is quarantined and why.
	st = policyStatement(tbl, "OnlyTheGuardReadsItems")
	for _, want := range append([]string{fnOnly, operators, notService, `"Effect":"Deny"`, `"Resource":"*"`}, tableReads...) {
		if !strings.Contains(st, want) {
			t.Errorf("table policy lacks %s: %s", want, st)
		}
	}
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:PartiQLSelect", "dynamodb:ExportTableToPointInTime"} {
		if !strings.Contains(st, `"`+a+`"`) {
			t.Errorf("table reads leave %s open: %s", a, st)
		}
	}
	for _, sid := range []string{"OnlyTheGuardWritesItems", "OnlyTheGuardReadsItems"} {
		if st := policyStatement(minimal.one(t, "AWS::DynamoDB::Table")["ResourcePolicy"].(map[string]any)["PolicyDocument"], sid); !strings.Contains(st, `{"aws:PrincipalArn":[{"Fn::GetAtt":["FunctionRole111A5701","Arn"]}]}`) {
			t.Errorf("minimal: table policy %s; want the function alone", st)
		}
	}
}

// TestContainmentSCP: the stack outputs, once CloudFormation has filled in
// the ARNs, the service control policy doctor --scp accepts for this very
// function, role and deployment role (of the configured qualifier), with
// no one else exempted.
func TestContainmentSCP(t *testing.T) {
	const fnARN, roleARN = "arn:aws:lambda:us-east-1:111122223333:function:Guard-Function-ABC", "arn:aws:iam::111122223333:role/Guard-FunctionRole-ABC"
	const denyARN = "arn:aws:iam::111122223333:policy/Guard-QuarantineDeny-ABC"
	for _, name := range configs {
		s := synth(t, name)
		out := s.template["Outputs"].(map[string]any)["ContainmentScp"].(map[string]any)["Value"]
		doc := resolveCfn(t, out, map[string]string{"FunctionRole": roleARN, "Function": fnARN, "QuarantineDeny": denyARN})
		d := doctor.Deployment{FunctionARN: fnARN, RoleARN: roleARN,
			DeployRoleARN: "arn:aws:iam::111122223333:role/cdk-" + s.cfg.CdkQualifier + "-cfn-exec-role-111122223333-us-east-1"}
		if s.cfg.IAMResponse {
			d.DenyPolicyARN = denyARN
		}
		missing, exempted, err := doctor.CheckSCP([]byte(doc), d)
		if err != nil || len(missing) > 0 || len(exempted) > 0 {
			t.Errorf("%s: the output %s\nleaves %v open, exempts %v (%v)", name, doc, missing, exempted, err)
		}
	}
}

// resolveCfn evaluates the intrinsics CDK writes for a token string
// (Fn::Join, Ref AWS::Partition, Ref X, Fn::GetAtt X.Arn), with the ARN of each
// resource taken from arns by the longest prefix of its logical ID.
func resolveCfn(t *testing.T, v any, arns map[string]string) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if j, ok := v["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range j[1].([]any) {
				parts = append(parts, resolveCfn(t, p, arns))
			}
			return strings.Join(parts, j[0].(string))
		}
		if v["Ref"] == "AWS::Partition" {
			return "aws"
		}
		id, _ := v["Ref"].(string)
		if g, ok := v["Fn::GetAtt"].([]any); ok && g[1] == "Arn" {
			id = g[0].(string)
		}
		if id != "" {
			best := ""
			for prefix := range arns {
				if strings.HasPrefix(id, prefix) && len(prefix) > len(best) {
					best = prefix
				}
			}
			if best != "" {
				return arns[best]
			}
		}
	}
	t.Fatalf("cannot resolve %s", js(v))
	return ""
}

// TestOutputs: what on-call and an SCP need by name.
func TestOutputs(t *testing.T) {
	for name, want := range map[string][]string{
		"full":    {"AlertTopicArn", "ContainmentScp", "DeadLettersUrl", "FailedInvocationsUrl", "FunctionArn", "FunctionRoleArn", "HealthTopicArn", "QuarantineDenyPolicyArn", "StateTableArn", "StateTableName"},
		"minimal": {"AlertTopicArn", "ContainmentScp", "DeadLettersUrl", "FailedInvocationsUrl", "FunctionArn", "FunctionRoleArn", "HealthTopicArn", "StateTableArn", "StateTableName"},
	} {
		outs, _ := synth(t, name).template["Outputs"].(map[string]any)
		var got []string
		for k := range outs {
			got = append(got, k)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: outputs %v; want %v", name, got, want)
		}
	}
}

// TestConcurrency: reserved concurrency, and the event queue's pollers one
// below it (the sweep keeps an instance).
func TestConcurrency(t *testing.T) {
	s := synth(t, "full")
	if n := s.one(t, "AWS::Lambda::Function")["ReservedConcurrentExecutions"]; n != 20.0 {
		t.Errorf("reserved concurrency %v", n)
	}
	if sc := js(s.one(t, "AWS::Lambda::EventSourceMapping")["ScalingConfig"]); sc != `{"MaximumConcurrency":19}` {
		t.Errorf("event source scaling %s", sc)
	}
}

// TestProtectedWarnings: a protected entry the stack cannot deny in this
// account and partition is a deploy-time warning; good entries are not.
func TestProtectedWarnings(t *testing.T) {
	a := assertions.Annotations_FromStack(synth(t, "revoke").guard.Stack)
	got := strings.Join(messages(a.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("protected .*")))), "\n")
	for _, want := range []string{
		`"arn:aws:iam::444455556666:role/OtherAccountAdmin" is in account 444455556666, not this target's (111122223333)`,
		`"arn:aws-cn:iam::111122223333:role/ChinaAdmin" is in partition aws-cn, but this target is in aws`,
		`"arn:aws:sts::111122223333:federated-user/bob" is not an IAM role, user or role session ARN`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no warning %s in:\n%s", want, got)
		}
	}
	for _, ok := range []string{"BreakGlass", "alice", "shared-admin", ":root"} {
		if strings.Contains(got, ok) {
			t.Errorf("warning about %s, a good entry:\n%s", ok, got)
		}
	}
	full := assertions.Annotations_FromStack(synth(t, "full").guard.Stack)
	if w := messages(full.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("protected .*")))); len(w) != 0 {
		t.Errorf("the example allowlist gave warnings: %v", w)
	}
	empty := func(name string) []string {
		a := assertions.Annotations_FromStack(synth(t, name).guard.Stack)
		return messages(a.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*is empty: its topic pages nobody.*"))))
	}
	if w := empty("minimal"); len(w) != 2 {
		t.Errorf("minimal has no subscribers, yet warnings %v", w)
	}
	if w := empty("full"); len(w) != 0 {
		t.Errorf("full has subscribers, yet warnings %v", w)
	}
	if w := protectedWarnings([]string{"arn:aws:iam::111122223333:role/bad name"}, "aws", "111122223333"); len(w) != 1 || !strings.Contains(w[0], `characters IAM never allows`) {
		t.Errorf("bad name: %v", w)
	}
}

// TestEnvironmentContract: the environment the stack gives the function
// is one the function's own configuration accepts, with the config's
// values; every variable is one the function reads.
func TestEnvironmentContract(t *testing.T) {
	src, err := os.ReadFile("../../lambda/config/config.go")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../rules/allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// What CloudFormation resolves each reference to, in a real account.
	resolved := map[string]string{
		"ALERT_TOPIC_ARN":     "arn:aws:sns:us-east-1:111122223333:alerts",
		"HEALTH_TOPIC_ARN":    "arn:aws:sns:us-east-1:111122223333:health",
		"STATE_TABLE":         "state",
		"ACCOUNT_ID":          "111122223333",
		"FUNCTION_ROLE_ARN":   "arn:aws:iam::111122223333:role/Guard-FunctionRole-ABC",
		"IAM_DENY_POLICY_ARN": "arn:aws:iam::111122223333:policy/Guard-QuarantineDeny-ABC",
	}
	for _, name := range configs {
		s := synth(t, name)
		vars := s.one(t, "AWS::Lambda::Function")["Environment"].(map[string]any)["Variables"].(map[string]any)
		env := map[string]string{"AWS_REGION": "us-east-1", "LAMBDA_TASK_ROOT": "/var/task"}
		for k, v := range vars {
			if !strings.Contains(string(src), `"`+k+`"`) {
				t.Errorf("%s: the stack sets %s, which the function never reads", name, k)
			}
			if str, ok := v.(string); ok {
				env[k] = str
			} else if env[k] = resolved[k]; env[k] == "" {
				t.Errorf("%s: %s is a reference (%s) the test cannot resolve", name, k, js(v))
			}
		}
		c, err := config.FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(c.Mode) != s.cfg.ResponseMode || c.RevokeSessions != s.cfg.RevokeSessions || string(c.Target) != s.cfg.QuarantineTarget ||
			c.MaxQuarantinesBucketHour != *s.cfg.QuarantineMaxPerBucketHour || c.QuarantineFailedCalls != s.cfg.QuarantineFailedCalls ||
			c.IAMResponse != s.cfg.IAMResponse || (c.IAMDenyPolicyARN != "") != s.cfg.IAMResponse || c.HealthTopic() != resolved["HEALTH_TOPIC_ARN"] ||
			c.BatchParallelism != s.cfg.BatchParallelism || string(c.SessionCheck) != s.cfg.SessionCheck ||
			fmt.Sprintf("%d,%d", c.SessionTolerance.V4, c.SessionTolerance.V6) != s.cfg.SessionTolerance {
			t.Errorf("%s: the function reads %+v from config %+v", name, c, s.cfg)
		}
		// The hash of the allowlist BuildFunction bundled (the test builds
		// one function, from the example allowlist, for every config).
		if want := config.AllowlistDigest(example); c.AllowlistSHA256 != want {
			t.Errorf("%s: ALLOWLIST_SHA256 %q; want %s, the bundled allowlist's", name, c.AllowlistSHA256, want)
		}
		if c.BreakGlassRoleARN != s.cfg.BreakGlassRoleArn {
			t.Errorf("%s: BREAK_GLASS_ROLE_ARN %q; want the config's breakGlassRoleArn %q", name, c.BreakGlassRoleARN, s.cfg.BreakGlassRoleArn)
		}
		if c.CDKQualifier != s.cfg.CdkQualifier {
			t.Errorf("%s: CDK_QUALIFIER %q; want %q", name, c.CDKQualifier, s.cfg.CdkQualifier)
		}
		if (s.cfg.QuarantineTTL == "0") != (c.QuarantineTTL == 0) {
			t.Errorf("%s: quarantineTTL %q read as %v", name, s.cfg.QuarantineTTL, c.QuarantineTTL)
		}
	}
}

func TestTrail(t *testing.T) {
	s := synth(t, "full")
	tr := s.one(t, "AWS::CloudTrail::Trail")
	if tr["EnableLogFileValidation"] != true || tr["IsMultiRegionTrail"] != false || tr["EventSelectors"] != nil {
		t.Errorf("trail %s", js(tr))
	}
	sel := js(tr["AdvancedEventSelectors"])
	for _, want := range []string{`{"Equals":["Data"],"Field":"eventCategory"}`, `{"Equals":["AWS::S3Express::Object"],"Field":"resources.type"}`,
		`"Field":"resources.ARN"`, `:s3express:us-east-1:111122223333:bucket/analytics--use1-az4--x-s3/`} {
		if !strings.Contains(sel, want) {
			t.Errorf("advanced selectors lack %s: %s", want, sel)
		}
	}
	var logs map[string]any
	for _, b := range s.resources("AWS::S3::Bucket") {
		if b["LoggingConfiguration"] != nil {
			logs = b
		}
	}
	if logs == nil {
		t.Fatal("no trail log bucket with access logging")
	}
	if js(logs["VersioningConfiguration"]) != `{"Status":"Enabled"}` || logs["BucketEncryption"] == nil || logs["LifecycleConfiguration"] == nil ||
		js(logs["PublicAccessBlockConfiguration"]) != `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}` {
		t.Errorf("log bucket %s", js(logs))
	}
	tls := 0
	for _, p := range s.resources("AWS::S3::BucketPolicy") {
		if strings.Contains(js(p), `"aws:SecureTransport":"false"`) {
			tls++
		}
	}
	if tls != 2 {
		t.Errorf("%d bucket policies deny non-TLS; want 2", tls)
	}
	if n := len(synth(t, "minimal").resources("AWS::CloudTrail::Trail")); n != 0 {
		t.Errorf("createTrail off, yet %d trails", n)
	}
}

// TestNag: cdk-nag's AwsSolutions pack finds nothing unsuppressed.
func TestNag(t *testing.T) {
	for _, name := range configs {
		s := synth(t, name)
		for _, m := range nagMessages(s.guard.Stack) {
			t.Errorf("%s: %s", name, m)
		}
		reports, _ := filepath.Glob(filepath.Join(s.outdir, "AwsSolutions-*NagReport.csv"))
		if len(reports) == 0 {
			t.Errorf("%s: cdk-nag wrote no report: the checks did not run", name)
		}
	}
}

// TestCfnLint runs cfn-lint on every synthesized template.
func TestCfnLint(t *testing.T) {
	lint := cfnLint(t)
	for _, name := range configs {
		s := synth(t, name)
		templates, _ := filepath.Glob(filepath.Join(s.outdir, "*", "*.template.json"))
		if len(templates) == 0 {
			t.Fatalf("%s: no templates in %s", name, s.outdir)
		}
		// W3005: the CDK itself adds a DependsOn on the function's role
		// beside the GetAtt that already orders them; harmless, not ours.
		out, err := exec.Command(lint, append([]string{"--ignore-checks", "W3005", "--"}, templates...)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: cfn-lint: %v\n%s", name, err, out)
		}
	}
}

// nagMessages are cdk-nag's unsuppressed AwsSolutions errors and
// warnings on stack.
func nagMessages(stack awscdk.Stack) []string {
	a := assertions.Annotations_FromStack(stack)
	rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	return append(messages(a.FindError(jsii.String("*"), rule)), messages(a.FindWarning(jsii.String("*"), rule))...)
}

// cfnLint is the cfn-lint binary; the test skips without it (fails with
// S3XGUARD_REQUIRE_TOOLS=1).
func cfnLint(t *testing.T) string {
	t.Helper()
	lint := os.Getenv("CFN_LINT")
	if lint == "" {
		lint, _ = exec.LookPath("cfn-lint")
	}
	if _, err := os.Stat(lint); lint == "" || err != nil {
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") == "1" {
			t.Fatal("cfn-lint not found (set CFN_LINT or run ./test/run)")
		}
		t.Skip("cfn-lint not found; ./test/run installs it")
	}
	return lint
}

// TestFunctionDependencies: the function never links jsii or the CDK.
func TestFunctionDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../lambda/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "jsii") || strings.Contains(pkg, "aws-cdk-go") || strings.Contains(pkg, "constructs-go") || strings.Contains(pkg, "cdk-nag") {
			t.Errorf("the function imports %s", pkg)
		}
	}
	if !strings.Contains(string(out), "github.com/s3xguard/s3xguard/rules") {
		t.Fatal("go list output does not look like the function's dependencies")
	}
}

func messages(ms *[]*cxapi.SynthesisMessage) []string {
	var out []string
	if ms == nil {
		return nil
	}
	for _, m := range *ms {
		out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
	}
	return out
}

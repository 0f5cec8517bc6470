package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

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
// trail, named buckets, every kind of subscription); "minimal" relies on an
// existing trail, guards every bucket and leaves IAM alone.
func configFor(name string) *Config {
	c := validConfig()
	switch name {
	case "full":
		c.IAMResponse, c.CreateTrail, c.QueueEvents = true, true, true
		c.Buckets = []string{"analytics--use1-az4--x-s3", "logs-app--use1-az4--x-s3"}
		c.Subscriptions = Subscriptions{Email: []string{"secops@example.com"}, SMS: []string{"+15555550100"}, HTTPS: []string{"https://hooks.example.com/s3xguard"}}
	case "minimal":
		c.ResponseMode, c.Buckets = "alert", []string{"*"}
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

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
	guards, err := AddStages(app, cfg, functionDir)
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
		var want any
		json.Unmarshal(raw, &want)
		if !reflect.DeepEqual(events["EventPattern"], want) {
			t.Errorf("%s: pattern\n%s\nwant\n%s", name, js(events["EventPattern"]), raw)
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

func TestTopic(t *testing.T) {
	s := synth(t, "full")
	topic := s.one(t, "AWS::SNS::Topic")
	if !strings.Contains(js(topic["KmsMasterKeyId"]), "AlertKey") {
		t.Errorf("topic key %s", js(topic["KmsMasterKeyId"]))
	}
	key := s.one(t, "AWS::KMS::Key")
	if key["EnableKeyRotation"] != true {
		t.Error("key rotation off")
	}
	if !strings.Contains(js(key["KeyPolicy"]), `"Service":"cloudwatch.amazonaws.com"`) {
		t.Errorf("key policy does not admit CloudWatch alarms: %s", js(key["KeyPolicy"]))
	}
	policy := js(s.one(t, "AWS::SNS::TopicPolicy")["PolicyDocument"])
	if !strings.Contains(policy, `"Condition":{"Bool":{"aws:SecureTransport":"false"}}`) || !strings.Contains(policy, `"Effect":"Deny"`) {
		t.Errorf("topic policy does not deny publishing without TLS: %s", policy)
	}
	if !strings.Contains(policy, `"Principal":{"Service":"cloudwatch.amazonaws.com"}`) {
		t.Errorf("topic policy does not admit CloudWatch alarms: %s", policy)
	}
	protocols := map[string]bool{}
	for _, sub := range s.resources("AWS::SNS::Subscription") {
		protocols[sub["Protocol"].(string)] = true
	}
	if !reflect.DeepEqual(protocols, map[string]bool{"email": true, "sms": true, "https": true}) {
		t.Errorf("subscriptions %v", protocols)
	}
	if n := len(synth(t, "minimal").resources("AWS::SNS::Subscription")); n != 0 {
		t.Errorf("minimal config has %d subscriptions", n)
	}
}

func TestDeadLetterQueue(t *testing.T) {
	s := synth(t, "full")
	for id, q := range s.resources("AWS::SQS::Queue") {
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("queue %s not encrypted: %s", id, js(q))
		}
		if strings.HasPrefix(id, "DeadLetters") && q["MessageRetentionPeriod"] != 1209600.0 {
			t.Errorf("DLQ keeps messages %v s; want 14 days", q["MessageRetentionPeriod"])
		}
	}
	policies := s.resources("AWS::SQS::QueuePolicy")
	if len(policies) != 2 {
		t.Errorf("%d queue policies; want 2", len(policies))
	}
	for id, p := range policies {
		if !strings.Contains(js(p), `"aws:SecureTransport":"false"`) {
			t.Errorf("queue policy %s does not deny non-TLS: %s", id, js(p))
		}
	}
}

func TestAlarms(t *testing.T) {
	s := synth(t, "full")
	alarms := s.resources("AWS::CloudWatch::Alarm")
	byMetric := map[string]map[string]any{}
	for _, a := range alarms {
		byMetric[a["MetricName"].(string)] = a
		if !strings.Contains(js(a["AlarmActions"]), "Alerts") {
			t.Errorf("alarm %s does not notify the topic", a["MetricName"])
		}
	}
	for _, m := range []string{"Errors", "Throttles", "ApproximateNumberOfMessagesVisible", "MatchedEvents", "ApproximateAgeOfOldestMessage"} {
		if byMetric[m] == nil {
			t.Errorf("no alarm on %s", m)
		}
	}
	silence := byMetric["MatchedEvents"]
	if silence["ComparisonOperator"] != "LessThanThreshold" || silence["TreatMissingData"] != "breaching" ||
		silence["EvaluationPeriods"] != 6.0 || silence["Period"] != 3600.0 || silence["Namespace"] != "AWS/Events" {
		t.Errorf("silence alarm %s", js(silence))
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

func TestPermissions(t *testing.T) {
	full, minimal := synth(t, "full"), synth(t, "minimal")
	fs := full.statements(t)
	if st := find(fs, `"sns:Publish"`); st == "" || !strings.Contains(st, "Alerts") || strings.Contains(st, `"Resource":"*"`) {
		t.Errorf("sns:Publish statement: %s", st)
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
	if st := find(fs, "kms:GenerateDataKey*"); !strings.Contains(st, "AlertKey") {
		t.Errorf("the function cannot use the alert key: %s", st)
	}
	if st := find(fs, "dynamodb:PutItem"); st == "" || strings.Contains(st, "dynamodb:Scan") || strings.Contains(st, "dynamodb:*") {
		t.Errorf("dynamodb statement: %s", st)
	}
	if st := find(fs, `"iam:GetRole"`); !strings.Contains(st, ":role/*") {
		t.Errorf("iam:GetRole statement: %s", st)
	}
	// IAM response on: allowed on role/* and user/*, denied on protected roles
	// (with and without a path) and on the function's own role.
	allow := find(fs, `"Action":["iam:PutRolePolicy"`)
	if !strings.Contains(allow, `"Effect":"Allow"`) || !strings.Contains(allow, ":user/*") {
		t.Errorf("IAM response allow: %s", allow)
	}
	deny := find(fs, `"Effect":"Deny"`)
	for _, want := range []string{":iam::111122223333:role/BreakGlass", ":iam::111122223333:role/*/BreakGlass", ":iam::111122223333:role/platform-admin", "FunctionRole"} {
		if !strings.Contains(deny, want) {
			t.Errorf("deny statement lacks %s: %s", want, deny)
		}
	}
	// IAM response off: no IAM write anywhere in the template.
	tmpl := js(minimal.template)
	for _, a := range []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"} {
		if strings.Contains(tmpl, a) {
			t.Errorf("IAM response off, yet the template grants %s", a)
		}
	}
	for _, st := range append(fs, minimal.statements(t)...) {
		if strings.Contains(st, `"Action":"*"`) || strings.Contains(st, `"Resource":"*"`) && !strings.Contains(st, "xray") {
			t.Errorf("wildcard statement: %s", st)
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
	for _, name := range []string{"full", "minimal"} {
		s := synth(t, name)
		a := assertions.Annotations_FromStack(s.guard.Stack)
		for _, msgs := range [][]string{
			messages(a.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))),
			messages(a.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))),
		} {
			for _, m := range msgs {
				t.Errorf("%s: %s", name, m)
			}
		}
		reports, _ := filepath.Glob(filepath.Join(s.outdir, "AwsSolutions-*NagReport.csv"))
		if len(reports) == 0 {
			t.Errorf("%s: cdk-nag wrote no report: the checks did not run", name)
		}
	}
}

// TestCfnLint runs cfn-lint on every synthesized template.
func TestCfnLint(t *testing.T) {
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
	for _, name := range []string{"full", "minimal"} {
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

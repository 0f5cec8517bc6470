package cli

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/doctor"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/harness"
)

const guardedBucket = "analytics--use1-az4--x-s3"

// deployment is what the stack deploys, set up in moto, with knobs to
// break it.
type deployment struct {
	noTrail, trailStopped, oldSelectors bool
	noManagementTrail, allManagement    bool
	ruleDisabled, oldPattern, viaQueue  bool
	noSubscription, sms                 bool
	// allowlistSHA256 is the function's ALLOWLIST_SHA256 (empty: the
	// digest of an allowlist the stack bundled, as it always records one);
	// noAllowlistSHA256 leaves it unset, as before the pin.
	allowlistSHA256   string
	noAllowlistSHA256 bool
	// account is the deployment's account: the trail's selectors name it
	// (empty: harness.Account).
	account string
	// ruleAccount is the rule pattern's account filter: the deployment's,
	// as the stack writes it, unless set; "none" leaves it out.
	ruleAccount string
}

// setUp creates the deployment in moto and returns the function's name.
func (d deployment) setUp(t *testing.T, cfg aws.Config) string {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("s3xguard-fn"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	must(role, err)
	logs := "trail-logs"
	if d.account != "" {
		logs += "-" + d.account
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("s3xguard-alerts")})
	must(topic, err)
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("bootstrap")
	w.Write([]byte("#!/bin/sh\n"))
	zw.Close()
	lc := lambda.NewFromConfig(cfg)
	env := map[string]string{"ALERT_TOPIC_ARN": *topic.TopicArn, "GUARDED_BUCKETS": guardedBucket, "RESPONSE_MODE": "alert"}
	if !d.noAllowlistSHA256 {
		env["ALLOWLIST_SHA256"] = cmp.Or(d.allowlistSHA256, config.AllowlistDigest([]byte("version: 1\n")))
	}
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("s3xguard"), Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: role.Role.Arn, Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()},
		Environment: &lambdatypes.Environment{Variables: env},
	})
	must(fn, err)
	q := sqs.NewFromConfig(cfg)
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("s3xguard-events")})
	must(queue, err)
	qa, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	must(qa, err)
	queueARN := qa.Attributes["QueueArn"]

	sc := sns.NewFromConfig(cfg)
	if !d.noSubscription {
		must(sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}))
	}
	if d.sms {
		must(sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sms"), Endpoint: aws.String("+15555550100")}))
	}

	ec := eventbridge.NewFromConfig(cfg)
	pattern, err := rules.EventPattern([]string{guardedBucket})
	must(pattern, err)
	if d.oldPattern {
		pattern = []byte(fmt.Sprintf(`{"source":["aws.s3express"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["s3express.amazonaws.com"],"requestParameters":{"bucketName":[%q]}}}`, guardedBucket))
	}
	if d.ruleAccount != "none" {
		var m map[string]any
		must(nil, json.Unmarshal(pattern, &m))
		m["account"] = []string{cmp.Or(d.ruleAccount, d.account, "123456789012")}
		pattern, err = json.Marshal(m)
		must(pattern, err)
	}
	state := ebtypes.RuleStateEnabled
	if d.ruleDisabled {
		state = ebtypes.RuleStateDisabled
	}
	if d.allManagement {
		state = ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents
	}
	must(ec.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("S3ExpressEvents"), EventPattern: aws.String(string(pattern)), State: state}))
	target := *fn.FunctionArn
	if d.viaQueue {
		target = queueARN
		must(lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: fn.FunctionArn, EventSourceArn: aws.String(queueARN)}))
	}
	must(ec.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("S3ExpressEvents"), Targets: []ebtypes.Target{{Id: aws.String("fn"), Arn: aws.String(target)}}}))
	must(ec.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("Sweep"), ScheduleExpression: aws.String("rate(1 minute)")}))
	must(ec.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("Sweep"), Targets: []ebtypes.Target{{Id: aws.String("fn"), Arn: fn.FunctionArn}}}))

	must(s3.NewFromConfig(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(logs)}))
	ct := cloudtrail.NewFromConfig(cfg)
	if !d.noManagementTrail {
		// The account's own trail: management events, read and write.
		must(ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("account"), S3BucketName: aws.String(logs)}))
		must(ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("account"),
			EventSelectors: []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeAll}}}))
		must(ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("account")}))
	}
	if !d.noTrail {
		must(ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("s3xguard"), S3BucketName: aws.String(logs)}))
		// The stack's selectors (infra/stack dataEventSelectors), or the
		// form it wrote before, which misses bucket calls and …:NAME ARNs.
		account := harness.Account
		if d.account != "" {
			account = d.account
		}
		base := fmt.Sprintf("arn:aws:s3express:%s:%s:", harness.Region, account)
		arn := cttypes.AdvancedFieldSelector{Field: aws.String("resources.ARN"),
			Equals:     []string{base + "bucket/" + guardedBucket, base + guardedBucket},
			StartsWith: []string{base + "bucket/" + guardedBucket + "/", base + guardedBucket + "/"}}
		if d.oldSelectors {
			arn = cttypes.AdvancedFieldSelector{Field: aws.String("resources.ARN"), StartsWith: []string{base + "bucket/" + guardedBucket + "/"}}
		}
		must(ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("s3xguard"), AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{
			Name: aws.String("S3 Express"), FieldSelectors: []cttypes.AdvancedFieldSelector{
				{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
				{Field: aws.String("resources.type"), Equals: []string{"AWS::S3Express::Object"}},
				arn,
			}}}}))
		if !d.trailStopped {
			must(ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("s3xguard")}))
		}
	}
	return *fn.FunctionName
}

// TestDoctor runs `s3xguard doctor` against moto: a correct deployment is
// all ok, and each broken one fails or warns on the check that names it.
func TestDoctor(t *testing.T) {
	moto := harness.StartMoto(t)
	for k, v := range harness.FunctionEnv(moto.URL) {
		t.Setenv(k, v)
	}
	cfg := harness.AWSConfig(moto.URL)
	// The allowlist the deployment was built from, and one edited since.
	built := []byte("version: 1\nallow:\n  - name: etl\n    principals: [\"arn:aws:iam::123456789012:role/etl\"]\n")
	edited := append(slices.Clone(built), "  - name: all\n    principals: [\"arn:aws:iam::123456789012:role/*\"]\n"...)
	allowlist := filepath.Join(t.TempDir(), "allowlist.yaml")
	if err := os.WriteFile(allowlist, built, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		d    deployment
		args []string
		want map[string]doctor.Status // check -> the worst status among its findings
		code int
	}{
		{"correct", deployment{}, nil, map[string]doctor.Status{"allowlist": "ok", "function": "ok", "rule": "ok", "target": "ok", "trail": "ok", "topic": "ok", "subscriptions": "ok"}, 0},
		{"through the queue", deployment{viaQueue: true}, nil, map[string]doctor.Status{"rule": "ok", "target": "ok"}, 0},
		{"rule disabled", deployment{ruleDisabled: true}, nil, map[string]doctor.Status{"rule": "fail", "target": "ok"}, 1},
		{"pattern without the fix", deployment{oldPattern: true}, nil, map[string]doctor.Status{"rule": "fail"}, 1},
		{"rule with read-only management events", deployment{allManagement: true}, nil, map[string]doctor.Status{"rule": "ok"}, 0},
		{"rule without the account filter", deployment{ruleAccount: "none"}, nil, map[string]doctor.Status{"rule": "warn", "target": "ok"}, 1},
		{"rule for another account", deployment{ruleAccount: "444455556666"}, nil, map[string]doctor.Status{"rule": "fail"}, 1},
		{"no trail", deployment{noTrail: true}, nil, map[string]doctor.Status{"trail": "fail"}, 1},
		{"no management trail", deployment{noManagementTrail: true}, nil, map[string]doctor.Status{"trail": "fail"}, 1},
		{"trail not logging", deployment{trailStopped: true}, nil, map[string]doctor.Status{"trail": "fail"}, 1},
		{"trail selectors miss bucket calls", deployment{oldSelectors: true}, nil, map[string]doctor.Status{"trail": "fail"}, 1},
		{"no subscription", deployment{noSubscription: true}, nil, map[string]doctor.Status{"subscriptions": "fail"}, 1},
		{"sms at the default limit", deployment{sms: true}, nil, map[string]doctor.Status{"sms": "warn", "subscriptions": "ok"}, 1},
		{"guards other buckets", deployment{}, []string{"--buckets", "logs--use1-az4--x-s3"}, map[string]doctor.Status{"function": "fail"}, 1},
		{"no such function", deployment{}, []string{"--function", "nope"}, map[string]doctor.Status{"function": "fail"}, 1},
		{"built from the allowlist", deployment{allowlistSHA256: config.AllowlistDigest(built)}, []string{"--allowlist", allowlist},
			map[string]doctor.Status{"allowlist": "ok", "function": "ok", "rule": "ok", "trail": "ok"}, 0},
		{"built from another allowlist", deployment{allowlistSHA256: config.AllowlistDigest(edited)}, []string{"--allowlist", allowlist},
			map[string]doctor.Status{"allowlist": "fail", "function": "ok"}, 1},
		{"no allowlist hash recorded", deployment{noAllowlistSHA256: true}, []string{"--allowlist", allowlist}, map[string]doctor.Status{"allowlist": "warn"}, 1},
		// Without --allowlist too: the pin is reported on every run.
		{"no allowlist hash recorded, no local allowlist", deployment{noAllowlistSHA256: true}, nil, map[string]doctor.Status{"allowlist": "warn"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			moto.Reset(t)
			fn := tt.d.setUp(t, cfg)
			args := append([]string{"doctor", "--format", "json", "--function", fn}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := Run(args, nil, &stdout, &stderr)
			worst := map[string]doctor.Status{}
			rank := map[doctor.Status]int{doctor.OK: 0, doctor.Warn: 1, doctor.Fail: 2}
			dec := json.NewDecoder(&stdout)
			var lines []string
			for dec.More() {
				var f doctor.Finding
				if err := dec.Decode(&f); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, fmt.Sprintf("%s %s: %s [%s]", f.Status, f.Check, f.Message, f.Fix))
				if s, ok := worst[f.Check]; !ok || rank[f.Status] > rank[s] {
					worst[f.Check] = f.Status
				}
				if f.Status != doctor.OK && f.Fix == "" {
					t.Errorf("%s finding without a fix: %s", f.Status, f.Message)
				}
			}
			report := strings.Join(lines, "\n")
			t.Logf("exit %d\n%s", code, report)
			if code != tt.code {
				t.Errorf("exit %d; want %d\n%s\nstderr: %s", code, tt.code, report, stderr.String())
			}
			for check, want := range tt.want {
				if worst[check] != want {
					t.Errorf("%s: %q; want %q\n%s", check, worst[check], want, report)
				}
			}
			// The text format: the same findings, one line each, the fix
			// indented below.
			var text bytes.Buffer
			if c := Run(append([]string{"doctor", "--function", fn}, tt.args...), nil, &text, &stderr); c != code {
				t.Errorf("text format: exit %d; json: %d", c, code)
			}
			if n := strings.Count(text.String(), "\n") - strings.Count(text.String(), "fix: "); n != len(lines) {
				t.Errorf("text format: %d finding lines; json: %d\n%s", n, len(lines), text.String())
			}
			t.Logf("text:\n%s", text.String())
			if tt.code == 0 && slices.ContainsFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "ok ") }) {
				t.Errorf("not all ok:\n%s", report)
			}
		})
	}
}

// An allowlist doctor cannot read stops it before any AWS call (exit 2).
func TestDoctorAllowlistUnreadable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if code := Run([]string{"doctor", "--function", "s3xguard", "--allowlist", missing}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), missing) {
		t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, stderr.String(), missing)
	}
}

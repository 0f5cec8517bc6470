// Package e2e runs the real function: the linux bootstrap built from
// ./lambda, under the Lambda Runtime Interface Emulator, its SDK clients
// pointed (through a counting, fault-injecting proxy) at moto in server
// mode. No fakes: what these tests see in SQS, the bucket policy and IAM is
// what the function did through the AWS APIs.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	account = harness.Account
	bucket  = "data--use1-az4--x-s3"
	table   = "s3xguard-state"
)

// allowlist allows the etl role from 10.0.0.0/8 and protects BreakGlass.
const allowlist = `version: 1
allow:
  - name: etl
    principals: ["arn:aws:iam::123456789012:role/etl"]
    sources: ["10.0.0.0/8"]
protected:
  - arn:aws:iam::123456789012:role/BreakGlass
`

// world is one moto with the function's resources, and a proxy before it.
type world struct {
	t        *testing.T
	moto     *harness.Moto
	proxy    *harness.Proxy
	cfg      aws.Config // straight to moto, for the test's own checks
	topicARN string
	queueURL string
	env      map[string]string
	dir      string
	// pin is the allowlist digest linked into the world's bootstrap, as
	// the stack links the one it bundles: taken from the allowlist file
	// when the first function starts.
	pin string
}

func newWorld(t *testing.T, env map[string]string) *world {
	t.Helper()
	w := &world{t: t, moto: harness.StartMoto(t), dir: t.TempDir()}
	w.proxy = harness.StartProxy(t, w.moto.URL)
	w.cfg = harness.SetupConfig(w.moto.URL)
	ctx := context.Background()

	snsc, sqsc := sns.NewFromConfig(w.cfg), sqs.NewFromConfig(w.cfg)
	w.topicARN = *must(snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("s3xguard-alerts")})).TopicArn
	w.queueURL = *must(sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("alerts")})).QueueUrl
	qarn := must(sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &w.queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})).Attributes["QueueArn"]
	must(snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &w.topicARN, Protocol: aws.String("sqs"), Endpoint: &qarn}))

	db := dynamodb.NewFromConfig(w.cfg)
	must(db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}))
	must(db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("expires"), Enabled: aws.Bool(true)}}))

	must(w.s3().CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
			Location: &s3types.LocationInfo{Type: s3types.LocationTypeAvailabilityZone, Name: aws.String("use1-az4")},
			Bucket:   &s3types.BucketInfo{Type: s3types.BucketTypeDirectory, DataRedundancy: s3types.DataRedundancySingleAvailabilityZone},
		},
	}))
	for _, r := range []struct{ name, path string }{{"etl", "/"}, {"writer", "/app/team/"}, {"BreakGlass", "/"}, {"guard-fn", "/service/"}} {
		w.createRole(r.name, r.path)
	}
	must(iam.NewFromConfig(w.cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/people/")}))

	path := filepath.Join(w.dir, "allowlist.yaml")
	if err := os.WriteFile(path, []byte(allowlist), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = harness.FunctionEnv(w.proxy.URL)
	maps.Copy(w.env, map[string]string{
		"ALERT_TOPIC_ARN": w.topicARN, "STATE_TABLE": table, "ALLOWLIST": path,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "60",
	})
	maps.Copy(w.env, env)
	return w
}

func (w *world) s3() *s3.Client {
	return s3.NewFromConfig(w.cfg, func(o *s3.Options) { o.DisableS3ExpressSessionAuth = aws.Bool(true) })
}

func (w *world) createRole(name, path string) {
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	must(iam.NewFromConfig(w.cfg).CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust)}))
}

// runAsRole gives the function credentials of an assumed role, as Lambda
// does with its execution role.
func (w *world) runAsRole(roleARN string) {
	c := must(sts.NewFromConfig(w.cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s3xguard")})).Credentials
	w.env["AWS_ACCESS_KEY_ID"], w.env["AWS_SECRET_ACCESS_KEY"], w.env["AWS_SESSION_TOKEN"] = *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken
}

// function starts one execution environment of the real bootstrap, built
// as the stack builds it: with the digest of the allowlist it was deployed
// with (the file's content when the world's first function started).
func (w *world) function() *harness.Lambda {
	if w.pin == "" {
		data, err := os.ReadFile(w.env["ALLOWLIST"])
		if err != nil {
			w.t.Fatal(err)
		}
		w.pin = config.AllowlistDigest(data)
	}
	return harness.StartLambda(w.t, w.bootstrap(w.pin), w.env)
}

// bootstrap is the function built with digest linked in as its allowlist's
// ("" for none, as a hand-made build).
func (w *world) bootstrap(digest string) string {
	if digest == "" {
		return harness.Build(w.t, "./lambda")
	}
	return harness.BuildWith(w.t, "./lambda", config.PinFlag(digest))
}

// alert is one SNS notification as the subscribed queue received it.
type alert struct {
	Subject    string
	Attributes map[string]string
	Doc        map[string]any // the parsed default (machine) member
}

// alerts receives every message on the alerts queue until none arrives
// for quiet.
func (w *world) alerts(quiet time.Duration) []alert {
	w.t.Helper()
	return w.receive(w.queueURL, quiet)
}

// receive returns every SNS notification on a subscribed queue until none
// arrives for quiet.
func (w *world) receive(queueURL string, quiet time.Duration) []alert {
	w.t.Helper()
	sqsc := sqs.NewFromConfig(w.cfg)
	var out []alert
	deadline := time.Now().Add(quiet)
	for time.Now().Before(deadline) {
		got := must(sqsc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1}))
		for _, m := range got.Messages {
			var env struct {
				Subject, Message  string
				MessageAttributes map[string]struct{ Type, Value string }
			}
			if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
				w.t.Fatalf("notification is not an SNS envelope: %v: %s", err, *m.Body)
			}
			a := alert{Subject: env.Subject, Attributes: map[string]string{}}
			for k, v := range env.MessageAttributes {
				a.Attributes[k] = v.Value
			}
			if err := json.Unmarshal([]byte(env.Message), &a.Doc); err != nil {
				w.t.Fatalf("alert's default member is not JSON: %v: %s", err, env.Message)
			}
			out = append(out, a)
			must(sqsc.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: m.ReceiptHandle}))
			deadline = time.Now().Add(quiet)
		}
	}
	return out
}

// policy returns the bucket's policy, or "" when it has none.
func (w *world) policy() string {
	out, err := w.s3().GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchBucketPolicy") {
			return ""
		}
		w.t.Fatal(err)
	}
	return *out.Policy
}

// denied returns the principals of the S3xguardQuarantine statement.
func (w *world) denied() []string {
	doc := w.policy()
	if doc == "" {
		return nil
	}
	var p struct {
		Statement []struct {
			Sid       string
			Effect    string
			Action    string
			Principal struct{ AWS any }
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		w.t.Fatalf("bucket policy: %v: %s", err, doc)
	}
	for _, s := range p.Statement {
		if s.Sid == "S3xguardQuarantine" {
			if s.Effect != "Deny" || s.Action != "s3express:CreateSession" {
				w.t.Fatalf("quarantine statement is not a Deny on CreateSession: %s", doc)
			}
			switch a := s.Principal.AWS.(type) {
			case string:
				return []string{a}
			case []any:
				var out []string
				for _, v := range a {
					out = append(out, v.(string))
				}
				return out
			}
			w.t.Fatalf("quarantine statement without Principal.AWS: %s", doc)
		}
	}
	return nil
}

// cli runs the s3xguard command (built for this machine) against moto.
func (w *world) cli(args ...string) (string, error) {
	w.t.Helper()
	bin := harness.Build(w.t, "./lambda/cmd/s3xguard")
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STATE_TABLE=" + table}
	for k, v := range harness.FunctionEnv(w.moto.URL) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var eventSeq atomic.Int64

// ev is one S3 Express CloudTrail event as EventBridge delivers it.
type ev struct {
	principal string // userIdentity.arn
	idType    string // AssumedRole, IAMUser, Root
	name      string // eventName
	ip        string
	key       string
	errorCode string
}

func (e ev) json() []byte {
	if e.idType == "" {
		e.idType = "AssumedRole"
	}
	if e.name == "" {
		e.name = "PutObject"
	}
	if e.ip == "" {
		e.ip = "203.0.113.7"
	}
	readOnly := strings.HasPrefix(e.name, "Get") || e.name == "CreateSession" || strings.HasPrefix(e.name, "Head") || strings.HasPrefix(e.name, "List")
	detail := map[string]any{
		"eventVersion": "1.09", "eventID": fmt.Sprintf("e2e-%d", eventSeq.Add(1)), "eventTime": time.Now().UTC().Format(time.RFC3339),
		"eventSource": "s3express.amazonaws.com", "eventName": e.name, "eventType": "AwsApiCall", "eventCategory": "Data",
		"awsRegion": harness.Region, "sourceIPAddress": e.ip, "userAgent": "aws-sdk-go-v2/1.0", "readOnly": readOnly,
		"recipientAccountId":  account,
		"userIdentity":        map[string]any{"type": e.idType, "principalId": "AROAEXAMPLE:s", "arn": e.principal, "accountId": account, "accessKeyId": "ASIAE2EEXAMPLE"},
		"requestParameters":   map[string]any{"bucketName": bucket, "key": e.key},
		"additionalEventData": map[string]any{"availabilityZone": "use1-az4"},
	}
	if e.errorCode != "" {
		detail["errorCode"] = e.errorCode
	}
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "eb-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3express",
		"account": account, "time": time.Now().UTC().Format(time.RFC3339), "region": harness.Region, "detail": detail,
	})
	return b
}

func session(role string) string { return "arn:aws:sts::" + account + ":assumed-role/" + role + "/s" }

// must panics on error; the testing package still runs t.Cleanup, so the
// servers stop.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

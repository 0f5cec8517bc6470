// Package motofidelity pins down what moto (server mode) does with the exact
// AWS calls the function makes, through the Go SDK v2 configured as the
// function configures it. The end-to-end tests rely on each behaviour
// checked here; when moto changes, this package says where.
package motofidelity

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/s3xguard/s3xguard/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

func TestMoto(t *testing.T) {
	m := harness.StartMoto(t)
	cfg := harness.AWSConfig(m.URL)
	ctx := context.Background()

	t.Run("SNSToSQSEnvelopeJSONStructureAndAttributes", func(t *testing.T) {
		snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
		topic, q := subscribedQueue(ctx, snsc, sqsc, "envelope", nil)

		msg := `{"default":"{\"kind\":\"unauthorized\"}","email":"long text","sms":"short"}`
		must(snsc.Publish(ctx, &sns.PublishInput{
			TopicArn: topic, Message: aws.String(msg), MessageStructure: aws.String("json"),
			Subject: aws.String("s3xguard: unauthorized PutObject"),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"severity": {DataType: aws.String("String"), StringValue: aws.String("high")},
			},
		}))
		got := receive(t, sqsc, q, 1)
		var env struct {
			Type, Message, Subject, TopicArn string
			MessageAttributes                map[string]struct{ Type, Value string }
		}
		if err := json.Unmarshal([]byte(*got[0].Body), &env); err != nil {
			t.Fatalf("envelope: %v: %s", err, *got[0].Body)
		}
		// An SQS subscriber gets the "default" member of a json-structured message.
		if env.Message != `{"kind":"unauthorized"}` {
			t.Errorf("Message = %q; want the default member", env.Message)
		}
		if env.Subject != "s3xguard: unauthorized PutObject" || env.TopicArn != *topic {
			t.Errorf("Subject, TopicArn = %q, %q", env.Subject, env.TopicArn)
		}
		if a := env.MessageAttributes["severity"]; a.Type != "String" || a.Value != "high" {
			t.Errorf("MessageAttributes[severity] = %+v; want String high", a)
		}
	})

	t.Run("SNSRawDeliveryCarriesAttributes", func(t *testing.T) {
		snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
		topic, q := subscribedQueue(ctx, snsc, sqsc, "raw", map[string]string{"RawMessageDelivery": "true"})
		must(snsc.Publish(ctx, &sns.PublishInput{
			TopicArn: topic, Message: aws.String(`{"default":"{}","email":"e","sms":"s"}`), MessageStructure: aws.String("json"),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"bucket": {DataType: aws.String("String"), StringValue: aws.String("b--use1-az4--x-s3")},
			},
		}))
		got := receive(t, sqsc, q, 1)
		if *got[0].Body != "{}" {
			t.Errorf("raw body = %q; want the default member", *got[0].Body)
		}
		if a, ok := got[0].MessageAttributes["bucket"]; !ok || aws.ToString(a.StringValue) != "b--use1-az4--x-s3" {
			t.Errorf("raw message attributes = %v; want bucket", got[0].MessageAttributes)
		}
	})

	t.Run("DynamoDBConditionalWritesAndTTL", func(t *testing.T) {
		db := dynamodb.NewFromConfig(cfg)
		must(db.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String("state"),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
		}))
		must(db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("state"),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("expires"), Enabled: aws.Bool(true)}}))

		now := time.Now().Unix()
		put := func(expires int64) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String("state"),
				Item: map[string]ddbtypes.AttributeValue{
					"pk":      &ddbtypes.AttributeValueMemberS{Value: "dedup#p#b#s"},
					"expires": &ddbtypes.AttributeValueMemberN{Value: itoa(expires)},
				},
				ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires < :now"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":now": &ddbtypes.AttributeValueMemberN{Value: itoa(now)}},
			})
			return err
		}
		if err := put(now - 1); err != nil {
			t.Fatalf("first conditional put: %v", err)
		}
		// The entry above has expired (TTL deletion is lazy, in AWS too): the condition lets the next writer in.
		if err := put(now + 300); err != nil {
			t.Fatalf("put over an expired entry: %v", err)
		}
		var ccf *ddbtypes.ConditionalCheckFailedException
		if err := put(now + 300); !errors.As(err, &ccf) {
			t.Fatalf("put over a live entry: got %v; want ConditionalCheckFailedException", err)
		}

		// Counting repeats: ADD is atomic and returns the new count.
		for want := 1; want <= 2; want++ {
			out := must(db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String("state"),
				Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "dedup#p#b#s"}},
				UpdateExpression:          aws.String("ADD repeats :one"),
				ConditionExpression:       aws.String("attribute_exists(pk) AND expires >= :now"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}, ":now": &ddbtypes.AttributeValueMemberN{Value: itoa(now)}},
				ReturnValues:              ddbtypes.ReturnValueUpdatedNew,
			}))
			if n := out.Attributes["repeats"].(*ddbtypes.AttributeValueMemberN).Value; n != itoa(int64(want)) {
				t.Fatalf("repeats = %s; want %d", n, want)
			}
		}
		// Deleting only what we still own.
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String("state"),
			Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "dedup#p#b#s"}},
			ConditionExpression:       aws.String("repeats = :n"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": &ddbtypes.AttributeValueMemberN{Value: "7"}},
		})
		if !errors.As(err, &ccf) {
			t.Fatalf("conditional delete with a wrong value: got %v; want ConditionalCheckFailedException", err)
		}
	})

	t.Run("DirectoryBucketPolicyThroughIPLiteralEndpoint", func(t *testing.T) {
		// As the function builds it from the environment: BaseEndpoint is an
		// IP literal, so the SDK uses path style; no CreateSession.
		s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.DisableS3ExpressSessionAuth = aws.Bool(true) })
		bucket := "spike--use1-az4--x-s3"
		must(s3c.CreateBucket(ctx, &s3.CreateBucketInput{
			Bucket: aws.String(bucket),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
				Location: &s3types.LocationInfo{Type: s3types.LocationTypeAvailabilityZone, Name: aws.String("use1-az4")},
				Bucket:   &s3types.BucketInfo{Type: s3types.BucketTypeDirectory, DataRedundancy: s3types.DataRedundancySingleAvailabilityZone},
			},
		}))
		_, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
		if code(err) != "NoSuchBucketPolicy" {
			t.Fatalf("GetBucketPolicy on a bucket without one: got %v; want NoSuchBucketPolicy", err)
		}
		policy := `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny",` +
			`"Principal":{"AWS":"*"},"Action":"s3express:CreateSession","Resource":"arn:aws:s3express:us-east-1:123456789012:bucket/` + bucket + `",` +
			`"Condition":{"ArnLike":{"aws:PrincipalArn":["arn:aws:iam::123456789012:role/*/nobody","arn:aws:iam::123456789012:role/nobody"]}}}]}`
		must(s3c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}))
		got := must(s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)}))
		if aws.ToString(got.Policy) != policy {
			t.Errorf("GetBucketPolicy = %s; want what was put", aws.ToString(got.Policy))
		}
		must(s3c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)}))
		if _, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)}); code(err) != "NoSuchBucketPolicy" {
			t.Fatalf("GetBucketPolicy after delete: got %v; want NoSuchBucketPolicy", err)
		}
		if _, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("missing--use1-az4--x-s3")}); code(err) != "NoSuchBucket" {
			t.Fatalf("GetBucketPolicy on a missing bucket: got %v; want NoSuchBucket", err)
		}
	})

	t.Run("IAMRolesUsersInlinePolicies", func(t *testing.T) {
		ic := iam.NewFromConfig(cfg)
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		must(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("writer"), Path: aws.String("/app/team/"), AssumeRolePolicyDocument: aws.String(trust)}))
		role := must(ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("writer")})).Role
		if want := "arn:aws:iam::123456789012:role/app/team/writer"; aws.ToString(role.Arn) != want {
			t.Errorf("GetRole Arn = %s; want %s", aws.ToString(role.Arn), want)
		}
		var nse interface{ ErrorCode() string }
		if _, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("absent")}); !errors.As(err, &nse) || nse.ErrorCode() != "NoSuchEntity" {
			t.Errorf("GetRole absent: got %v; want NoSuchEntity", err)
		}
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]}`
		must(ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("writer"), PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(doc)}))
		gotDoc := must(ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("writer"), PolicyName: aws.String("AWSRevokeOlderSessions")})).PolicyDocument
		// IAM returns the document URL-encoded, and so does moto.
		if d, err := url.QueryUnescape(aws.ToString(gotDoc)); err != nil || d != doc {
			t.Errorf("GetRolePolicy document = %q", aws.ToString(gotDoc))
		}
		must(ic.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("writer"), PolicyName: aws.String("AWSRevokeOlderSessions")}))
		if _, err := ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("writer"), PolicyName: aws.String("AWSRevokeOlderSessions")}); code(err) != "NoSuchEntity" {
			t.Errorf("GetRolePolicy after delete: got %v; want NoSuchEntity", err)
		}
		must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))
		must(ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("S3xguardQuarantine"), PolicyDocument: aws.String(doc)}))
		must(ic.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("S3xguardQuarantine")}))
	})

	t.Run("STSCallerIdentityOfAnAssumedRole", func(t *testing.T) {
		ic := iam.NewFromConfig(cfg)
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		must(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("guard-fn"), Path: aws.String("/service/"), AssumeRolePolicyDocument: aws.String(trust)}))
		creds := must(sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::123456789012:role/service/guard-fn"), RoleSessionName: aws.String("s3xguard")})).Credentials
		as := cfg.Copy()
		as.Credentials = credentials.NewStaticCredentialsProvider(*creds.AccessKeyId, *creds.SecretAccessKey, *creds.SessionToken)
		id := must(sts.NewFromConfig(as).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
		// What the function sees at cold start in Lambda: the session ARN, no role path.
		if want := "arn:aws:sts::123456789012:assumed-role/guard-fn/s3xguard"; aws.ToString(id.Arn) != want {
			t.Errorf("GetCallerIdentity Arn = %s; want %s", aws.ToString(id.Arn), want)
		}
	})
}

// subscribedQueue creates a topic and a queue named name, subscribed to it.
func subscribedQueue(ctx context.Context, snsc *sns.Client, sqsc *sqs.Client, name string, attrs map[string]string) (topicARN, queueURL *string) {
	topic := must(snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})).TopicArn
	q := must(sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})).QueueUrl
	qarn := must(sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})).Attributes["QueueArn"]
	must(snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic, Protocol: aws.String("sqs"), Endpoint: aws.String(qarn), Attributes: attrs}))
	return topic, q
}

func receive(t *testing.T, c *sqs.Client, q *string, n int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		out := must(c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: q, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		}))
		got = append(got, out.Messages...)
	}
	if len(got) != n {
		t.Fatalf("received %d messages; want %d", len(got), n)
	}
	return got
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// must panics on error: a call failing here means moto changed. The testing
// package still runs t.Cleanup on a panic, so moto is stopped.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

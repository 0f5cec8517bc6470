package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/doctor"
	"github.com/s3xguard/s3xguard/rules"
)

// Sizing, chosen from the measured figures (README): peak RSS is 17 MB, so
// memory is set for CPU, not space: 256 MB gives the arm64 function enough
// CPU for TLS to SNS, DynamoDB and S3 without paying for idle memory. The
// timeout covers the slowest path: a quarantine waits up to 20 s for the
// per-bucket lock, then the SDK's retries (5 attempts, backoff capped at
// 2 s) on a few calls.
const (
	memoryMB       = 256
	timeoutSeconds = 60
	// EventBridge retries a failed delivery to the function (or the event
	// queue) for up to two hours, then parks the event in the DLQ.
	retryAttempts   = 8
	maxEventAgeHour = 2
	// Once Lambda has accepted an asynchronous invocation, a function error
	// is retried twice, and an event throttled by the reserved concurrency
	// waits up to 6 hours (both the maxima AWS allows, FACTS §8); then the
	// event goes to the failed-invocation queue instead of being dropped.
	asyncRetries     = 2
	asyncMaxAgeHours = 6
)

// Guard is the deployed stack and the parts tests look at.
type Guard struct {
	Stack       awscdk.Stack
	Function    awslambda.Function
	Role        awsiam.Role
	Topic       awssns.Topic
	HealthTopic awssns.Topic
	Rule        awsevents.Rule
	Sweep       awsevents.Rule
	// DenyPolicy is the managed policy the IAM response attaches; nil when
	// iamResponse is off.
	DenyPolicy awsiam.ManagedPolicy
}

// NewGuardStack builds the stack for one account and region. functionDir
// holds bootstrap and allowlist.yaml (BuildFunction).
func NewGuardStack(scope constructs.Construct, id string, cfg *Config, functionDir string, props *awscdk.StackProps) (*Guard, error) {
	al, err := rules.Load(cfg.AllowlistPath())
	if err != nil {
		return nil, fmt.Errorf("allowlist: %w", err)
	}
	// The function refuses, at cold start, an allowlist other than the one
	// bundled here: ALLOWLIST_SHA256 carries its hash (and doctor
	// --allowlist compares a local file with it).
	bundled, err := os.ReadFile(filepath.Join(functionDir, "allowlist.yaml"))
	if err != nil {
		return nil, fmt.Errorf("bundled allowlist: %w", err)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	pattern, err := eventPattern(cfg.Buckets, stack.Account())
	if err != nil {
		return nil, err
	}
	// Server access logs are granted by bucket policy, not by the legacy
	// LogDeliveryWrite ACL.
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	g := &Guard{Stack: stack}
	for _, w := range protectedWarnings(al.Protected(), partitionOf(*stack.Region()), *stack.Account()) {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("s3xguard:protected"), jsii.String(w))
	}
	for field, subs := range map[string]Subscriptions{"subscriptions": cfg.Subscriptions, "healthSubscriptions": *cfg.HealthSubscriptions} {
		if len(subs.Email)+len(subs.SMS)+len(subs.HTTPS) == 0 {
			awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("s3xguard:subscriptions"),
				jsii.String(fmt.Sprintf("%s is empty: its topic pages nobody until someone subscribes (as the break-glass role or through this config)", field)))
		}
	}

	role := awsiam.NewRole(stack, jsii.String("FunctionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("s3xguard function: alert, dedup state, quarantine"),
	})
	g.Role = role
	// Who may act on the stack's resources besides AWS services: the
	// function, and the break-glass role when one is named.
	operators := []*string{}
	if cfg.BreakGlassRoleArn != "" {
		operators = append(operators, jsii.String(cfg.BreakGlassRoleArn))
	}
	fnOnly := []*string{role.RoleArn()}
	fnAndOperators := append([]*string{role.RoleArn()}, operators...)

	// Two topics under two customer managed keys: alerts, and health (pages
	// about the guard itself), so a broken alert topic or key cannot hide
	// its own failure.
	// CloudFormation creates the config's subscriptions through the CDK
	// bootstrap's execution role, named exactly: a pattern such as
	// cdk-*-cfn-exec-role-* is a name anyone with iam:CreateRole can take
	// (deployRoles; a StackSet member's execution role is the exception).
	subscribers := append(deployRoles(stack, cfg.CdkQualifier), operators...)
	topic := newTopic(stack, "Alerts", "AlertKey", "s3xguard", "s3xguard alert topic encryption", cfg.Subscriptions, fnOnly, subscribers, operators)
	health := newTopic(stack, "Health", "HealthKey", "s3xguard health", "s3xguard health topic encryption", *cfg.HealthSubscriptions, fnOnly, subscribers, operators)
	g.Topic, g.HealthTopic = topic, health

	// State shared by all instances: dedup windows, bucket locks, the
	// circuit breaker, quarantine records. Retained on delete: the records
	// are what `s3xguard quarantine release` undoes. Item reads and writes,
	// and the copies that would be read elsewhere (exports, backups,
	// restores to a table without this policy), are denied to everyone but
	// the function and the break-glass role: the items say who is
	// quarantined and why, and hold session records; the account
	// root can always delete a DynamoDB resource policy, so this cannot lock
	// the account out (DynamoDB API reference, DeleteResourcePolicy). The
	// policy's "*" resource is the table itself: its own ARN cannot be
	// referenced without a cycle.
	table := awsdynamodb.NewTable(stack, jsii.String("State"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute:              jsii.String("expires"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		Encryption:                       awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
		ResourcePolicy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			denyOthers("OnlyTheGuardWritesItems", tableWrites, jsii.String("*"), fnAndOperators, false),
			denyOthers("OnlyTheGuardReadsItems", tableReads, jsii.String("*"), fnAndOperators, false),
		}}),
	})

	dlq := awssqs.NewQueue(stack, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag(dlq, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the EventBridge targets and of the event queue; a DLQ of its own would only move the same events.")
	// Only AWS services (EventBridge, the event queue's redrive) put events
	// here; people may read them back only as the break-glass role.
	dlq.AddToResourcePolicy(denyOthers("OnlyAWSServicesSend", []string{"sqs:SendMessage"}, dlq.QueueArn(), nil, false))
	if len(operators) > 0 {
		dlq.AddToResourcePolicy(denyOthers("OnlyOperatorsReceive", queueReads, dlq.QueueArn(), operators, false))
	}

	// Invocations Lambda accepted but could not complete (function errors
	// after two retries, or throttled for six hours) land here instead of
	// being dropped; `s3xguard check` can audit them. Encrypted with its own
	// key: the messages hold the full events.
	failedKey := awskms.NewKey(stack, jsii.String("FailedInvocationsKey"), &awskms.KeyProps{
		Description:       jsii.String("s3xguard failed-invocation queue encryption"),
		EnableKeyRotation: jsii.Bool(true),
	})
	failedKey.AddToResourcePolicy(denyOthers("OnlyTheGuardUsesKey", keyUse, jsii.String("*"), fnAndOperators, true), nil)
	failed := awssqs.NewQueue(stack, jsii.String("FailedInvocations"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: failedKey,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	nag(failed, "AwsSolutions-SQS3", "This queue is the function's on-failure destination, a dead-letter queue in all but name.")
	failed.AddToResourcePolicy(denyOthers("OnlyTheFunctionSends", []string{"sqs:SendMessage"}, failed.QueueArn(), fnOnly, false))
	if len(operators) > 0 {
		failed.AddToResourcePolicy(denyOthers("OnlyOperatorsReceive", queueReads, failed.QueueArn(), operators, false))
	}

	logs := awslogs.NewLogGroup(stack, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	logs.GrantWrite(role)

	var denyPolicy awsiam.ManagedPolicy
	if cfg.IAMResponse {
		denyPolicy = quarantineDenyPolicy(stack, cfg)
		g.DenyPolicy = denyPolicy
	}
	env := map[string]*string{
		"ALERT_TOPIC_ARN":                topic.TopicArn(),
		"HEALTH_TOPIC_ARN":               health.TopicArn(),
		"STATE_TABLE":                    table.TableName(),
		"RESPONSE_MODE":                  jsii.String(cfg.ResponseMode),
		"DEDUP_WINDOW":                   jsii.String(cfg.DedupWindow),
		"QUARANTINE_MAX_PER_HOUR":        jsii.String(strconv.Itoa(*cfg.QuarantineMaxPerHour)),
		"QUARANTINE_MAX_PER_BUCKET_HOUR": jsii.String(strconv.Itoa(*cfg.QuarantineMaxPerBucketHour)),
		"QUARANTINE_TTL":                 jsii.String(cfg.QuarantineTTL),
		"QUARANTINE_TARGET":              jsii.String(cfg.QuarantineTarget),
		"QUARANTINE_FAILED_CALLS":        jsii.String(onOff(cfg.QuarantineFailedCalls)),
		"IAM_RESPONSE":                   jsii.String(onOff(cfg.IAMResponse)),
		"REVOKE_SESSIONS":                jsii.String(onOff(cfg.RevokeSessions)),
		"OBJECT_KEYS":                    jsii.String(cfg.ObjectKeys),
		"GUARDED_BUCKETS":                jsii.String(guarded(cfg.Buckets)),
		"BATCH_PARALLELISM":              jsii.String(strconv.Itoa(cfg.BatchParallelism)),
		"FINDINGS":                       jsii.String(findingsEnv(cfg.Findings)),
		"SESSION_CHECK":                  jsii.String(cfg.SessionCheck),
		"SESSION_TOLERANCE":              jsii.String(cfg.SessionTolerance),
		"ALLOWLIST_SHA256":               jsii.String(config.AllowlistDigest(bundled)),
		"CDK_QUALIFIER":                  jsii.String(cfg.CdkQualifier),
		"ACCOUNT_ID":                     awscdk.Aws_ACCOUNT_ID(),
		// The role's ARN, not a name: the function compares it with the
		// session issuer of its own bucket-policy events.
		"FUNCTION_ROLE_ARN": role.RoleArn(),
	}
	if cfg.BreakGlassRoleArn != "" {
		// The guard never quarantines the role on-call undoes with.
		env["BREAK_GLASS_ROLE_ARN"] = jsii.String(cfg.BreakGlassRoleArn)
	}
	if denyPolicy != nil {
		env["IAM_DENY_POLICY_ARN"] = denyPolicy.ManagedPolicyArn()
	}
	if cfg.Routing.Enabled() {
		if env["ALERT_BUS"], err = alertBus(stack, cfg.Routing, role, dlq); err != nil {
			return nil, err
		}
	}
	fn := awslambda.NewFunction(stack, jsii.String("Function"), &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         functionCode(stack, cfg, functionDir),
		MemorySize:   jsii.Number(memoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeoutSeconds)),
		// Reserved: a flood of S3 Express events cannot take the account's
		// whole concurrency, and the guard always has this much for itself.
		ReservedConcurrentExecutions: jsii.Number(cfg.ReservedConcurrency),
		Role:                         role,
		LogGroup:                     logs,
		Description:                  jsii.String("s3xguard: checks S3 Express One Zone events against the allowlist"),
		Environment:                  &env,
	})
	g.Function = fn
	fn.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(asyncRetries),
		MaxEventAge:   awscdk.Duration_Hours(jsii.Number(asyncMaxAgeHours)),
		OnFailure:     awslambdadestinations.NewSqsDestination(failed),
	})
	topic.GrantPublish(role)
	health.GrantPublish(role)
	table.Grant(role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"), jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:DeleteItem"))
	permissions(stack, role, cfg, al, denyPolicy)

	// The rule's pattern is rules.EventPattern, the function's own code.
	rule := awsevents.NewRule(stack, jsii.String("S3ExpressEvents"), &awsevents.RuleProps{
		Description:  jsii.String("S3 Express One Zone CloudTrail events to s3xguard"),
		EventPattern: pattern,
	})
	// A rule in state ENABLED never matches read-only management events
	// (GetBucketPolicy, GetBucketEncryption, ListDirectoryBuckets,
	// ListMultipartUploads): a stranger reading a bucket's policy would go
	// unseen. The pattern admits only aws.s3express, so the added volume is
	// S3 Express's own read-only management calls. (EventBridge user guide,
	// "Receiving read-only management events from AWS services".)
	rule.Node().DefaultChild().(awsevents.CfnRule).SetState(jsii.String("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"))
	var backlog awssqs.Queue
	if cfg.QueueEvents {
		backlog = queueEvents(stack, cfg, rule, fn, dlq, fnAndOperators)
	} else {
		// The target adds the function's only resource policy statements:
		// events.amazonaws.com, with this rule's ARN as SourceArn.
		rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			DeadLetterQueue: dlq,
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(maxEventAgeHour)),
			RetryAttempts:   jsii.Number(retryAttempts),
		}))
	}
	g.Rule = rule
	// The sweep sends due dedup summaries and expires quarantines.
	sweep := awsevents.NewRule(stack, jsii.String("Sweep"), &awsevents.RuleProps{
		Description: jsii.String("s3xguard: send dedup summaries, expire quarantines"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
	})
	sweep.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Minutes(jsii.Number(10)),
		RetryAttempts:   jsii.Number(2),
	}))
	g.Sweep = sweep

	alarms(stack, cfg, g, dlq, failed, backlog)
	// What on-call and a security team's SCP need by name.
	outputs := map[string]*string{
		"StateTableName":       table.TableName(),
		"StateTableArn":        table.TableArn(),
		"FunctionArn":          fn.FunctionArn(),
		"FunctionRoleArn":      role.RoleArn(),
		"AlertTopicArn":        topic.TopicArn(),
		"HealthTopicArn":       health.TopicArn(),
		"FailedInvocationsUrl": failed.QueueUrl(),
		"DeadLettersUrl":       dlq.QueueUrl(),
	}
	if denyPolicy != nil {
		outputs["QuarantineDenyPolicyArn"] = denyPolicy.ManagedPolicyArn()
	}
	// The service control policy that keeps the function and its role in
	// the deployment's hands (lambda/doctor/containment.go says why; with
	// revokeSessions, doctor warns until it is attached and given to it).
	scp, err := containmentSCP(stack, fn, role, denyPolicy, cfg.CdkQualifier)
	if err != nil {
		return nil, err
	}
	outputs["ContainmentScp"] = scp
	for name, v := range outputs {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{Value: v})
	}
	if cfg.CreateTrail {
		trail(stack, cfg)
	}
	return g, nil
}

// newTopic makes an SNS topic under its own customer managed key, with the
// config's subscribers. Only the function (publishers) and CloudWatch alarms
// may publish; only CloudFormation (the subscriptions) and the operators may
// subscribe; TLS is enforced by the topic policy.
func newTopic(stack awscdk.Stack, id, keyID, display, keyDesc string, subs Subscriptions, publishers, subscribers, operators []*string) awssns.Topic {
	key := awskms.NewKey(stack, jsii.String(keyID), &awskms.KeyProps{
		Description:       jsii.String(keyDesc),
		EnableKeyRotation: jsii.Bool(true),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
	}), nil)
	key.AddToResourcePolicy(denyOthers("OnlyTheGuardUsesKey", keyUse, jsii.String("*"), append(append([]*string{}, publishers...), operators...), true), nil)
	topic := awssns.NewTopic(stack, jsii.String(id), &awssns.TopicProps{
		DisplayName: jsii.String(display),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// A topic policy replaces the default one, so the alarms' publisher is
	// named explicitly (the function publishes through its role).
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
	}))
	topic.AddToResourcePolicy(denyOthers("OnlyTheGuardPublishes", []string{"sns:Publish"}, topic.TopicArn(), publishers, false))
	topic.AddToResourcePolicy(denyOthers("OnlyDeployAndOperatorsSubscribe", []string{"sns:Subscribe"}, topic.TopicArn(), subscribers, false))
	for _, e := range subs.Email {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}
	for _, p := range subs.SMS {
		topic.AddSubscription(awssnssubscriptions.NewSmsSubscription(jsii.String(p), nil))
	}
	for _, u := range subs.HTTPS {
		topic.AddSubscription(awssnssubscriptions.NewUrlSubscription(jsii.String(u), &awssnssubscriptions.UrlSubscriptionProps{Protocol: awssns.SubscriptionProtocol_HTTPS}))
	}
	return topic
}

var (
	// tableWrites are every action that changes an item
	// (TransactWriteItems is authorized as the item actions it holds).
	tableWrites = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
		"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
	// tableReads are every action that reads items, or copies them where
	// this policy does not follow (an export to S3, a backup, a restore
	// into a new table).
	tableReads = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem",
		"dynamodb:PartiQLSelect", "dynamodb:ExportTableToPointInTime", "dynamodb:CreateBackup", "dynamodb:RestoreTableToPointInTime"}
	queueReads = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"}
	keyUse     = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
)

// denyOthers denies actions to every IAM principal whose ARN is not one of
// allowed (patterns, ArnLike), whatever its identity policies say: the
// same-account grant a resource policy cannot otherwise take back. AWS
// service principals (CloudWatch alarms, EventBridge, SQS redrive) are not
// IAM principals and are left to the Allow statements; viaServices also
// leaves alone calls a service makes for a principal (KMS calls made by SNS
// or SQS, whose own policies decide who reaches them). An empty allowed
// list denies every IAM principal.
func denyOthers(sid string, actions []string, resource *string, allowed []*string, viaServices bool) awsiam.PolicyStatement {
	bools := map[string]any{"aws:PrincipalIsAWSService": "false"}
	if viaServices {
		bools["aws:ViaAWSService"] = "false"
	}
	cond := map[string]any{"Bool": bools}
	if len(allowed) > 0 {
		cond["ArnNotLike"] = map[string]any{"aws:PrincipalArn": allowed}
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(actions...),
		Resources:  &[]*string{resource},
		Conditions: &cond,
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func guarded(buckets []string) string {
	if len(buckets) == 0 {
		return "*"
	}
	return strings.Join(buckets, ",")
}

// eventPattern turns rules.EventPattern into the CDK's type, so the rule
// deployed is the pattern the code (and rules/eventpattern.json) defines,
// narrowed to the account the stack guards: events another account sends
// to this bus (a bus policy, an organization's forwarding rule) never
// reach the function, which would only alert them as forged.
func eventPattern(buckets []string, account *string) (*awsevents.EventPattern, error) {
	raw, err := rules.EventPattern(buckets)
	if err != nil {
		return nil, err
	}
	var p struct {
		Source     []string       `json:"source"`
		DetailType []string       `json:"detail-type"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("event pattern: %w", err)
	}
	return &awsevents.EventPattern{
		Account:    &[]*string{account},
		Source:     jsii.Strings(p.Source...),
		DetailType: jsii.Strings(p.DetailType...),
		Detail:     &p.Detail,
	}, nil
}

// queueEvents puts an SQS queue between the rule and the function, read in
// batches: one invocation per up to 100 events instead of one per event.
// The function reports failed messages alone (ReportBatchItemFailures), so
// one bad message is retried without replaying the batch; after 5 receives
// a message goes to the DLQ. Only the rule may send (a forged event put
// here would reach the function as if EventBridge had sent it), and only
// the function (and operators) may receive.
func queueEvents(stack awscdk.Stack, cfg *Config, rule awsevents.Rule, fn awslambda.Function, dlq awssqs.Queue, readers []*string) awssqs.Queue {
	q := awssqs.NewQueue(stack, jsii.String("Events"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// AWS advises at least six times the function's timeout.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * timeoutSeconds)),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{MaxReceiveCount: jsii.Number(5), Queue: dlq},
	})
	// A missing aws:SourceArn (any direct SendMessage) makes ArnNotEquals
	// true, so the deny applies (IAM user guide, condition operators).
	q.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheRuleSends"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{q.QueueArn()},
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:SourceArn": rule.RuleArn()}},
	}))
	q.AddToResourcePolicy(denyOthers("OnlyTheFunctionReceives", queueReads, q.QueueArn(), readers, false))
	rule.AddTarget(awseventstargets.NewSqsQueue(q, &awseventstargets.SqsQueueProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(maxEventAgeHour)),
		RetryAttempts:   jsii.Number(retryAttempts),
	}))
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(q, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(100),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(1)),
		ReportBatchItemFailures: jsii.Bool(true),
		// One instance of the reserved concurrency is left for the sweep.
		MaxConcurrency: jsii.Number(cfg.ReservedConcurrency - 1),
	}))
	return q
}

// trail logs S3 Express data events only, narrowed to the guarded buckets
// when they are named: management events are left to the account's
// existing trail (a second copy of them is billed).
func trail(stack awscdk.Stack, cfg *Config) {
	accessLogs := awss3.NewBucket(stack, jsii.String("TrailAccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules:    &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(cfg.TrailLogDays)), NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30))}},
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	nag(accessLogs, "AwsSolutions-S1", "This bucket receives the trail bucket's server access logs; logging it in turn would recurse.")
	logs := awss3.NewBucket(stack, jsii.String("TrailLogs"), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ServerAccessLogsBucket: accessLogs,
		LifecycleRules:         &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(cfg.TrailLogDays)), NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30))}},
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	})
	t := awscloudtrail.NewTrail(stack, jsii.String("Trail"), &awscloudtrail.TrailProps{
		Bucket:                     logs,
		EnableFileValidation:       jsii.Bool(true),
		IsMultiRegionTrail:         jsii.Bool(false),
		IncludeGlobalServiceEvents: jsii.Bool(false),
	})
	// The L2 Trail has no advanced event selectors: set them on the
	// resource. Data events of S3 Express objects only.
	cfn := t.Node().DefaultChild().(awscloudtrail.CfnTrail)
	cfn.AddPropertyOverride(jsii.String("AdvancedEventSelectors"), advancedSelectors(stack, cfg.Buckets))
	cfn.AddPropertyDeletionOverride(jsii.String("EventSelectors"))
}

func advancedSelectors(stack awscdk.Stack, buckets []string) []map[string]any {
	return dataEventSelectors(*stack.Partition(), *stack.Region(), *stack.Account(), buckets)
}

// dataEventSelectors are the trail's advanced event selectors: S3 Express
// object data events, of the named buckets when there are any. CloudTrail
// matches resources.ARN against the object's ARN, which the logs write both
// as arn:P:s3express:R:A:bucket/NAME/KEY and as arn:P:s3express:R:A:NAME/KEY
// (FACTS §1, S3 user guide "CloudTrail log file examples for directory
// buckets"); calls on the bucket itself (CreateSession, HeadBucket,
// ListObjectsV2) carry the bucket's ARN, with no key and no slash. So each
// bucket is named four ways: Equals its ARN in both forms, StartsWith both
// forms followed by "/" (a bare StartsWith NAME would also log a longer
// NAME2). Include operators of one field OR together (CloudTrail user
// guide, "Filtering data events by using advanced event selectors"); a
// trail takes at most 500 values in all, so at most 124 named buckets.
// infra/stack/selectors_test.go evaluates these selectors over the event
// corpus of test/eventruler/corpus.
func dataEventSelectors(partition, region, account string, buckets []string) []map[string]any {
	fields := []map[string]any{
		{"Field": "eventCategory", "Equals": []string{"Data"}},
		{"Field": "resources.type", "Equals": []string{"AWS::S3Express::Object"}},
	}
	if len(buckets) > 0 {
		var arns, prefixes []string
		for _, b := range buckets {
			base := fmt.Sprintf("arn:%s:s3express:%s:%s:", partition, region, account)
			arns = append(arns, base+"bucket/"+b, base+b)
			prefixes = append(prefixes, base+"bucket/"+b+"/", base+b+"/")
		}
		fields = append(fields, map[string]any{"Field": "resources.ARN", "Equals": arns, "StartsWith": prefixes})
	}
	return []map[string]any{{"Name": "S3 Express One Zone object data events for s3xguard", "FieldSelectors": fields}}
}

// containmentSCP is doctor.ContainmentSCP for this stack, as JSON that
// CloudFormation completes with the function's and role's ARNs.
func containmentSCP(stack awscdk.Stack, fn awslambda.Function, role awsiam.Role, deny awsiam.ManagedPolicy, qualifier string) (*string, error) {
	d := doctor.Deployment{FunctionARN: *fn.FunctionArn(), RoleARN: *role.RoleArn(), DeployRoleARN: cfnExecRole(stack, qualifier)}
	if deny != nil {
		d.DenyPolicyARN = *deny.ManagedPolicyArn()
	}
	b, err := json.Marshal(doctor.ContainmentSCP(d))
	if err != nil {
		return nil, fmt.Errorf("containment scp: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("containment scp: %w", err)
	}
	return stack.ToJsonString(doc, nil), nil
}

// cfnExecRole is the ARN of the CDK bootstrap's CloudFormation execution
// role in the stack's account and region (its name is fixed by the
// bootstrap template: cdk-QUALIFIER-cfn-exec-role-ACCOUNT-REGION).
func cfnExecRole(stack awscdk.Stack, qualifier string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/cdk-%s-cfn-exec-role-%s-%s", *stack.Partition(), *stack.Account(), qualifier, *stack.Account(), *stack.Region())
}

// nag suppresses one cdk-nag rule on a construct, with its reason.
func nag(c constructs.IConstruct, id, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{Id: jsii.String(id), Reason: jsii.String(reason)}}, jsii.Bool(true))
}

// findingsEnv is FINDINGS for the stack's findings prop.
func findingsEnv(f string) string {
	if f == "" {
		return "off"
	}
	return f
}

package stack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

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
	// EventBridge retries a failed invocation (an alert that could not be
	// sent) for up to two hours, then parks the event in the DLQ.
	retryAttempts   = 8
	maxEventAgeHour = 2
)

// Guard is the deployed stack and the parts tests look at.
type Guard struct {
	Stack    awscdk.Stack
	Function awslambda.Function
	Topic    awssns.Topic
	Rule     awsevents.Rule
}

// NewGuardStack builds the stack for one account and region. functionDir
// holds bootstrap and allowlist.yaml (BuildFunction).
func NewGuardStack(scope constructs.Construct, id string, cfg *Config, functionDir string, props *awscdk.StackProps) (*Guard, error) {
	al, err := rules.Load(cfg.AllowlistPath())
	if err != nil {
		return nil, fmt.Errorf("allowlist: %w", err)
	}
	pattern, err := eventPattern(cfg.Buckets)
	if err != nil {
		return nil, err
	}
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	// Server access logs are granted by bucket policy, not by the legacy
	// LogDeliveryWrite ACL.
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	g := &Guard{Stack: stack}

	// Alerts: a topic under a customer managed key whose policy admits the
	// publishers only (the function, through its role's grant, and
	// CloudWatch alarms), TLS enforced by the topic policy.
	key := awskms.NewKey(stack, jsii.String("AlertKey"), &awskms.KeyProps{
		Description:       jsii.String("s3xguard alert topic encryption"),
		EnableKeyRotation: jsii.Bool(true),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
	}), nil)
	topic := awssns.NewTopic(stack, jsii.String("Alerts"), &awssns.TopicProps{
		DisplayName: jsii.String("s3xguard"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	g.Topic = topic
	// A topic policy replaces the default one, so the alarms' publisher is
	// named explicitly (the function publishes through its role).
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
	}))
	for _, e := range cfg.Subscriptions.Email {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}
	for _, p := range cfg.Subscriptions.SMS {
		topic.AddSubscription(awssnssubscriptions.NewSmsSubscription(jsii.String(p), nil))
	}
	for _, u := range cfg.Subscriptions.HTTPS {
		topic.AddSubscription(awssnssubscriptions.NewUrlSubscription(jsii.String(u), &awssnssubscriptions.UrlSubscriptionProps{Protocol: awssns.SubscriptionProtocol_HTTPS}))
	}

	// State shared by all instances: dedup windows, bucket locks, the
	// circuit breaker, quarantine records. Retained on delete: the records
	// are what `s3xguard quarantine release` undoes.
	table := awsdynamodb.NewTable(stack, jsii.String("State"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute:              jsii.String("expires"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		Encryption:                       awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
	})

	dlq := awssqs.NewQueue(stack, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag(dlq, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the EventBridge target; a DLQ of its own would only move the same events.")

	logs := awslogs.NewLogGroup(stack, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(stack, jsii.String("FunctionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("s3xguard function: alert, dedup state, quarantine"),
	})
	logs.GrantWrite(role)

	fn := awslambda.NewFunction(stack, jsii.String("Function"), &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(functionDir), nil),
		MemorySize:   jsii.Number(memoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeoutSeconds)),
		Role:         role,
		LogGroup:     logs,
		Description:  jsii.String("s3xguard: checks S3 Express One Zone events against the allowlist"),
		Environment: &map[string]*string{
			"ALERT_TOPIC_ARN":         topic.TopicArn(),
			"STATE_TABLE":             table.TableName(),
			"RESPONSE_MODE":           jsii.String(cfg.ResponseMode),
			"DEDUP_WINDOW":            jsii.String(cfg.DedupWindow),
			"QUARANTINE_MAX_PER_HOUR": jsii.String(strconv.Itoa(*cfg.QuarantineMaxPerHour)),
			"QUARANTINE_TTL":          jsii.String(cfg.QuarantineTTL),
			"IAM_RESPONSE":            jsii.String(onOff(cfg.IAMResponse)),
			"OBJECT_KEYS":             jsii.String(cfg.ObjectKeys),
			"GUARDED_BUCKETS":         jsii.String(guarded(cfg.Buckets)),
		},
	})
	g.Function = fn
	topic.GrantPublish(role)
	table.Grant(role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"), jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:DeleteItem"))
	permissions(stack, role, cfg, al)

	// The rule's pattern is rules.EventPattern, the function's own code.
	rule := awsevents.NewRule(stack, jsii.String("S3ExpressEvents"), &awsevents.RuleProps{
		Description:  jsii.String("S3 Express One Zone CloudTrail events to s3xguard"),
		EventPattern: pattern,
	})
	var backlog awssqs.Queue
	if cfg.QueueEvents {
		backlog = queueEvents(stack, rule, fn, dlq)
	} else {
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

	alarms(stack, cfg, fn, dlq, backlog, rule, topic)
	if cfg.CreateTrail {
		trail(stack, cfg)
	}
	return g, nil
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
// deployed is the pattern the code (and rules/eventpattern.json) defines.
func eventPattern(buckets []string) (*awsevents.EventPattern, error) {
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
		Source:     jsii.Strings(p.Source...),
		DetailType: jsii.Strings(p.DetailType...),
		Detail:     &p.Detail,
	}, nil
}

// permissions grants the function what its responses call, on named
// resources wherever AWS allows naming them.
func permissions(stack awscdk.Stack, role awsiam.Role, cfg *Config, al *rules.Allowlist) {
	partition, region, account := *stack.Partition(), *stack.Region(), *stack.Account()
	var buckets []*string
	if len(cfg.Buckets) == 0 {
		buckets = *jsii.Strings(fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/*", partition, region, account))
	}
	for _, b := range cfg.Buckets {
		buckets = append(buckets, jsii.String(fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/%s", partition, region, account, b)))
	}
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("QuarantineBucketPolicy"),
		Actions:   jsii.Strings("s3express:GetBucketPolicy", "s3express:PutBucketPolicy", "s3express:DeleteBucketPolicy"),
		Resources: &buckets,
	}))
	roles := fmt.Sprintf("arn:%s:iam::%s:role/*", partition, account)
	users := fmt.Sprintf("arn:%s:iam::%s:user/*", partition, account)
	// Zonal calls log the session ARN without the role path; a bucket
	// policy must name the role by its full ARN, so the path is looked up.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ResolveRolePath"),
		Actions:   jsii.Strings("iam:GetRole"),
		Resources: jsii.Strings(roles),
	}))
	reasons := []string{"role/* for iam:GetRole: the offending role is known only at run time, and its path must be looked up."}
	if len(cfg.Buckets) == 0 {
		reasons = append(reasons, "bucket/* for the bucket policy actions: the deployment guards every directory bucket of the account (buckets: [\"*\"]).")
	}
	if cfg.IAMResponse {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("QuarantineIAM"),
			Actions:   jsii.Strings("iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"),
			Resources: jsii.Strings(roles, users),
		}))
		// Never on protected roles nor on the function's own: an explicit
		// deny wins over the allow above, whatever the function decides.
		never := []*string{role.RoleArn()}
		for _, p := range protectedRoleARNs(al.Protected(), partition, account) {
			never = append(never, jsii.String(p))
		}
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("NeverQuarantineProtected"),
			Effect:    awsiam.Effect_DENY,
			Actions:   jsii.Strings("iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"),
			Resources: &never,
		}))
		reasons = append(reasons, "role/* and user/* for the inline quarantine policies: the offending principal is known only at run time; protected roles and the function's own are denied explicitly.")
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String(strings.Join(reasons, " ") + " log-group:*: CloudWatch Logs names streams at run time. kms GenerateDataKey*/ReEncrypt*: the SNS grant on the alert key."),
	}}, jsii.Bool(true))
}

// queueEvents puts an SQS queue between the rule and the function, read in
// batches: one invocation per up to 100 events instead of one per event.
// The function reports failed messages alone (ReportBatchItemFailures), so
// one bad message is retried without replaying the batch; after 5 receives
// a message goes to the DLQ.
func queueEvents(stack awscdk.Stack, rule awsevents.Rule, fn awslambda.Function, dlq awssqs.Queue) awssqs.Queue {
	q := awssqs.NewQueue(stack, jsii.String("Events"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// AWS advises at least six times the function's timeout.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * timeoutSeconds)),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{MaxReceiveCount: jsii.Number(5), Queue: dlq},
	})
	rule.AddTarget(awseventstargets.NewSqsQueue(q, &awseventstargets.SqsQueueProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(maxEventAgeHour)),
		RetryAttempts:   jsii.Number(retryAttempts),
	}))
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(q, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(100),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(1)),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
	return q
}

// protectedRoleARNs turns the allowlist's protected role patterns into IAM
// resource ARNs. Role paths are ignored when matching principals, so each
// role is denied with and without a path.
func protectedRoleARNs(patterns []string, partition, account string) []string {
	var out []string
	for _, p := range patterns {
		f := strings.SplitN(p, ":", 6)
		if len(f) != 6 || f[2] != "iam" || !strings.HasPrefix(f[5], "role/") {
			continue
		}
		acct := f[4]
		if acct != account && acct != "*" && !strings.ContainsAny(acct, "?") {
			continue
		}
		name := f[5][strings.LastIndexByte(f[5], '/')+1:]
		out = append(out,
			fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, name),
			fmt.Sprintf("arn:%s:iam::%s:role/*/%s", partition, account, name))
	}
	return out
}

// alarms page through the alert topic on function errors and throttles,
// events parked in the DLQ, and silence: no S3 Express event for hours
// means a broken trail or rule, the failure that pages nobody otherwise.
func alarms(stack awscdk.Stack, cfg *Config, fn awslambda.Function, dlq, backlog awssqs.Queue, rule awsevents.Rule, topic awssns.Topic) {
	action := awscloudwatchactions.NewSnsAction(topic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum := jsii.String("Sum")
	add := func(id string, metric awscloudwatch.IMetric, cmp awscloudwatch.ComparisonOperator, threshold float64, periods int, missing awscloudwatch.TreatMissingData, desc string) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: cmp,
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(periods),
			TreatMissingData:   missing,
			AlarmDescription:   jsii.String(desc),
		})
		a.AddAlarmAction(action)
	}
	gt := awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	add("FunctionErrorsAlarm", fn.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: sum}), gt, 0, 1,
		awscloudwatch.TreatMissingData_NOT_BREACHING, "s3xguard function errors: an alert may not have been sent (EventBridge retries, then the DLQ)")
	add("FunctionThrottlesAlarm", fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: sum}), gt, 0, 1,
		awscloudwatch.TreatMissingData_NOT_BREACHING, "s3xguard function throttled: events are delayed")
	add("DeadLettersAlarm", dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}), gt, 0, 1,
		awscloudwatch.TreatMissingData_NOT_BREACHING, "S3 Express events in the s3xguard dead-letter queue: they were never checked")
	if backlog != nil {
		add("BacklogAlarm", backlog.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}), gt, 900, 1,
			awscloudwatch.TreatMissingData_NOT_BREACHING, "s3xguard is more than 15 minutes behind on S3 Express events")
	}
	matched := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String("AWS/Events"),
		MetricName:    jsii.String("MatchedEvents"),
		DimensionsMap: &map[string]*string{"RuleName": rule.RuleName()},
		Statistic:     sum,
		Period:        awscdk.Duration_Hours(jsii.Number(1)),
	})
	add("SilenceAlarm", matched, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, cfg.SilenceAlarmHours,
		awscloudwatch.TreatMissingData_BREACHING, fmt.Sprintf("no S3 Express event reached s3xguard for %d hours: check the trail's data event selectors and the rule", cfg.SilenceAlarmHours))
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

// nag suppresses one cdk-nag rule on a construct, with its reason.
func nag(c constructs.IConstruct, id, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{Id: jsii.String(id), Reason: jsii.String(reason)}}, jsii.Bool(true))
}

package stack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudformation"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecurityhub"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/s3xguard/s3xguard/infra/central"
)

// Names shared by the member template, the central stack and doctor.
const (
	// CentralBusName is the central account's bus that members forward to.
	CentralBusName = central.BusName
	// MemberFunctionName is the function's name in every member, so
	// `doctor --org-role` finds it without a per-account lookup.
	MemberFunctionName = "s3xguard"
	// AlertSource and AlertDetailType are what the function puts on its
	// account's default bus after each page (ALERT_BUS).
	AlertSource     = central.Source
	AlertDetailType = central.AlertDetailType
	// memberContext marks a construct tree as a StackSet member template.
	memberContext = "s3xguard:member"
)

// memberCode is where a member's function code lives: the assets bucket of
// the member's own region (Lambda reads code only from a bucket in the
// function's region), under a content-addressed key, so a new build is a
// new key and CloudFormation updates every member's code.
type memberCode struct {
	account string // the organization account that owns the buckets
	key     string
}

// AssetsBucketName is the organization account's bucket of function code
// in region.
func AssetsBucketName(account, region string) string {
	return fmt.Sprintf("s3xguard-assets-%s-%s", account, region)
}

// functionCode is the function's code: the local bundle as a CDK asset, or
// in a StackSet member (whose template may hold no assets) the object in
// the region's assets bucket.
func functionCode(stack awscdk.Stack, cfg *Config, functionDir string) awslambda.Code {
	if cfg.member == nil {
		return awslambda.Code_FromAsset(jsii.String(functionDir), nil)
	}
	bucket := awss3.Bucket_FromBucketName(stack, jsii.String("FunctionCodeBucket"),
		awscdk.Fn_Sub(jsii.String(AssetsBucketName(cfg.member.account, "${AWS::Region}")), nil))
	return awslambda.Code_FromBucket(bucket, jsii.String(cfg.member.key), nil)
}

// deployRoles are the roles through which CloudFormation creates the
// topics' subscriptions: the CDK bootstrap's execution role, named exactly
// (cfnExecRole), or, in a StackSet member, which is never bootstrapped, the
// execution role that service-managed StackSets create. Its name ends in a
// hash CloudFormation chooses (stacksets-exec-HASH; CloudFormation user
// guide, "Activate trusted access for StackSets with AWS Organizations"), so
// a member names it by pattern: the one subscribe exemption a principal
// with iam:CreateRole in a member account could match (infra/README.md,
// threat model).
func deployRoles(stack awscdk.Stack, qualifier string) []*string {
	if v, _ := stack.Node().TryGetContext(jsii.String(memberContext)).(bool); v {
		return []*string{jsii.String(fmt.Sprintf("arn:%s:iam::%s:role/stacksets-exec-*", *stack.Partition(), *stack.Account()))}
	}
	return []*string{jsii.String(cfnExecRole(stack, qualifier))}
}

// Org is what AddOrganization built, for tests.
type Org struct {
	Central *Central
	Assets  []awscdk.Stack
	// Members are the member templates by StackSet name, synthesized
	// apart (a StackSet's template cannot hold CDK assets), and the
	// directory their cloud assembly (and cdk-nag's report) is in.
	Members      map[string]map[string]any
	MemberStacks map[string]awscdk.Stack
	MembersDir   string
	// Staging holds what the assets stacks upload: function/*.zip and
	// templates/*.json.
	Staging string

	cfg *Config
}

// Cfg is the config the rollout was built from.
func (o *Org) Cfg() *Config { return o.cfg }

// Central is the central account's stack: the bus members forward to, the
// topics it pages, and the StackSets.
type Central struct {
	Stack       awscdk.Stack
	Bus         awsevents.EventBus
	Topic       awssns.Topic
	StackSets   map[string]awscloudformation.CfnStackSet
	AlertRule   awsevents.Rule
	HealthRule  awsevents.Rule
	HealthTopic awssns.Topic
}

// member is one StackSet: its name, the config its members deploy, and
// where it deploys.
type member struct {
	name   string
	cfg    *Config
	target Target // Account "" for the default members
}

// AddOrganization adds the organization rollout to app: per region of the
// organization, a stack in its account holding the function's code for
// members of that region; and in its home region the central stack (bus,
// topics, StackSets). One StackSet deploys the defaults to every account
// of the units, except accounts that a target overrides in that region,
// which get a StackSet of their own.
// Its staged uploads and member apps go in new directories under scratch.
func AddOrganization(app awscdk.App, cfg *Config, functions Functions, scratch string) (*Org, error) {
	org := cfg.Organization
	staging, err := os.MkdirTemp(scratch, "s3xguard-org-assets-")
	if err != nil {
		return nil, fmt.Errorf("stage the organization's uploads: %w", err)
	}
	members := []member{{name: "s3xguard", cfg: cfg.For(Target{Region: org.Regions[0]})}}
	for _, t := range cfg.Targets {
		members = append(members, member{name: fmt.Sprintf("s3xguard-%s-%s", t.Account, t.Region), cfg: cfg.For(t), target: t})
	}
	// One zip per distinct allowlist, named by its content.
	keys, dirs := map[string]string{}, map[string]string{}
	for _, m := range members {
		path := m.cfg.AllowlistPath()
		if _, ok := keys[path]; ok {
			continue
		}
		dir, err := functions(path)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.name, err)
		}
		key, err := zipFunction(dir, staging)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.name, err)
		}
		keys[path], dirs[path] = key, dir
	}
	out := &Org{Members: map[string]map[string]any{}, MemberStacks: map[string]awscdk.Stack{}, Staging: staging, cfg: cfg}
	out.MembersDir, err = os.MkdirTemp(scratch, "s3xguard-members-")
	if err != nil {
		return nil, fmt.Errorf("member apps: %w", err)
	}
	urls := map[string]string{}
	for _, m := range members {
		m.cfg.member = &memberCode{account: org.Account, key: keys[m.cfg.AllowlistPath()]}
		stack, tmpl, body, err := memberTemplate(out.MembersDir, m, dirs[m.cfg.AllowlistPath()])
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.name, err)
		}
		out.MemberStacks[m.name] = stack
		out.Members[m.name] = tmpl
		sum := sha256.Sum256(body)
		key := fmt.Sprintf("templates/%s-%s.json", m.name, hex.EncodeToString(sum[:8]))
		if err := writeStaged(staging, key, body); err != nil {
			return nil, fmt.Errorf("member %s: %w", m.name, err)
		}
		urls[m.name] = fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", AssetsBucketName(org.Account, org.Region), org.Region, key)
	}
	env := func(region string) *awscdk.Environment {
		return &awscdk.Environment{Account: jsii.String(org.Account), Region: jsii.String(region)}
	}
	hub := newCentral(app, cfg, env(org.Region))
	out.Central = hub
	for _, r := range org.Regions {
		s := assetsStack(app, org, env(r), staging)
		out.Assets = append(out.Assets, s)
		// The StackSets deploy only once every region has the code.
		hub.Stack.AddStackDependency(s, jsii.String("members read their function code from the region's assets bucket"))
	}
	if !slices.Contains(org.Regions, org.Region) {
		s := assetsStack(app, org, env(org.Region), staging)
		out.Assets = append(out.Assets, s)
		hub.Stack.AddStackDependency(s, jsii.String("the StackSets' templates are in the home region's assets bucket"))
	}
	hub.StackSets = map[string]awscloudformation.CfnStackSet{}
	for _, m := range members {
		hub.StackSets[m.name] = stackSet(hub.Stack, cfg, m, urls[m.name])
	}
	for _, s := range append([]awscdk.Stack{hub.Stack}, out.Assets...) {
		awscdk.Aspects_Of(s).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	}
	return out, nil
}

// memberTemplate synthesizes one member's Guard stack in an app of its
// own, with no bootstrap (StackSet members are not bootstrapped), and
// returns its template.
func memberTemplate(dir string, m member, functionDir string) (awscdk.Stack, map[string]any, []byte, error) {
	outdir := filepath.Join(dir, m.name)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &map[string]any{memberContext: true}})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	cfg := *m.cfg
	org := cfg.Organization
	if m.target.Account == "" && org.BreakGlassRoleName != "" && cfg.BreakGlassRoleArn == "" {
		cfg.BreakGlassRoleArn = fmt.Sprintf("arn:%s:iam::%s:role/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID(), org.BreakGlassRoleName)
	}
	g, err := NewGuardStack(app, m.name, &cfg, functionDir, &awscdk.StackProps{
		Description: jsii.String("s3xguard member: guard for S3 Express One Zone directory buckets, deployed by the organization's StackSet " + m.name),
		Synthesizer: awscdk.NewBootstraplessSynthesizer(nil),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	g.Function.Node().DefaultChild().(awslambda.CfnFunction).SetFunctionName(jsii.String(MemberFunctionName))
	forwardToCentral(g, &cfg)
	doctorRole(g.Stack, org)
	app.Synth(nil)
	path := filepath.Join(outdir, m.name+".template.json")
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read the member template: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(body, &tmpl); err != nil {
		return nil, nil, nil, fmt.Errorf("member template %s: %w", path, err)
	}
	return g.Stack, tmpl, body, nil
}

// forwardToCentral has the function put each alert on its account's
// default bus (ALERT_BUS) and a rule forward those events, and the
// stack's alarm state changes, to the central bus. The function never
// calls the central account: when it is unreachable, pages still go out
// locally and EventBridge retries the forward for a day, then parks it in
// a queue whose alarm pages the local health topic.
func forwardToCentral(g *Guard, cfg *Config) {
	stack, org := g.Stack, cfg.Organization
	// Alarm state changes reach the default bus only. The function's
	// events go to the routing bus when there is one (ALERT_BUS,
	// routing.go), else to the default bus too.
	sources := map[string]awsevents.IEventBus{"ForwardToCentral": nil}
	if cfg.Routing.Enabled() {
		sources["ForwardRoutedToCentral"] = awsevents.EventBus_FromEventBusName(stack, jsii.String("AlertBusRef"), jsii.String(*stack.StackName()+"-alerts"))
	} else {
		g.Function.AddEnvironment(jsii.String("ALERT_BUS"), jsii.String("default"), nil)
		g.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PutAlertEventsDefaultBus"),
			Actions:    jsii.Strings("events:PutEvents"),
			Resources:  jsii.Strings(fmt.Sprintf("arn:%s:events:%s:%s:event-bus/default", *stack.Partition(), *stack.Region(), *stack.Account())),
			Conditions: &map[string]any{"StringEquals": map[string]any{"events:source": AlertSource}},
		}))
	}
	undelivered := awssqs.NewQueue(stack, jsii.String("CentralUndelivered"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag(undelivered, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the forward to the central bus.")
	bus := awsevents.EventBus_FromEventBusArn(stack, jsii.String("CentralBus"),
		jsii.String(fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", *stack.Partition(), org.Region, org.Account, CentralBusName)))
	for _, id := range []string{"ForwardToCentral", "ForwardRoutedToCentral"} {
		from, ok := sources[id]
		if !ok {
			continue
		}
		rule := awsevents.NewRule(stack, jsii.String(id), &awsevents.RuleProps{
			EventBus:     from,
			Description:  jsii.String("s3xguard: alerts and alarm state changes to the organization's central bus"),
			EventPattern: &awsevents.EventPattern{Source: jsii.Strings(AlertSource, "aws.cloudwatch")},
		})
		// Both sources in one pattern, the alarms narrowed to this
		// stack's (CloudFormation names them STACK-LOGICALID-SUFFIX).
		rule.Node().DefaultChild().(awsevents.CfnRule).AddPropertyOverride(jsii.String("EventPattern"), central.ForwardPattern(awscdk.Aws_STACK_NAME()))
		rule.AddTarget(awseventstargets.NewEventBus(bus, &awseventstargets.EventBusProps{DeadLetterQueue: undelivered}))
	}
	health := awscloudwatchactions.NewSnsAction(g.HealthTopic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	a := awscloudwatch.NewAlarm(stack, jsii.String("CentralUndeliveredAlarm"), &awscloudwatch.AlarmProps{
		Metric:             undelivered.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		AlarmDescription:   jsii.String("s3xguard could not forward alerts to the organization's central bus for a day: the local pages went out, the central account did not see them"),
	})
	a.AddAlarmAction(health)
	if !cfg.Routing.Enabled() {
		// With routing, health.go already alarms on it.
		awscloudwatch.NewAlarm(stack, jsii.String("BusFailedAlarm"), &awscloudwatch.AlarmProps{
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String(metricNamespace), MetricName: jsii.String("BusFailed"),
				DimensionsMap: &map[string]*string{breakerDim: jsii.String(cfg.ResponseMode)},
				Statistic:     jsii.String("Sum"), Period: five,
			}),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String("s3xguard alerts were paged but not put on the account's default bus: the organization's central account missed them (see the function's log)"),
		}).AddAlarmAction(health)
	}
	awscdk.NewCfnOutput(stack, jsii.String("CentralUndeliveredUrl"), &awscdk.CfnOutputProps{Value: undelivered.QueueUrl()})
}

// doctorActions are the read-only calls `s3xguard doctor` makes.
var doctorActions = []string{
	"lambda:GetFunctionConfiguration", "lambda:ListEventSourceMappings",
	"events:ListRuleNamesByTarget", "events:ListRules", "events:DescribeRule", "events:ListTargetsByRule",
	"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
	"sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic", "sns:GetSMSAttributes",
}

// doctorRole lets the organization account read, never change, what
// doctor checks in this member.
func doctorRole(stack awscdk.Stack, org *Organization) {
	role := awsiam.NewRole(stack, jsii.String("DoctorRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(org.DoctorRoleName),
		AssumedBy:          awsiam.NewAccountPrincipal(jsii.String(org.Account)),
		Description:        jsii.String("s3xguard doctor: read-only checks from the organization's central account"),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"DoctorReads": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
			Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings(doctorActions...),
				Resources: jsii.Strings("*"),
			})},
		})},
	})
	nag(role, "AwsSolutions-IAM5", "The doctor's calls are List/Describe/Get calls that take no resource (ListRules, DescribeTrails, GetSMSAttributes) or look up resources found at run time; all are read-only.")
	awscdk.NewCfnOutput(stack, jsii.String("DoctorRoleArn"), &awscdk.CfnOutputProps{Value: role.RoleArn()})
}

// newCentral is the central account's stack: members put events on its
// bus (allowed for the organization's accounts only); its rules page the
// central topics, and an archive keeps every event a year.
func newCentral(app awscdk.App, cfg *Config, env *awscdk.Environment) *Central {
	org := cfg.Organization
	stack := awscdk.NewStack(app, jsii.String("s3xguard-central"), &awscdk.StackProps{
		Env:         env,
		Description: jsii.String("s3xguard central: the organization's alerts and health pages, and the StackSets that deploy the guard"),
	})
	bus := awsevents.NewEventBus(stack, jsii.String("Bus"), &awsevents.EventBusProps{EventBusName: jsii.String(CentralBusName)})
	bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OrganizationMembersPut"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  jsii.Strings(*bus.EventBusArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": org.ID}},
	}))
	bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		Description:  jsii.String("every s3xguard event of the organization"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(AlertSource, "aws.cloudwatch")},
		Retention:    awscdk.Duration_Days(jsii.Number(365)),
	})
	topic := newTopic(stack, "Alerts", "AlertKey", "s3xguard org", "s3xguard organization alert topic encryption", org.Subscriptions, nil, deployRoles(stack, cfg.CdkQualifier), nil)
	health := newTopic(stack, "Health", "HealthKey", "s3xguard org health", "s3xguard organization health topic encryption", *org.HealthSubscriptions, nil, deployRoles(stack, cfg.CdkQualifier), nil)
	for _, t := range []awssns.Topic{topic, health} {
		t.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CentralRulesPublish"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
			Actions:    jsii.Strings("sns:Publish"),
			Resources:  jsii.Strings(*t.TopicArn()),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": org.Account}},
		}))
	}
	for _, t := range []awssns.Topic{topic, health} {
		t.MasterKey().AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CentralRulesPublish"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": org.Account}},
		}), nil)
	}
	undelivered := awssqs.NewQueue(stack, jsii.String("Undelivered"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag(undelivered, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the central rules' targets.")
	// The page is the member's alert document (which names the guarded
	// account, region and bucket) under the account and region EventBridge
	// stamped on the event: a member can write anything in the document,
	// but not who sent it.
	alerts := awsevents.NewRule(stack, jsii.String("MemberAlerts"), &awsevents.RuleProps{
		EventBus:     bus,
		Description:  jsii.String("s3xguard: every member's alerts to the organization's alert topic"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(AlertSource), DetailType: jsii.Strings(AlertDetailType)},
	})
	alerts.Node().DefaultChild().(awsevents.CfnRule).AddPropertyOverride(jsii.String("EventPattern"), central.AlertPattern())
	alerts.AddTarget(awseventstargets.NewSnsTopic(topic, &awseventstargets.SnsTopicProps{
		Message: awsevents.RuleTargetInput_FromObject(map[string]any{
			"sender": map[string]any{"account": awsevents.EventField_Account(), "region": awsevents.EventField_Region()},
			"alert":  awsevents.EventField_FromPath(jsii.String("$.detail")),
		}),
		DeadLetterQueue: undelivered,
	}))
	healthRule := awsevents.NewRule(stack, jsii.String("MemberAlarms"), &awsevents.RuleProps{
		EventBus:     bus,
		Description:  jsii.String("s3xguard: every member's alarm state changes to the organization's health topic"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings("aws.cloudwatch"), DetailType: jsii.Strings("CloudWatch Alarm State Change")},
	})
	healthRule.AddTarget(awseventstargets.NewSnsTopic(health, &awseventstargets.SnsTopicProps{
		Message: awsevents.RuleTargetInput_FromText(jsii.String(fmt.Sprintf("s3xguard alarm %s is %s in account %s, region %s: %s",
			*awsevents.EventField_FromPath(jsii.String("$.detail.alarmName")), *awsevents.EventField_FromPath(jsii.String("$.detail.state.value")),
			*awsevents.EventField_Account(), *awsevents.EventField_Region(), *awsevents.EventField_FromPath(jsii.String("$.detail.state.reason"))))),
		DeadLetterQueue: undelivered,
	}))
	awscloudwatch.NewAlarm(stack, jsii.String("UndeliveredAlarm"), &awscloudwatch.AlarmProps{
		Metric:             undelivered.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		AlarmDescription:   jsii.String("members' s3xguard events the central rules could not deliver to their topic"),
	}).AddAlarmAction(awscloudwatchactions.NewSnsAction(health))
	// Findings stay in each member's own hub (the function imports into
	// its account's default product); the security account sees them as
	// Security Hub's delegated administrator, and this aggregator links
	// the other guarded regions into the home region. The administrator
	// is designated from the management account (infra/README.md).
	if cfg.Findings == "securityhub" {
		var linked []string
		for _, r := range org.Regions {
			if r != org.Region {
				linked = append(linked, r)
			}
		}
		if len(linked) > 0 {
			awssecurityhub.NewCfnFindingAggregator(stack, jsii.String("FindingAggregator"), &awssecurityhub.CfnFindingAggregatorProps{
				RegionLinkingMode: jsii.String("SPECIFIED_REGIONS"),
				Regions:           jsii.Strings(linked...),
			})
		}
	}
	awscdk.NewCfnOutput(stack, jsii.String("CentralBusArn"), &awscdk.CfnOutputProps{Value: bus.EventBusArn()})
	awscdk.NewCfnOutput(stack, jsii.String("CentralAlertTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn()})
	awscdk.NewCfnOutput(stack, jsii.String("CentralHealthTopicArn"), &awscdk.CfnOutputProps{Value: health.TopicArn()})
	return &Central{Stack: stack, Bus: bus, Topic: topic, HealthTopic: health, AlertRule: alerts, HealthRule: healthRule}
}

// assetsStack holds, in one region of the organization account, the
// bucket members of that region read their function code from. Members'
// StackSet execution roles read it under a bucket policy conditioned on
// the organization ID; Lambda fetches the code with the permissions of
// the principal that creates the function.
func assetsStack(app awscdk.App, org *Organization, env *awscdk.Environment, staging string) awscdk.Stack {
	stack := awscdk.NewStack(app, jsii.String("s3xguard-assets-"+*env.Region), &awscdk.StackProps{
		Env:         env,
		Description: jsii.String("s3xguard: function code (and StackSet templates) for the organization's members in this region"),
	})
	bucket := awss3.NewBucket(stack, jsii.String("Assets"), &awss3.BucketProps{
		BucketName:        jsii.String(AssetsBucketName(org.Account, *env.Region)),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	nag(bucket, "AwsSolutions-S1", "The bucket holds build artifacts written only by this stack's deployment; CloudTrail records who reads them.")
	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OrganizationReadsFunctionCode"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
		Resources:  jsii.Strings(*bucket.BucketArn() + "/function/*"),
		// Lambda fetches the code with the credentials of the caller that
		// creates or updates the function ("make sure your request
		// credentials have permission to GetObject", its error says): in
		// a member, the StackSet execution role. Naming it keeps the
		// bundled allowlist from every other principal of the organization.
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:PrincipalOrgID": org.ID},
			"ArnLike":      map[string]any{"aws:PrincipalArn": "arn:*:iam::*:role/stacksets-exec-*"},
		},
	}))
	awss3deployment.NewBucketDeployment(stack, jsii.String("Upload"), &awss3deployment.BucketDeploymentProps{
		Sources:           &[]awss3deployment.ISource{awss3deployment.Source_Asset(jsii.String(staging), nil)},
		DestinationBucket: bucket,
		// Old keys stay: members not yet updated still point at them.
		Prune:          jsii.Bool(false),
		RetainOnDelete: jsii.Bool(true),
	})
	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("CDK's BucketDeployment function uses AWSLambdaBasicExecutionRole for its logs.")},
		{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String("CDK's BucketDeployment function copies the staged assets from the CDK assets bucket (object keys known at deploy time only) into this bucket.")},
		{Id: jsii.String("AwsSolutions-L1"), Reason: jsii.String("The runtime of CDK's BucketDeployment function is chosen by the CDK release.")},
	}, jsii.Bool(true))
	return stack
}

// stackSet deploys one member template with service-managed permissions:
// to every account of the organizational units in the config's regions
// (and automatically to accounts that join them), minus the accounts a
// target overrides there; or, for a target, to its one account and
// region.
func stackSet(stack awscdk.Stack, cfg *Config, m member, templateURL string) awscloudformation.CfnStackSet {
	org := cfg.Organization
	var groups []any
	if m.target.Account == "" {
		byRegion := map[string][]string{}
		for _, t := range cfg.Targets {
			byRegion[t.Region] = append(byRegion[t.Region], t.Account)
		}
		for _, r := range org.Regions {
			dt := &awscloudformation.CfnStackSet_DeploymentTargetsProperty{OrganizationalUnitIds: jsii.Strings(org.OrganizationalUnits...)}
			if except := byRegion[r]; len(except) > 0 {
				sort.Strings(except)
				dt.Accounts, dt.AccountFilterType = jsii.Strings(except...), jsii.String("DIFFERENCE")
			}
			groups = append(groups, &awscloudformation.CfnStackSet_StackInstancesProperty{DeploymentTargets: dt, Regions: jsii.Strings(r)})
		}
	} else {
		groups = append(groups, &awscloudformation.CfnStackSet_StackInstancesProperty{
			DeploymentTargets: &awscloudformation.CfnStackSet_DeploymentTargetsProperty{
				OrganizationalUnitIds: jsii.Strings(org.OrganizationalUnits...),
				Accounts:              jsii.Strings(m.target.Account),
				AccountFilterType:     jsii.String("INTERSECTION"),
			},
			Regions: jsii.Strings(m.target.Region),
		})
	}
	id := "StackSet" + strings.NewReplacer("-", "", "s3xguard", "").Replace(m.name)
	return awscloudformation.NewCfnStackSet(stack, jsii.String(id), &awscloudformation.CfnStackSetProps{
		StackSetName:    jsii.String(m.name),
		Description:     jsii.String("s3xguard member stacks, one per account and region"),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		CallAs:          jsii.String(org.CallAs),
		AutoDeployment: &awscloudformation.CfnStackSet_AutoDeploymentProperty{
			Enabled:                      jsii.Bool(true),
			RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		Capabilities:     jsii.Strings("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"),
		ManagedExecution: map[string]any{"Active": true},
		OperationPreferences: &awscloudformation.CfnStackSet_OperationPreferencesProperty{
			RegionConcurrencyType:      jsii.String("PARALLEL"),
			MaxConcurrentPercentage:    jsii.Number(25),
			FailureTolerancePercentage: jsii.Number(10),
		},
		StackInstancesGroup: groups,
		TemplateUrl:         jsii.String(templateURL),
	})
}

// zipFunction writes the function's bundle as function/SHA256.zip under
// staging, byte for byte the same for the same files (fixed times, sorted
// names), and returns its key.
func zipFunction(dir, staging string) (string, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"allowlist.yaml", "bootstrap"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("zip function: %w", err)
		}
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		mode := os.FileMode(0o644)
		if name == "bootstrap" {
			mode = 0o755
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = w.Write(data)
		}
		if err != nil {
			return "", fmt.Errorf("zip function %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("zip function: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	key := "function/" + hex.EncodeToString(sum[:]) + ".zip"
	return key, writeStaged(staging, key, buf.Bytes())
}

// writeStaged writes data as the object key of the assets buckets.
func writeStaged(staging, key string, data []byte) error {
	path := filepath.Join(staging, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("stage %s: %w", key, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("stage %s: %w", key, err)
	}
	return nil
}

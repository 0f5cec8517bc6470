// Package doctor checks, read-only, that a live account feeds s3xguard
// every S3 Express event it should: a trail logs the data events of every
// guarded bucket and is logging, the EventBridge rule exists, is enabled,
// has the pattern s3xguard generates and the function as target, the
// function guards the buckets it should, and its alert topic is reachable
// with confirmed subscriptions (and an SMS spend limit where SMS is used).
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/s3xguard/s3xguard/rules"
)

// Status is a finding's verdict.
type Status string

// The three statuses, in order of gravity.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Finding is one line of the report.
type Finding struct {
	Status Status `json:"status"`
	// Check names what was checked: function, allowlist, rule, target,
	// trail, topic, subscriptions, sms.
	Check   string `json:"check"`
	Message string `json:"message"`
	// Fix says what to do (warn and fail only).
	Fix string `json:"fix,omitempty"`
}

// Clients are the AWS APIs doctor reads; the SDK's clients satisfy them.
type Clients struct {
	Lambda     LambdaAPI
	Events     EventsAPI
	CloudTrail CloudTrailAPI
	SNS        SNSAPI
}

// LambdaAPI is the part of the Lambda API doctor calls.
type LambdaAPI interface {
	GetFunctionConfiguration(context.Context, *lambda.GetFunctionConfigurationInput, ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	ListEventSourceMappings(context.Context, *lambda.ListEventSourceMappingsInput, ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
}

// EventsAPI is the part of the EventBridge API doctor calls.
type EventsAPI interface {
	ListRuleNamesByTarget(context.Context, *eventbridge.ListRuleNamesByTargetInput, ...func(*eventbridge.Options)) (*eventbridge.ListRuleNamesByTargetOutput, error)
	DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	ListTargetsByRule(context.Context, *eventbridge.ListTargetsByRuleInput, ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

// CloudTrailAPI is the part of the CloudTrail API doctor calls.
type CloudTrailAPI interface {
	DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error)
	GetEventSelectors(context.Context, *cloudtrail.GetEventSelectorsInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetEventSelectorsOutput, error)
	GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
}

// SNSAPI is the part of the SNS API doctor calls.
type SNSAPI interface {
	GetTopicAttributes(context.Context, *sns.GetTopicAttributesInput, ...func(*sns.Options)) (*sns.GetTopicAttributesOutput, error)
	ListSubscriptionsByTopic(context.Context, *sns.ListSubscriptionsByTopicInput, ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error)
	GetSMSAttributes(context.Context, *sns.GetSMSAttributesInput, ...func(*sns.Options)) (*sns.GetSMSAttributesOutput, error)
}

// Config names the deployment to check.
type Config struct {
	// Function is the s3xguard function's name or ARN (required).
	Function string
	// Buckets the deployment guards; empty: the function's GUARDED_BUCKETS.
	Buckets []string
	// Rule is the EventBridge rule's name; empty: the rule whose target is
	// the function, or the queue the function reads.
	Rule string
	// Allowlist is a local allowlist file, and AllowlistSHA256 its hash
	// (config.AllowlistDigest): the function's ALLOWLIST_SHA256 should be
	// it. Empty: not checked.
	Allowlist, AllowlistSHA256 string
	// SCP is the containment service control policy attached to the
	// account (ContainmentSCP), read from SCPFile; nil: not checked, and a
	// warning when REVOKE_SESSIONS is on.
	SCP     []byte
	SCPFile string
}

// Run checks the deployment and returns its findings, in the order of the
// event's path: function, rule, trail, topic.
func Run(ctx context.Context, c Clients, cfg Config) []Finding {
	var out []Finding
	add := func(s Status, check, msg, fix string) { out = append(out, Finding{s, check, msg, fix}) }

	fn, err := c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &cfg.Function})
	if err != nil {
		add(Fail, "function", fmt.Sprintf("function %s: %v", cfg.Function, err), "deploy the stack, or pass the deployed function's name with --function")
		return out
	}
	env := map[string]string{}
	if fn.Environment != nil {
		env = fn.Environment.Variables
	}
	fnARN := aws.ToString(fn.FunctionArn)
	guarded := guardedList(env["GUARDED_BUCKETS"])
	switch {
	case env["ALERT_TOPIC_ARN"] == "":
		add(Fail, "function", fmt.Sprintf("function %s has no ALERT_TOPIC_ARN: it is not an s3xguard function", fnARN), "pass the s3xguard function's name with --function")
		return out
	case cfg.Buckets != nil && !slices.Equal(sorted(cfg.Buckets), sorted(guarded)):
		add(Fail, "function", fmt.Sprintf("function %s guards %s, not %s", fnARN, show(guarded), show(cfg.Buckets)), "redeploy with the buckets to guard in the config's \"buckets\"")
	default:
		add(OK, "function", fmt.Sprintf("function %s: %s mode, guards %s", fnARN, or(env["RESPONSE_MODE"], "alert"), show(guarded)), "")
	}
	buckets := guarded
	if cfg.Buckets != nil {
		buckets = cfg.Buckets
	}

	out = append(out, checkAllowlist(cfg, fnARN, env["ALLOWLIST_SHA256"]))
	if f := checkContainment(cfg, fnARN, aws.ToString(fn.Role), env); f != nil {
		out = append(out, *f)
	}
	out = append(out, checkRule(ctx, c, cfg, fnARN, buckets)...)
	out = append(out, checkTrails(ctx, c, fnARN, buckets)...)
	out = append(out, checkTopic(ctx, c, env["ALERT_TOPIC_ARN"])...)
	return out
}

// checkAllowlist reports the allowlist the function is pinned to, and
// compares it with a local allowlist's hash when one is given. The stack
// links the bundled allowlist's digest into the bootstrap and records it
// in ALLOWLIST_SHA256; the function refuses to start when the two differ
// or when its bootstrap has none, so a function that runs has the digest
// its configuration shows.
func checkAllowlist(cfg Config, fnARN, deployed string) Finding {
	f := Finding{Check: "allowlist"}
	switch {
	case deployed == "":
		f.Status = Warn
		f.Message = fmt.Sprintf("function %s has no ALLOWLIST_SHA256: which allowlist it runs cannot be told from here (its bootstrap is pinned only if built by this version of the stack)", fnARN)
		f.Fix = "redeploy with this version of the stack, which links the bundled allowlist's digest into the bootstrap and records it"
	case cfg.AllowlistSHA256 == "":
		f.Status = OK
		f.Message = fmt.Sprintf("function %s is pinned to the allowlist with SHA-256 %s (linked into its bootstrap; it refuses to start on any other)", fnARN, deployed)
	case !strings.EqualFold(deployed, cfg.AllowlistSHA256):
		f.Status = Fail
		f.Message = fmt.Sprintf("function %s runs an allowlist with SHA-256 %s; %s has %s", fnARN, deployed, cfg.Allowlist, cfg.AllowlistSHA256)
		f.Fix = fmt.Sprintf("deploy %s (cdk deploy), or find the allowlist that was deployed", cfg.Allowlist)
	default:
		f.Status = OK
		f.Message = fmt.Sprintf("function %s runs %s (SHA-256 %s)", fnARN, cfg.Allowlist, deployed)
	}
	return f
}

// checkRule finds the rule that feeds the function (directly, or through
// the SQS queue it reads) and compares it with what the stack deploys.
func checkRule(ctx context.Context, c Clients, cfg Config, fnARN string, buckets []string) []Finding {
	targets := []string{fnARN}
	maps, err := c.Lambda.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: &fnARN})
	if err == nil {
		for _, m := range maps.EventSourceMappings {
			if a := aws.ToString(m.EventSourceArn); strings.HasPrefix(a, "arn:") && strings.Contains(a, ":sqs:") {
				targets = append(targets, a)
			}
		}
	}
	names := []string{}
	if cfg.Rule != "" {
		names = append(names, cfg.Rule)
	} else {
		for _, t := range targets {
			var next *string
			for {
				r, err := c.Events.ListRuleNamesByTarget(ctx, &eventbridge.ListRuleNamesByTargetInput{TargetArn: aws.String(t), NextToken: next})
				if err != nil {
					return []Finding{{Fail, "rule", fmt.Sprintf("rules targeting %s: %v", t, err), "check the credentials allow events:ListRuleNamesByTarget"}}
				}
				names = append(names, r.RuleNames...)
				if next = r.NextToken; next == nil {
					break
				}
			}
		}
	}
	want, err := rules.EventPattern(buckets)
	if err != nil {
		return []Finding{{Fail, "rule", fmt.Sprintf("pattern for %s: %v", show(buckets), err), "fix the bucket list"}}
	}
	var out []Finding
	found := false
	for _, name := range names {
		r, err := c.Events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
		if err != nil {
			out = append(out, Finding{Fail, "rule", fmt.Sprintf("rule %s: %v", name, err), "deploy the stack, or name the rule with --rule"})
			continue
		}
		if r.EventPattern == nil {
			continue // the sweep's schedule
		}
		found = true
		var problems, fixes []string
		// EventBridge user guide, "Receiving read-only management events
		// from AWS services": ENABLED matches all but read-only management
		// events; ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS matches those too.
		if r.State != ebtypes.RuleStateEnabled && r.State != ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents {
			problems = append(problems, fmt.Sprintf("state %s", r.State))
			fixes = append(fixes, "aws events enable-rule --name "+name)
		}
		if bus := aws.ToString(r.EventBusName); bus != "" && bus != "default" {
			// FACTS §1: CloudTrail events reach the default bus only.
			problems = append(problems, fmt.Sprintf("on bus %s (CloudTrail events reach the default bus only)", bus))
			fixes = append(fixes, "redeploy the stack (its rule is on the default bus)")
		}
		pattern, account := splitAccount(aws.ToString(r.EventPattern))
		if !sameJSON(pattern, string(want)) {
			problems = append(problems, "its pattern is not the one s3xguard generates for "+show(buckets))
			fixes = append(fixes, "redeploy the stack (its rule has the pattern of rules.EventPattern)")
		}
		// The stack narrows the pattern to the account it guards.
		fnAccount := arnAccount(fnARN)
		var accountWarning string
		switch {
		case account == nil:
			accountWarning = fmt.Sprintf("rule %s has no account filter: events other accounts send to the bus reach the function (alerted as forged)", name)
		case !slices.Equal(account, []string{fnAccount}):
			problems = append(problems, fmt.Sprintf("its pattern's account is %v, not the function's [%s]", account, fnAccount))
			fixes = append(fixes, "redeploy the stack (its rule matches the guarded account only)")
		}
		switch {
		case len(problems) > 0:
			out = append(out, Finding{Fail, "rule", fmt.Sprintf("rule %s: %s", name, strings.Join(problems, "; ")), strings.Join(fixes, "; ")})
		case accountWarning != "":
			out = append(out, Finding{Warn, "rule", accountWarning, "redeploy with this version of the stack, whose rule matches the guarded account only"})
		default:
			seen := "enabled (read-only management events such as GetBucketPolicy are not matched in this state)"
			if r.State == ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents {
				seen = "enabled with all CloudTrail management events"
			}
			out = append(out, Finding{OK, "rule", fmt.Sprintf("rule %s: %s, on the default bus, with s3xguard's pattern", name, seen), ""})
		}
		ts, err := c.Events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
		if err != nil {
			out = append(out, Finding{Fail, "target", fmt.Sprintf("targets of rule %s: %v", name, err), "check the credentials allow events:ListTargetsByRule"})
			continue
		}
		hit := ""
		for _, t := range ts.Targets {
			if slices.Contains(targets, aws.ToString(t.Arn)) {
				hit = aws.ToString(t.Arn)
			}
		}
		if hit == "" {
			out = append(out, Finding{Fail, "target", fmt.Sprintf("rule %s does not target the function or its queue", name), "redeploy the stack"})
		} else {
			out = append(out, Finding{OK, "target", fmt.Sprintf("rule %s targets %s", name, hit), ""})
		}
	}
	if !found {
		out = append(out, Finding{Fail, "rule", "no EventBridge rule with an event pattern sends events to the function", "deploy the stack, or name the rule with --rule"})
	}
	return out
}

// checkTrails looks for a trail whose advanced event selectors log the S3
// Express data events of every guarded bucket, probing each bucket with the
// record shapes the logs show: an object call with the object ARN in both
// forms, and CreateSession on the bucket's ARN in both forms.
func checkTrails(ctx context.Context, c Clients, fnARN string, buckets []string) []Finding {
	partition, region, account := arnParts(fnARN)
	probeBuckets := buckets
	if len(probeBuckets) == 0 {
		// Guarding all: a trail limited to some buckets does not do.
		probeBuckets = []string{"any-bucket--use1-az4--x-s3"}
	}
	trails, err := c.CloudTrail.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return []Finding{{Fail, "trail", fmt.Sprintf("trails: %v", err), "check the credentials allow cloudtrail:DescribeTrails"}}
	}
	var out []Finding
	covered := map[string]bool{}
	mgmtBy := "" // a logging trail that logs S3 Express management write events
	for _, t := range trails.TrailList {
		name := aws.ToString(t.TrailARN)
		if name == "" {
			name = aws.ToString(t.Name)
		}
		sel, err := c.CloudTrail.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String(name)})
		if err != nil {
			out = append(out, Finding{Warn, "trail", fmt.Sprintf("trail %s: selectors: %v", name, err), "check the credentials allow cloudtrail:GetEventSelectors"})
			continue
		}
		sels := selectorsOf(sel.AdvancedEventSelectors)
		mgmt := logsManagement(sel, sels)
		var logged, missed []string
		for _, b := range probeBuckets {
			var miss []string
			ps := probes(partition, region, account, b)
			for _, p := range ps {
				if !Logs(sels, &p.rec) {
					miss = append(miss, p.name)
				}
			}
			if len(miss) == 0 {
				logged = append(logged, b)
			} else if len(miss) < len(ps) {
				missed = append(missed, fmt.Sprintf("%s (not: %s)", b, strings.Join(miss, ", ")))
			}
		}
		if len(logged) == 0 && len(missed) == 0 && !mgmt {
			continue // a trail for other things
		}
		st, err := c.CloudTrail.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(name)})
		switch {
		case err != nil:
			out = append(out, Finding{Warn, "trail", fmt.Sprintf("trail %s: status: %v", name, err), "check the credentials allow cloudtrail:GetTrailStatus"})
		case !aws.ToBool(st.IsLogging):
			if len(logged) > 0 || len(missed) > 0 {
				out = append(out, Finding{Fail, "trail", fmt.Sprintf("trail %s selects S3 Express data events but is not logging", name), "aws cloudtrail start-logging --name " + name})
			}
			continue
		}
		if mgmt && mgmtBy == "" {
			mgmtBy = name
		}
		for _, b := range logged {
			covered[b] = true
		}
		if len(missed) > 0 {
			out = append(out, Finding{Warn, "trail", fmt.Sprintf("trail %s logs only some S3 Express data events of %s", name, strings.Join(missed, "; ")),
				"name each bucket's ARN in both forms, …:bucket/NAME and …:NAME, with Equals and StartsWith NAME/ (what the stack's trail does)"})
		}
		if len(logged) > 0 {
			out = append(out, Finding{OK, "trail", fmt.Sprintf("trail %s is logging the S3 Express data events of %s", name, show(logged)), ""})
		}
	}
	// EventBridge user guide, "AWS service events delivered via AWS
	// CloudTrail": events of detail-type "AWS API Call via CloudTrail" need
	// a trail with logging enabled, management events included; the stack's
	// own trail logs data events only.
	if mgmtBy == "" {
		out = append(out, Finding{Fail, "trail", "no logging trail logs S3 Express management write events (PutBucketPolicy, CreateBucket, DeleteBucket...): the rule never sees them",
			"log management events (read and write, or write) in a trail of the account or the organization"})
	} else {
		out = append(out, Finding{OK, "trail", fmt.Sprintf("trail %s is logging S3 Express management write events", mgmtBy), ""})
	}
	var bare []string
	for _, b := range probeBuckets {
		if !covered[b] {
			bare = append(bare, b)
		}
	}
	if len(bare) > 0 {
		what := "buckets " + strings.Join(bare, ", ")
		if len(buckets) == 0 {
			what = "every bucket (the function guards all)"
		}
		out = append(out, Finding{Fail, "trail", "no logging trail logs all S3 Express data events of " + what + ": object calls and CreateSession never reach EventBridge",
			"deploy with \"createTrail\": true, or add an advanced event selector (eventCategory Data, resources.type AWS::S3Express::Object) to a trail"})
	}
	return out
}

// logsManagement reports whether a trail's selectors log a management
// write event of S3 Express (PutBucketPolicy): advanced selectors when the
// trail has them, else basic ones (IncludeManagementEvents, ReadWriteType
// All or WriteOnly, s3express not in ExcludeManagementEventSources).
func logsManagement(sel *cloudtrail.GetEventSelectorsOutput, advanced []Selector) bool {
	if len(advanced) > 0 {
		return Logs(advanced, &Record{EventCategory: "Management", EventName: "PutBucketPolicy", EventSource: "s3express.amazonaws.com", EventType: "AwsApiCall"})
	}
	for _, e := range sel.EventSelectors {
		if aws.ToBool(e.IncludeManagementEvents) && e.ReadWriteType != cttypes.ReadWriteTypeReadOnly &&
			!slices.Contains(e.ExcludeManagementEventSources, "s3express.amazonaws.com") {
			return true
		}
	}
	return false
}

type probe struct {
	name string
	rec  Record
}

// probes are the records of one bucket a trail must log.
func probes(partition, region, account, bucket string) []probe {
	base := fmt.Sprintf("arn:%s:s3express:%s:%s:", partition, region, account)
	mk := func(name, event, arn string) probe {
		return probe{name, Record{EventCategory: "Data", EventName: event, EventSource: "s3express.amazonaws.com", EventType: "AwsApiCall",
			Resources: []Resource{{Type: "AWS::S3Express::Object", ARNPrefix: arn}, {Type: "AWS::S3Express::DirectoryBucket", ARN: base + "bucket/" + bucket}}}}
	}
	return []probe{
		mk("PutObject …:bucket/NAME/KEY", "PutObject", base+"bucket/"+bucket+"/doctor/probe"),
		mk("PutObject …:NAME/KEY", "PutObject", base+bucket+"/doctor/probe"),
		mk("CreateSession …:bucket/NAME", "CreateSession", base+"bucket/"+bucket),
		mk("CreateSession …:NAME", "CreateSession", base+bucket),
	}
}

// checkTopic: the alert topic answers, has confirmed subscriptions, and
// where SMS is used, a monthly SMS spend limit above the default.
func checkTopic(ctx context.Context, c Clients, topic string) []Finding {
	if _, err := c.SNS.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &topic}); err != nil {
		return []Finding{{Fail, "topic", fmt.Sprintf("alert topic %s: %v", topic, err), "redeploy the stack; check the credentials allow sns:GetTopicAttributes"}}
	}
	out := []Finding{{OK, "topic", "alert topic " + topic + " answers", ""}}
	var confirmed, pending []string
	sms := false
	var next *string
	for {
		page, err := c.SNS.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: &topic, NextToken: next})
		if err != nil {
			return append(out, Finding{Fail, "subscriptions", fmt.Sprintf("subscriptions of %s: %v", topic, err), "check the credentials allow sns:ListSubscriptionsByTopic"})
		}
		for _, s := range page.Subscriptions {
			who := aws.ToString(s.Protocol) + ":" + aws.ToString(s.Endpoint)
			if aws.ToString(s.Protocol) == "sms" {
				sms = true
			}
			if a := aws.ToString(s.SubscriptionArn); a == "PendingConfirmation" || !strings.HasPrefix(a, "arn:") {
				pending = append(pending, who)
			} else {
				confirmed = append(confirmed, who)
			}
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	switch {
	case len(confirmed) == 0:
		out = append(out, Finding{Fail, "subscriptions", fmt.Sprintf("no confirmed subscription on %s (%d pending): nobody is paged", topic, len(pending)), "add subscriptions in the config's \"subscriptions\" and confirm them (email: the link AWS sends)"})
	case len(pending) > 0:
		out = append(out, Finding{Warn, "subscriptions", fmt.Sprintf("%d confirmed, %d pending confirmation: %s", len(confirmed), len(pending), strings.Join(pending, ", ")), "confirm them (email: the link AWS sends)"})
	default:
		out = append(out, Finding{OK, "subscriptions", fmt.Sprintf("%d confirmed: %s", len(confirmed), strings.Join(confirmed, ", ")), ""})
	}
	if sms {
		a, err := c.SNS.GetSMSAttributes(ctx, &sns.GetSMSAttributesInput{Attributes: []string{"MonthlySpendLimit"}})
		limit := ""
		if err == nil {
			limit = a.Attributes["MonthlySpendLimit"]
		}
		// SNS's default SMS spend limit is 1 USD a month; past it SNS stops
		// sending SMS (Amazon SNS developer guide, "Setting SMS messaging
		// preferences").
		switch {
		case err != nil:
			out = append(out, Finding{Warn, "sms", fmt.Sprintf("SMS attributes: %v", err), "check the credentials allow sns:GetSMSAttributes"})
		case limit == "" || limit == "1":
			out = append(out, Finding{Warn, "sms", "SMS subscriptions, and the monthly SMS spend limit is the default (1 USD): pages stop when it is spent", "raise it: aws sns set-sms-attributes --attributes MonthlySpendLimit=N (and the account's SMS quota)"})
		default:
			out = append(out, Finding{OK, "sms", "monthly SMS spend limit " + limit + " USD", ""})
		}
	}
	return out
}

// selectorsOf converts the API's selectors.
func selectorsOf(in []cttypes.AdvancedEventSelector) []Selector {
	out := make([]Selector, len(in))
	for i, s := range in {
		out[i].Name = aws.ToString(s.Name)
		for _, f := range s.FieldSelectors {
			out[i].FieldSelectors = append(out[i].FieldSelectors, FieldSelector{
				Field: aws.ToString(f.Field), Equals: f.Equals, StartsWith: f.StartsWith, EndsWith: f.EndsWith,
				NotEquals: f.NotEquals, NotStartsWith: f.NotStartsWith, NotEndsWith: f.NotEndsWith,
			})
		}
	}
	return out
}

// arnParts returns the partition, region and account of an ARN.
func arnParts(arn string) (partition, region, account string) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 5 {
		return "aws", "", ""
	}
	return p[1], p[3], p[4]
}

func guardedList(v string) []string {
	if v == "" || v == "*" {
		return nil
	}
	return strings.Split(v, ",")
}

func sorted(l []string) []string {
	c := slices.Clone(l)
	slices.Sort(c)
	return c
}

func show(buckets []string) string {
	if len(buckets) == 0 {
		return "every bucket"
	}
	return strings.Join(buckets, ", ")
}

func or(v, dflt string) string {
	if v == "" {
		return dflt
	}
	return v
}

// splitAccount takes the account filter out of an event pattern: the
// pattern without it, and its values (nil when there is none, or it is not
// a list of strings).
func splitAccount(pattern string) (string, []string) {
	var m map[string]any
	if json.Unmarshal([]byte(pattern), &m) != nil {
		return pattern, nil
	}
	raw, ok := m["account"]
	if !ok {
		return pattern, nil
	}
	delete(m, "account")
	rest, _ := json.Marshal(m)
	var account []string
	list, _ := raw.([]any)
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return string(rest), []string{fmt.Sprint(raw)}
		}
		account = append(account, s)
	}
	if account == nil {
		account = []string{fmt.Sprint(raw)}
	}
	return string(rest), account
}

// arnAccount is the account field of an ARN.
func arnAccount(arn string) string {
	if f := strings.SplitN(arn, ":", 6); len(f) == 6 {
		return f[4]
	}
	return ""
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

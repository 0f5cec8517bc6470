package stack

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Routing sends alerts beyond the alert topic, all through the alert bus
// (ALERT_BUS): EventBridge rules with input transformers shape the
// s3xguard events for each tool, and EventBridge delivers (retries for 24
// hours): the function holds no HTTP client, no tool's credentials.
type Routing struct {
	// Bus alone creates the bus (for an organization's central account
	// to consume); any route below implies it.
	Bus bool `json:"bus"`
	// Chat creates a topic for Amazon Q Developer in chat applications
	// (AWS Chatbot), fed the custom-notification payload of each event.
	Chat *ChatRoute `json:"chat"`
	// PagerDuty triggers through Events API v2 (dedup_key: the alert's
	// dedupKey) and resolves when the quarantine is released or expires.
	PagerDuty *PagerDutyRoute `json:"pagerDuty"`
	Webhooks  []Webhook       `json:"webhooks"`
}

// ChatRoute is the chat topic's filter.
type ChatRoute struct {
	// MinSeverity: low (default), medium, high or critical.
	MinSeverity string `json:"minSeverity"`
}

// PagerDutyRoute is one PagerDuty service integration (Events API v2).
type PagerDutyRoute struct {
	// RoutingKey is the integration key (32 characters), or a CloudFormation
	// dynamic reference to one ({{resolve:secretsmanager:...}}). It is part
	// of the rule target's body, readable with events:ListTargetsByRule; it
	// can only open and resolve incidents of that service.
	RoutingKey  string `json:"routingKey"`
	MinSeverity string `json:"minSeverity"`
}

// Webhook is one HTTPS endpoint reached through an API destination.
type Webhook struct {
	// Name is the resources' ID part: letters and digits.
	Name string `json:"name"`
	// Format: slack (an incoming webhook), opsgenie (the Alert API: create,
	// and close on release) or document (the alert's JSON document as is).
	Format string `json:"format"`
	// URL is the endpoint: the Slack incoming webhook URL; for opsgenie the
	// API's base (https://api.opsgenie.com or https://api.eu.opsgenie.com).
	URL string `json:"url"`
	// APIKey is a dynamic reference ({{resolve:secretsmanager:...}}) to
	// the key sent as the Authorization header: "GenieKey KEY" for
	// opsgenie. Slack's webhook URL is its own secret and takes none.
	APIKey      string `json:"apiKey"`
	MinSeverity string `json:"minSeverity"`
}

// severities in the order of alert.Severity; a route takes its minimum
// and those above.
var severities = []string{"low", "medium", "high", "critical"}

// pagerDutySeverity maps s3xguard's severities to Events API v2's.
var pagerDutySeverity = map[string]string{"low": "info", "medium": "warning", "high": "error", "critical": "critical"}

// opsgeniePriority maps them to Opsgenie's P1 (highest) to P5.
var opsgeniePriority = map[string]string{"low": "P4", "medium": "P3", "high": "P2", "critical": "P1"}

// The bus event contract (lambda/handler/bus.go).
const (
	busSource         = "s3xguard"
	detailTypeAlert   = "s3xguard alert"
	detailTypeRelease = "s3xguard quarantine released"
)

// Enabled reports whether the stack needs the alert bus.
func (r *Routing) Enabled() bool {
	return r != nil && (r.Bus || r.Chat != nil || r.PagerDuty != nil || len(r.Webhooks) > 0)
}

func (r *Routing) validate(bad func(string, any, string)) {
	if r == nil {
		return
	}
	sev := func(field string, s *string) {
		if *s == "" {
			*s = "low"
		} else if !slices.Contains(severities, *s) {
			bad(field, fmt.Sprintf("%q", *s), "want low, medium, high or critical")
		}
	}
	if r.Chat != nil {
		sev("routing.chat.minSeverity", &r.Chat.MinSeverity)
	}
	if p := r.PagerDuty; p != nil {
		sev("routing.pagerDuty.minSeverity", &p.MinSeverity)
		if !isDynamicRef(p.RoutingKey) && (len(p.RoutingKey) != 32 || strings.Trim(p.RoutingKey, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "") {
			bad("routing.pagerDuty.routingKey", "(hidden)", "want the integration's 32-character Events API v2 routing key, or {{resolve:secretsmanager:...}}")
		}
	}
	names := map[string]bool{}
	for i, w := range r.Webhooks {
		f := fmt.Sprintf("routing.webhooks[%d]", i)
		sev(f+".minSeverity", &r.Webhooks[i].MinSeverity)
		if w.Name == "" || strings.Trim(w.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" || len(w.Name) > 32 || names[w.Name] {
			bad(f+".name", fmt.Sprintf("%q", w.Name), "want a unique name of 1 to 32 letters and digits")
		}
		names[w.Name] = true
		if u, err := url.Parse(w.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(f+".url", fmt.Sprintf("%q", redactURL(w.URL)), "want an https:// URL")
		}
		switch w.Format {
		case "slack", "document":
			if w.APIKey != "" && !isDynamicRef(w.APIKey) {
				bad(f+".apiKey", "(hidden)", "want {{resolve:secretsmanager:...}}: never a key in the config file")
			}
		case "opsgenie":
			if !isDynamicRef(w.APIKey) {
				bad(f+".apiKey", "(hidden)", "want {{resolve:secretsmanager:...}} holding \"GenieKey KEY\": Opsgenie's Alert API needs it, and never in the config file")
			}
		default:
			bad(f+".format", fmt.Sprintf("%q", w.Format), "want slack, opsgenie or document")
		}
	}
}

func isDynamicRef(s string) bool {
	return strings.HasPrefix(s, "{{resolve:secretsmanager:") && strings.HasSuffix(s, "}}")
}

// redactURL keeps a webhook URL's secret path out of error messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/..."
	}
	return "(not a URL)"
}

// neverConfirms are HTTPS endpoints that take a POST but never confirm an
// SNS subscription (they do not fetch SubscribeURL): subscribed to a
// topic, they would stay "pending confirmation" and page nobody.
var neverConfirms = []string{"hooks.slack.com", "webhook.office.com", "outlook.office.com", "discord.com",
	"discordapp.com", "api.opsgenie.com", "api.eu.opsgenie.com", "events.pagerduty.com", "events.eu.pagerduty.com", "chat.googleapis.com"}

// neverConfirmingHost returns the host of u when it is one of those.
func neverConfirmingHost(u *url.URL) string {
	h := strings.ToLower(u.Hostname())
	for _, n := range neverConfirms {
		if h == n || strings.HasSuffix(h, "."+n) {
			return n
		}
	}
	return ""
}

// alertBus makes the bus, lets the function put on it, and adds each
// route. It returns the bus's name (ALERT_BUS).
// alertBus makes the alert bus and its routes. Every route's target parks
// what it could not deliver in 24 hours in dlq (the stack's dead-letter
// queue, whose alarm pages the health topic) instead of dropping it.
func alertBus(stack awscdk.Stack, r *Routing, fnRole awsiam.IRole, dlq awssqs.IQueue) (*string, error) {
	bus := awsevents.NewCfnEventBus(stack, jsii.String("AlertBus"), &awsevents.CfnEventBusProps{
		Name:        jsii.String(*stack.StackName() + "-alerts"),
		Description: jsii.String("s3xguard alerts and quarantine releases, for chat, pagers and webhooks"),
	})
	fnRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PutAlertEvents"),
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  jsii.Strings(*bus.AttrArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"events:source": busSource}},
	}))
	awscdk.NewCfnOutput(stack, jsii.String("AlertBusName"), &awscdk.CfnOutputProps{Value: bus.Name()})
	rt := &routes{stack: stack, bus: bus, dlq: dlq}
	var invoke awsiam.Role
	role := func() awsiam.Role {
		if invoke == nil {
			invoke = awsiam.NewRole(stack, jsii.String("RoutingRole"), &awsiam.RoleProps{
				AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
				Description: jsii.String("s3xguard routing: the alert bus's rules call the API destinations"),
			})
		}
		return invoke
	}
	if r.Chat != nil {
		chatRoute(stack, rt, r.Chat)
	}
	if p := r.PagerDuty; p != nil {
		dest := apiDestination(stack, "PagerDuty", "https://events.pagerduty.com/v2/enqueue", apiKeyAuth("X-S3xguard-Route", "pagerduty"), role())
		key, err := json.Marshal(p.RoutingKey)
		if err != nil {
			return nil, err
		}
		for _, s := range from(p.MinSeverity) {
			rt.add("PagerDuty"+title(s), alertPattern(s), target(dest, role(), transformer(map[string]string{
				"key": "$.detail.dedupKey", "summary": "$.detail.summary", "account": "$.detail.guarded.account",
				"region": "$.detail.guarded.region", "kind": "$.detail.kind", "runbook": "$.detail.runbook", "detail": "$.detail",
			}, `{"routing_key":`+string(key)+`,"event_action":"trigger","dedup_key":<key>,"client":"s3xguard",`+
				`"payload":{"summary":<summary>,"source":"s3xguard <account> <region>","severity":"`+pagerDutySeverity[s]+`",`+
				`"group":<account>,"class":<kind>,"custom_details":<detail>},"links":[{"href":<runbook>,"text":"s3xguard runbook"}]}`), nil))
		}
		rt.add("PagerDutyResolve", releasePattern(), target(dest, role(), transformer(map[string]string{"key": "$.detail.dedupKey"},
			`{"routing_key":`+string(key)+`,"event_action":"resolve","dedup_key":<key>}`), nil))
	}
	for _, w := range r.Webhooks {
		webhookRoute(stack, rt, w, role())
	}
	rt.allowDeadLetters()
	return bus.Name(), nil
}

func webhookRoute(stack awscdk.Stack, rt *routes, w Webhook, role awsiam.Role) {
	id := "Webhook" + w.Name
	auth := apiKeyAuth("X-S3xguard-Route", w.Name)
	if w.APIKey != "" {
		auth = apiKeyAuth("Authorization", w.APIKey)
	}
	switch w.Format {
	case "slack":
		dest := apiDestination(stack, id, w.URL, auth, role)
		for _, s := range from(w.MinSeverity) {
			rt.add(id+title(s), alertPattern(s), target(dest, role, transformer(map[string]string{
				"summary": "$.detail.summary", "text": "$.detail.chat.content.description",
			}, `{"text":<summary>,"attachments":[{"text":<text>,"mrkdwn_in":["text"]}]}`), nil))
		}
		rt.add(id+"Release", releasePattern(), target(dest, role, transformer(map[string]string{
			"summary": "$.detail.summary", "text": "$.detail.chat.content.description",
		}, `{"text":<summary>,"attachments":[{"text":<text>,"mrkdwn_in":["text"]}]}`), nil))
	case "opsgenie":
		base := strings.TrimSuffix(w.URL, "/")
		create := apiDestination(stack, id, base+"/v2/alerts", auth, role)
		for _, s := range from(w.MinSeverity) {
			rt.add(id+title(s), alertPattern(s), target(create, role, transformer(map[string]string{
				"key": "$.detail.dedupKey", "summary": "$.detail.summary", "text": "$.detail.chat.content.description",
				"kind": "$.detail.kind", "account": "$.detail.guarded.account", "region": "$.detail.guarded.region",
			}, `{"message":<summary>,"alias":<key>,"description":<text>,"source":"s3xguard","priority":"`+opsgeniePriority[s]+`",`+
				`"tags":["s3xguard",<kind>,<account>,<region>]}`), nil))
		}
		// Closed by alias: the incident key needs no escaping in a path.
		closer := apiDestination(stack, id+"Close", base+"/v2/alerts/*/close", auth, role)
		rt.add(id+"Release", releasePattern(), target(closer, role, transformer(map[string]string{
			"reason": "$.detail.reason", "principal": "$.detail.principal",
		}, `{"source":"s3xguard","note":<reason>,"user":<principal>}`), &awsevents.CfnRule_HttpParametersProperty{
			PathParameterValues:   jsii.Strings("$.detail.dedupKey"),
			QueryStringParameters: map[string]*string{"identifierType": jsii.String("alias")},
		}))
	case "document":
		dest := apiDestination(stack, id, w.URL, auth, role)
		t := target(dest, role, nil, nil)
		t.InputPath = jsii.String("$.detail")
		rt.add(id, map[string]any{"source": []string{busSource}, "detail-type": []string{detailTypeAlert, detailTypeRelease}}, t)
	}
}

// chatRoute makes the chat topic and the rules feeding it $.detail.chat:
// the custom-notification payload itself, so the alert topic keeps the
// document for its other subscribers. Its key lets EventBridge publish.
func chatRoute(stack awscdk.Stack, rt *routes, c *ChatRoute) {
	key := awskms.NewKey(stack, jsii.String("ChatKey"), &awskms.KeyProps{
		Description:       jsii.String("s3xguard chat topic encryption"),
		EnableKeyRotation: jsii.Bool(true),
	})
	events := awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EventBridgePublishes"),
		Principals: &[]awsiam.IPrincipal{events},
		Actions:    jsii.Strings("kms:GenerateDataKey*", "kms:Decrypt"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(stack, jsii.String("Chat"), &awssns.TopicProps{
		DisplayName: jsii.String("s3xguard chat"), MasterKey: key, EnforceSSL: jsii.Bool(true),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ChatTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn()})
	var arns []*string
	for _, s := range from(c.MinSeverity) {
		r := rt.add("Chat"+title(s), alertPattern(s), awsevents.CfnRule_TargetProperty{
			Id: jsii.String("chat"), Arn: topic.TopicArn(), InputPath: jsii.String("$.detail.chat"), RetryPolicy: retry(),
		})
		arns = append(arns, r.AttrArn())
	}
	r := rt.add("ChatRelease", releasePattern(), awsevents.CfnRule_TargetProperty{
		Id: jsii.String("chat"), Arn: topic.TopicArn(), InputPath: jsii.String("$.detail.chat"), RetryPolicy: retry(),
	})
	arns = append(arns, r.AttrArn())
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("TheChatRulesPublish"),
		Principals: &[]awsiam.IPrincipal{events},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": arns}},
	}))
}

func apiKeyAuth(name, value string) *awsevents.CfnConnection_AuthParametersProperty {
	return &awsevents.CfnConnection_AuthParametersProperty{ApiKeyAuthParameters: &awsevents.CfnConnection_ApiKeyAuthParametersProperty{
		ApiKeyName: jsii.String(name), ApiKeyValue: jsii.String(value)}}
}

func apiDestination(stack awscdk.Stack, id, endpoint string, auth *awsevents.CfnConnection_AuthParametersProperty, role awsiam.Role) awsevents.CfnApiDestination {
	conn := awsevents.NewCfnConnection(stack, jsii.String(id+"Connection"), &awsevents.CfnConnectionProps{
		AuthorizationType: jsii.String("API_KEY"), AuthParameters: auth,
		Description: jsii.String("s3xguard " + id),
	})
	dest := awsevents.NewCfnApiDestination(stack, jsii.String(id+"Destination"), &awsevents.CfnApiDestinationProps{
		ConnectionArn: conn.AttrArn(), HttpMethod: jsii.String("POST"), InvocationEndpoint: jsii.String(endpoint),
		InvocationRateLimitPerSecond: jsii.Number(10),
		Description:                  jsii.String("s3xguard " + id),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("events:InvokeApiDestination"), Resources: jsii.Strings(*dest.AttrArn()),
	}))
	return dest
}

func target(dest awsevents.CfnApiDestination, role awsiam.Role, tr *awsevents.CfnRule_InputTransformerProperty, http *awsevents.CfnRule_HttpParametersProperty) awsevents.CfnRule_TargetProperty {
	t := awsevents.CfnRule_TargetProperty{Id: jsii.String("api"), Arn: dest.AttrArn(), RoleArn: role.RoleArn(), RetryPolicy: retry()}
	if tr != nil {
		t.InputTransformer = tr
	}
	if http != nil {
		t.HttpParameters = http
	}
	return t
}

func transformer(paths map[string]string, template string) *awsevents.CfnRule_InputTransformerProperty {
	m := map[string]*string{}
	for k, v := range paths {
		m[k] = jsii.String(v)
	}
	return &awsevents.CfnRule_InputTransformerProperty{InputPathsMap: m, InputTemplate: jsii.String(template)}
}

// retry is EventBridge's longest: a page held back by an outage of the
// tool still arrives within a day.
func retry() *awsevents.CfnRule_RetryPolicyProperty {
	return &awsevents.CfnRule_RetryPolicyProperty{MaximumEventAgeInSeconds: jsii.Number(86400), MaximumRetryAttempts: jsii.Number(185)}
}

// routes makes the rules of the alert bus; each target parks what it could
// not deliver in the stack's dead-letter queue.
type routes struct {
	stack awscdk.Stack
	bus   awsevents.CfnEventBus
	dlq   awssqs.IQueue
	arns  []*string // the rules made, for the queue's resource policy
}

func (rt *routes) add(id string, pattern map[string]any, t awsevents.CfnRule_TargetProperty) awsevents.CfnRule {
	t.DeadLetterConfig = &awsevents.CfnRule_DeadLetterConfigProperty{Arn: rt.dlq.QueueArn()}
	r := awsevents.NewCfnRule(rt.stack, jsii.String("Route"+id), &awsevents.CfnRuleProps{
		EventBusName: rt.bus.Name(), EventPattern: pattern, State: jsii.String("ENABLED"),
		Description: jsii.String("s3xguard routing: " + id),
		Targets:     []awsevents.CfnRule_TargetProperty{t},
	})
	rt.arns = append(rt.arns, r.AttrArn())
	return r
}

// allowDeadLetters lets exactly the routing rules park events in the queue
// (its other senders are granted by their own targets).
func (rt *routes) allowDeadLetters() {
	rt.dlq.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("RoutingRulesParkUndelivered"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*rt.dlq.QueueArn()),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": rt.arns}},
	}))
}

// alertPattern matches the alerts of one severity: one rule per severity,
// since an input transformer copies values and cannot map them to a
// tool's vocabulary.
func alertPattern(severity string) map[string]any {
	return map[string]any{"source": []string{busSource}, "detail-type": []string{detailTypeAlert}, "detail": map[string]any{"severity": []string{severity}}}
}

func releasePattern() map[string]any {
	return map[string]any{"source": []string{busSource}, "detail-type": []string{detailTypeRelease}}
}

// from returns min and the severities above it.
func from(min string) []string {
	i := slices.Index(severities, min)
	if i < 0 {
		i = 0
	}
	return severities[i:]
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

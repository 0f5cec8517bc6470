package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// The circuit breaker's metric, emitted by the function in CloudWatch's
// embedded metric format when a quarantine is refused because a breaker
// (per bucket or global) is open. The function also pages the health topic
// itself; the alarm is the second path, independent of its code.
const (
	metricNamespace = "s3xguard"
	breakerMetric   = "BreakerTripped"
	breakerDim      = "Mode"
)

// alarms page through the health topic, never the alert topic: a broken
// alert topic or key must not hide its own failure. They watch function
// errors and throttles, events parked in the DLQ or in the failed-invocation
// queue, a backlog on the event queue, deliveries EventBridge gave up on,
// alert notifications SNS could not deliver, the circuit breaker, and
// silence: no S3 Express event for hours means a broken trail or rule, the
// failure that pages nobody otherwise. The health topic's own failed
// deliveries page through the alert topic, so each topic watches the other.
func alarms(stack awscdk.Stack, cfg *Config, g *Guard, dlq, failed, backlog awssqs.Queue) {
	health := awscloudwatchactions.NewSnsAction(g.HealthTopic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum, maximum := jsii.String("Sum"), jsii.String("Maximum")
	add := func(id string, action awscloudwatch.IAlarmAction, metric awscloudwatch.IMetric, cmp awscloudwatch.ComparisonOperator, threshold float64, periods int, missing awscloudwatch.TreatMissingData, desc string) {
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
	quiet := awscloudwatch.TreatMissingData_NOT_BREACHING
	add("FunctionErrorsAlarm", health, g.Function.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: sum}), gt, 0, 1,
		quiet, "s3xguard function errors: an alert may not have been sent yet (retried, then the failed-invocation queue or the DLQ)")
	add("FunctionThrottlesAlarm", health, g.Function.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: sum}), gt, 0, 1,
		quiet, "s3xguard function throttled at its reserved concurrency: events are delayed")
	add("DeadLettersAlarm", health, dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: maximum}), gt, 0, 1,
		quiet, "S3 Express events in the s3xguard dead-letter queue: they were never checked")
	add("FailedInvocationsAlarm", health, failed.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: maximum}), gt, 0, 1,
		quiet, "events in the s3xguard failed-invocation queue: the function failed on them after every retry; audit them with s3xguard check")
	if backlog != nil {
		add("BacklogAlarm", health, backlog.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: five, Statistic: maximum}), gt, 900, 1,
			quiet, "s3xguard is more than 15 minutes behind on S3 Express events")
	}
	for _, r := range []struct {
		id   string
		rule awsevents.Rule
	}{{"RuleFailedInvocationsAlarm", g.Rule}, {"SweepFailedInvocationsAlarm", g.Sweep}} {
		add(r.id, health, eventsMetric("FailedInvocations", r.rule, five), gt, 0, 1,
			quiet, "EventBridge could not deliver to the s3xguard target (permissions, throttling): the events went to the DLQ")
	}
	add("AlertDeliveryAlarm", health, g.Topic.MetricNumberOfNotificationsFailed(&awscloudwatch.MetricOptions{Period: five, Statistic: sum}), gt, 0, 1,
		quiet, "SNS could not deliver s3xguard alerts to a subscriber")
	add("HealthDeliveryAlarm", awscloudwatchactions.NewSnsAction(g.Topic), g.HealthTopic.MetricNumberOfNotificationsFailed(&awscloudwatch.MetricOptions{Period: five, Statistic: sum}), gt, 0, 1,
		quiet, "SNS could not deliver s3xguard health pages to a subscriber")
	// The function's own metrics (embedded metric format, namespace
	// s3xguard, dimension Mode = the response mode).
	own := func(name string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(metricNamespace),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{breakerDim: jsii.String(cfg.ResponseMode)},
			Statistic:     sum,
			Period:        five,
		})
	}
	if cfg.ResponseMode == "enforce" {
		add("BreakerAlarm", health, own(breakerMetric), gt, 0, 1, quiet,
			"s3xguard's circuit breaker refused a quarantine: too many this hour (per bucket or in all)")
	}
	// Both paths fail open by design (the page goes out; the allowed call
	// passes): the alarm is what says that they did.
	if cfg.Findings != "" {
		add("FindingsFailedAlarm", health, own("FindingsFailed"), gt, 0, 1, quiet,
			"s3xguard alerts were sent but Security Hub did not take their findings (the pages went out; see the function's log, findings not imported)")
	}
	if cfg.Routing.Enabled() {
		add("BusFailedAlarm", health, own("BusFailed"), gt, 0, 1, quiet,
			"s3xguard alerts were paged but not put on the alert bus: chat, PagerDuty and webhooks missed them (see the function's log)")
	}
	if cfg.SessionCheck != "" && cfg.SessionCheck != "off" {
		add("SessionUncheckedAlarm", health, own("SessionUnchecked"), gt, 0, 1, quiet,
			"s3xguard could not look up sessions in its state table: zonal calls passed without the session-moved check (fail open)")
	}
	// MatchedEvents, not the function's invocations: the sweep invokes it
	// every minute, so only the rule's count says whether events arrive.
	add("SilenceAlarm", health, eventsMetric("MatchedEvents", g.Rule, awscdk.Duration_Hours(jsii.Number(1))), awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, cfg.SilenceAlarmHours,
		awscloudwatch.TreatMissingData_BREACHING, fmt.Sprintf("no S3 Express event reached s3xguard for %d hours: check the trail's data event selectors and the rule", cfg.SilenceAlarmHours))
}

// eventsMetric is a per-rule EventBridge metric, summed over period.
func eventsMetric(name string, rule awsevents.Rule, period awscdk.Duration) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String("AWS/Events"),
		MetricName:    jsii.String(name),
		DimensionsMap: &map[string]*string{"RuleName": rule.RuleName()},
		Statistic:     jsii.String("Sum"),
		Period:        period,
	})
}

// Package central names the events of an organization's central path and
// the patterns that route them, shared by the stacks that deploy the
// rules (infra/stack) and the tests that run those rules on moto
// (test/e2e). It imports nothing of the CDK.
package central

// BusName is the central account's bus that members forward to.
const BusName = "s3xguard-central"

// What the function puts on its account's bus (ALERT_BUS; see
// lambda/handler/bus.go, whose constants these must equal).
const (
	Source             = "s3xguard"
	AlertDetailType    = "s3xguard alert"
	ReleasedDetailType = "s3xguard quarantine released"
)

// ForwardPattern is the member rule's pattern on its default bus: the
// function's events, and the state changes of the member stack's own
// alarms, whose names start with alarmPrefix (the stack's name:
// CloudFormation names them STACK-LOGICALID-SUFFIX). alarmPrefix is a
// string, or a CDK token for the stack name.
func ForwardPattern(alarmPrefix any) map[string]any {
	return map[string]any{
		"$or": []any{
			map[string]any{"source": []string{Source}, "detail-type": []string{AlertDetailType, ReleasedDetailType}},
			map[string]any{"source": []string{"aws.cloudwatch"}, "detail-type": []string{"CloudWatch Alarm State Change"},
				"detail": map[string]any{"alarmName": []any{map[string]any{"prefix": alarmPrefix}}}},
		},
	}
}

// AlertPattern is the central rule that pages the organization's alert
// topic: every member's alerts.
func AlertPattern() map[string]any {
	return map[string]any{"source": []string{Source}, "detail-type": []string{AlertDetailType}}
}

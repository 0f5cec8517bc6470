package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// fakeSNS answers with fixed subscriptions and SMS attributes: moto
// confirms every subscription at once, so pending ones are tested here.
type fakeSNS struct {
	subs []snstypes.Subscription
	sms  map[string]string
}

func (f *fakeSNS) GetTopicAttributes(context.Context, *sns.GetTopicAttributesInput, ...func(*sns.Options)) (*sns.GetTopicAttributesOutput, error) {
	return &sns.GetTopicAttributesOutput{}, nil
}

func (f *fakeSNS) ListSubscriptionsByTopic(context.Context, *sns.ListSubscriptionsByTopicInput, ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error) {
	return &sns.ListSubscriptionsByTopicOutput{Subscriptions: f.subs}, nil
}

func (f *fakeSNS) GetSMSAttributes(context.Context, *sns.GetSMSAttributesInput, ...func(*sns.Options)) (*sns.GetSMSAttributesOutput, error) {
	return &sns.GetSMSAttributesOutput{Attributes: f.sms}, nil
}

func TestCheckTopic(t *testing.T) {
	sub := func(proto, endpoint, arn string) snstypes.Subscription {
		return snstypes.Subscription{Protocol: aws.String(proto), Endpoint: aws.String(endpoint), SubscriptionArn: aws.String(arn)}
	}
	const topic = "arn:aws:sns:us-east-1:111122223333:alerts"
	for _, tt := range []struct {
		name string
		f    fakeSNS
		want map[string]Status
	}{
		{"pending only", fakeSNS{subs: []snstypes.Subscription{sub("email", "a@example.com", "PendingConfirmation")}}, map[string]Status{"subscriptions": Fail}},
		{"one pending", fakeSNS{subs: []snstypes.Subscription{sub("email", "a@example.com", "PendingConfirmation"), sub("email", "b@example.com", topic+":1")}}, map[string]Status{"subscriptions": Warn}},
		{"sms with a limit", fakeSNS{subs: []snstypes.Subscription{sub("sms", "+15555550100", topic+":2")}, sms: map[string]string{"MonthlySpendLimit": "50"}}, map[string]Status{"subscriptions": OK, "sms": OK}},
		{"sms at 1 USD", fakeSNS{subs: []snstypes.Subscription{sub("sms", "+15555550100", topic+":2")}, sms: map[string]string{"MonthlySpendLimit": "1"}}, map[string]Status{"sms": Warn}},
	} {
		got := map[string]Status{}
		for _, f := range checkTopic(context.Background(), Clients{SNS: &tt.f}, topic) {
			got[f.Check] = f.Status
		}
		for check, want := range tt.want {
			if got[check] != want {
				t.Errorf("%s: %s = %q; want %q", tt.name, check, got[check], want)
			}
		}
	}
}

func TestLogsManagement(t *testing.T) {
	mgmt := FieldSelector{Field: "eventCategory", Equals: []string{"Management"}}
	for _, tt := range []struct {
		name     string
		basic    []cttypes.EventSelector
		advanced []Selector
		want     bool
	}{
		{"basic, all", []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeAll}}, nil, true},
		{"basic, write only", []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeWriteOnly}}, nil, true},
		{"basic, read only", []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeReadOnly}}, nil, false},
		{"basic, s3express excluded", []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeAll, ExcludeManagementEventSources: []string{"s3express.amazonaws.com"}}}, nil, false},
		{"basic, data only", []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(false)}}, nil, false},
		{"advanced, management", nil, []Selector{{FieldSelectors: []FieldSelector{mgmt}}}, true},
		{"advanced, management read only", nil, []Selector{{FieldSelectors: []FieldSelector{mgmt, {Field: "readOnly", Equals: []string{"true"}}}}}, false},
		{"advanced, s3express excluded", nil, []Selector{{FieldSelectors: []FieldSelector{mgmt, {Field: "eventSource", NotEquals: []string{"s3express.amazonaws.com"}}}}}, false},
		{"advanced, data only", nil, []Selector{{FieldSelectors: []FieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}}}}, false},
	} {
		if got := logsManagement(&cloudtrail.GetEventSelectorsOutput{EventSelectors: tt.basic}, tt.advanced); got != tt.want {
			t.Errorf("%s: %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestCheckAllowlist: the pin is reported on every run, and a local
// allowlist, when given, is compared with it.
func TestCheckAllowlist(t *testing.T) {
	const fn, pinned, local = "arn:aws:lambda:us-east-1:111122223333:function:guard", "0a1b", "2c3d"
	for _, tt := range []struct {
		name, deployed, local string
		status                Status
		says                  string
	}{
		{"pinned, no local file", pinned, "", OK, "pinned to the allowlist with SHA-256 " + pinned},
		{"not pinned, no local file", "", "", Warn, "no ALLOWLIST_SHA256"},
		{"pinned, local file matches", pinned, pinned, OK, "runs a.yaml (SHA-256 " + pinned},
		{"pinned, local file differs", pinned, local, Fail, "runs an allowlist with SHA-256 " + pinned},
	} {
		cfg := Config{Function: fn}
		if tt.local != "" {
			cfg.Allowlist, cfg.AllowlistSHA256 = "a.yaml", tt.local
		}
		f := checkAllowlist(cfg, fn, tt.deployed)
		if f.Status != tt.status || !strings.Contains(f.Message, tt.says) {
			t.Errorf("%s: %s %q; want %s, saying %q", tt.name, f.Status, f.Message, tt.status, tt.says)
		}
	}
}

package alert

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

type fakeSNS struct{ in *sns.PublishInput }

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = in
	return &sns.PublishOutput{}, nil
}

// FIFO topics get the idempotency key; standard topics have none.
func TestPublishIdempotencyKey(t *testing.T) {
	a := sample()
	a.ID = "e-1"
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic string
		fifo  bool
	}{
		{"arn:aws:sns:us-east-1:123456789012:alerts", false},
		{"arn:aws:sns:us-east-1:123456789012:alerts.fifo", true},
	} {
		f := &fakeSNS{}
		if err := (&Publisher{SNS: f, Topic: tc.topic}).Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := aws.ToString(f.in.MessageDeduplicationId)
		if tc.fifo != (got == m.DedupID && got != "" && aws.ToString(f.in.MessageGroupId) != "") || !tc.fifo && got != "" {
			t.Errorf("%s: MessageDeduplicationId %q, group %q", tc.topic, got, aws.ToString(f.in.MessageGroupId))
		}
	}
	// The same input gives the same key on every attempt.
	again, _ := a.Build()
	if again.DedupID != m.DedupID {
		t.Error("two builds of one alert have different dedup IDs")
	}
}

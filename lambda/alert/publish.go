package alert

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNS is the part of the SNS client a Publisher uses.
type SNS interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Publisher sends alerts to one topic.
type Publisher struct {
	SNS   SNS
	Topic string
}

// Publish sends m as one publish. The SDK retries throttling and 5xx with
// backoff; an error here means the alert was not sent.
func (p *Publisher) Publish(ctx context.Context, m Message) error {
	attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes))
	for k, v := range m.Attributes {
		attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	in := &sns.PublishInput{
		TopicArn:          &p.Topic,
		Subject:           &m.Subject,
		Message:           &m.Body,
		MessageStructure:  aws.String("json"),
		MessageAttributes: attrs,
	}
	// Standard topics have no idempotency key: a publish whose answer was
	// lost and is retried is delivered twice (the alert's alertId tells
	// them apart). FIFO topics deduplicate on MessageDeduplicationId for
	// 5 minutes; they deliver only to SQS and Lambda, not email or SMS.
	if strings.HasSuffix(p.Topic, ".fifo") && m.DedupID != "" {
		in.MessageDeduplicationId = aws.String(m.DedupID)
		in.MessageGroupId = aws.String("s3xguard")
	}
	_, err := p.SNS.Publish(ctx, in)
	if err != nil {
		return fmt.Errorf("alert: publish %q: %w", m.Subject, err)
	}
	return nil
}

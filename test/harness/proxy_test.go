package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
)

// The proxy's faults are what the delivery and enforcement tests stand on:
// each must look to the SDK exactly like the real failure.
func TestProxyFaults(t *testing.T) {
	m := StartMoto(t)
	p := StartProxy(t, m.URL)
	cfg := AWSConfig(p.URL)
	ctx := context.Background()
	client := sns.NewFromConfig(cfg)

	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}

	t.Run("throttle", func(t *testing.T) {
		f := p.Inject(&Fault{Service: "sns", Throttle: true, Times: 1})
		_, err := client.ListTopics(ctx, &sns.ListTopicsInput{})
		if code(err) != "Throttling" {
			t.Fatalf("sns: got %v; want Throttling", err)
		}
		if _, err := client.ListTopics(ctx, &sns.ListTopicsInput{}); err != nil || f.Hits(p) != 1 {
			t.Fatalf("after Times=1: err %v, hits %d", err, f.Hits(p))
		}
		p.Inject(&Fault{Service: "dynamodb", Throttle: true, Times: 1})
		_, err = dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
		if code(err) != "ThrottlingException" {
			t.Fatalf("dynamodb: got %v; want ThrottlingException", err)
		}
		p.Inject(&Fault{Service: "s3", Throttle: true, Times: 1})
		_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
		if code(err) != "SlowDown" {
			t.Fatalf("s3: got %v; want SlowDown", err)
		}
	})

	t.Run("hang", func(t *testing.T) {
		p.Inject(&Fault{Service: "sns", Action: "ListTopics", Hang: true, Times: 1})
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		_, err := client.ListTopics(cctx, &sns.ListTopicsInput{})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) < 250*time.Millisecond {
			t.Fatalf("got %v after %v; want the caller's deadline", err, time.Since(t0))
		}
	})

	t.Run("lost", func(t *testing.T) {
		p.Inject(&Fault{Service: "sns", Action: "CreateTopic", Lost: true, Times: 1})
		_, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("lost-answer")})
		if err == nil {
			t.Fatal("the answer was lost, yet the call succeeded")
		}
		out, err := client.ListTopics(ctx, &sns.ListTopicsInput{})
		if err != nil || len(out.Topics) != 1 {
			t.Fatalf("the lost call must have taken effect: %v, %v", out, err)
		}
	})

	t.Run("clear", func(t *testing.T) {
		p.Inject(&Fault{Service: "sns", Status: 500})
		p.Clear()
		if _, err := client.ListTopics(ctx, &sns.ListTopicsInput{}); err != nil {
			t.Fatalf("after Clear: %v", err)
		}
	})
}

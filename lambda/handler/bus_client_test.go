package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3xguard/s3xguard/lambda/awscall"
)

// eventsServer is EventBridge on loopback: one answer per request, in
// order (the last repeats), and every request as it came.
type eventsServer struct {
	mu      sync.Mutex
	answers []eventsAnswer
	reqs    []*http.Request
	bodies  []string
}

type eventsAnswer struct {
	status int
	body   string
}

func (s *eventsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs, s.bodies = append(s.reqs, r), append(s.bodies, string(b))
	a := s.answers[min(len(s.reqs), len(s.answers))-1]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

// busEmitter is NewEmitter's emitter for the bus "alerts", sending to srv
// with the standard retryer (maxAttempts, backoff as given).
func busEmitter(t *testing.T, srv *eventsServer, maxAttempts int, backoff time.Duration) *Emitter {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e, err := NewEmitter(aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session-token"),
		HTTPClient:   hs.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts, o.Backoff = maxAttempts, fixedBackoff(backoff)
			})
		},
	}, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type fixedBackoff time.Duration

func (f fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(f), nil }

const putOK = `{"Entries":[{"EventId":"11710aed-b79e-4468-a20b-bb3c0c3b4860"}],"FailedEntryCount":0}`

// TestPutEventsRequest: one entry, as AWS JSON 1.1 (POST / with
// X-Amz-Target AWSEvents.PutEvents), signed with SigV4 for "events" in the
// config's region, the target header among the signed ones.
func TestPutEventsRequest(t *testing.T) {
	srv := &eventsServer{answers: []eventsAnswer{{200, putOK}}}
	if err := busEmitter(t, srv, 3, time.Millisecond).Put(context.Background(), DetailTypeAlert, `{"k":"v <&>"}`); err != nil {
		t.Fatal(err)
	}
	if len(srv.reqs) != 1 {
		t.Fatalf("%d requests; want 1", len(srv.reqs))
	}
	r := srv.reqs[0]
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("%s %s, target %q, content type %q; want POST /, AWSEvents.PutEvents, application/x-amz-json-1.1",
			r.Method, r.URL.Path, r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+r.Header.Get("X-Amz-Date")[:8]+"/eu-west-1/events/aws4_request, SignedHeaders=") ||
		!strings.Contains(auth, "x-amz-target") || r.Header.Get("X-Amz-Security-Token") != "session-token" {
		t.Errorf("not signed for events in eu-west-1 with the target: %q", auth)
	}
	var body struct{ Entries []map[string]string }
	if err := json.Unmarshal([]byte(srv.bodies[0]), &body); err != nil {
		t.Fatalf("body %s: %v", srv.bodies[0], err)
	}
	want := map[string]string{"EventBusName": "alerts", "Source": "s3xguard", "DetailType": "s3xguard alert", "Detail": `{"k":"v <&>"}`}
	if len(body.Entries) != 1 || fmt.Sprint(body.Entries[0]) != fmt.Sprint(want) {
		t.Errorf("entries %v; want [%v]", body.Entries, want)
	}
}

// TestPutEventsRetries: throttling and 5xx are retried, a client error is
// not; a 200 with a failed entry is the entry's error, not retried here
// (as with the SDK's client: the event's own retry may put it again).
func TestPutEventsRetries(t *testing.T) {
	throttled := eventsAnswer{400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`}
	for name, c := range map[string]struct {
		answers  []eventsAnswer
		attempts int
		err      string // in the error; "" for none
	}{
		"throttled, then ok":  {[]eventsAnswer{throttled, throttled, {200, putOK}}, 3, ""},
		"500, then ok":        {[]eventsAnswer{{500, `{"__type":"InternalException","message":"oops"}`}, {200, putOK}}, 2, ""},
		"503 past max":        {[]eventsAnswer{{503, `{"__type":"ServiceUnavailable"}`}}, 4, "HTTP 503: ServiceUnavailable"},
		"no such bus":         {[]eventsAnswer{{400, `{"__type":"com.amazonaws.events#ResourceNotFoundException","message":"Event bus alerts does not exist."}`}, {200, putOK}}, 1, "ResourceNotFoundException: Event bus alerts does not exist."},
		"access denied (403)": {[]eventsAnswer{{403, `{"__type":"AccessDeniedException","Message":"not authorized"}`}, {200, putOK}}, 1, "AccessDeniedException: not authorized"},
		"failed entry": {[]eventsAnswer{{200, `{"Entries":[{"ErrorCode":"ThrottlingException","ErrorMessage":"Rate exceeded"}],"FailedEntryCount":1}`}, {200, putOK}}, 1,
			`put "s3xguard alert" event on bus "alerts": entry failed: ThrottlingException: Rate exceeded`},
	} {
		srv := &eventsServer{answers: c.answers}
		err := busEmitter(t, srv, 4, time.Millisecond).Put(context.Background(), DetailTypeAlert, `{}`)
		if len(srv.reqs) != c.attempts {
			t.Errorf("%s: %d attempts; want %d (error %v)", name, len(srv.reqs), c.attempts, err)
		}
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v; want one with %q", name, err, c.err)
		}
		var ae *awscall.APIError
		if c.err != "" && name != "failed entry" && !errors.As(err, &ae) {
			t.Errorf("%s: %v is no APIError", name, err)
		}
	}
}

// TestPutEventsStopsAtTheDeadline: a retry whose backoff would end past
// the emitter's BusTimeout is not waited for: the error comes back after
// one attempt.
func TestPutEventsStopsAtTheDeadline(t *testing.T) {
	srv := &eventsServer{answers: []eventsAnswer{{503, `{}`}}}
	err := busEmitter(t, srv, 5, time.Hour).Put(context.Background(), DetailTypeAlert, `{}`)
	if len(srv.reqs) != 1 || err == nil || !strings.Contains(err.Error(), "no time left") {
		t.Errorf("%d attempts, error %v; want 1 attempt and the 503 back", len(srv.reqs), err)
	}
}

// TestEventBridgeEndpoint: the endpoint the SDK's client would use:
// AWS_ENDPOINT_URL_EVENTBRIDGE before AWS_ENDPOINT_URL, the partition's
// otherwise; no emitter without a bus.
func TestEventBridgeEndpoint(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1":  "https://events.us-east-1.amazonaws.com",
		"cn-north-1": "https://events.cn-north-1.amazonaws.com.cn",
	} {
		e, err := NewEmitter(aws.Config{Region: region}, "b")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.API.(*EventBridge).Endpoint(); got != want {
			t.Errorf("region %s: %s; want %s", region, got, want)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:2")
	env, err := awsconfig.NewEnvConfig()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEmitter(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), ConfigSources: []any{env}}, "b")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.API.(*EventBridge).Endpoint(); got != "http://127.0.0.1:2" {
		t.Errorf("endpoint %s; want AWS_ENDPOINT_URL_EVENTBRIDGE's", got)
	}
	if e, err := NewEmitter(aws.Config{Region: "us-east-1"}, ""); e != nil || err != nil {
		t.Errorf("no bus: emitter %v, error %v; want neither", e, err)
	}
	if _, err := NewEmitter(aws.Config{}, "b"); err == nil {
		t.Error("no region, yet an emitter")
	}
}

// TestEventBridgeEndpointFIPS: AWS_USE_FIPS_ENDPOINT picks the FIPS
// endpoint, and with a configured endpoint fails as the SDK's rules do.
func TestEventBridgeEndpointFIPS(t *testing.T) {
	fips := []any{awsconfig.EnvConfig{UseFIPSEndpoint: aws.FIPSEndpointStateEnabled}}
	e, err := NewEmitter(aws.Config{Region: "us-east-1", ConfigSources: fips}, "b")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.API.(*EventBridge).Endpoint(), "https://events-fips.us-east-1.amazonaws.com"; got != want {
		t.Errorf("FIPS endpoint %s; want %s", got, want)
	}
	_, err = NewEmitter(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), ConfigSources: fips}, "b")
	if err == nil || !strings.Contains(err.Error(), "FIPS and custom endpoint") {
		t.Errorf("FIPS with a configured endpoint: %v; want the SDK rules' refusal", err)
	}
}

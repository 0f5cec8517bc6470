package securityhub

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
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3xguard/s3xguard/lambda/awscall"
)

// server is Security Hub on loopback: answers, in order, one per request
// (the last repeats), and what each request was.
type server struct {
	mu      sync.Mutex
	answers []answer
	reqs    []seen
}

type answer struct {
	status int
	header map[string]string
	body   string
}

type seen struct {
	path, auth, date, token, body string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, seen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token"), string(b)})
	a := s.answers[min(len(s.reqs), len(s.answers))-1]
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

// client returns a client of srv with the standard retryer (no backoff
// worth waiting for) and maxAttempts.
func client(t *testing.T, srv *server, maxAttempts int) *Client {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := New(aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session-token"),
		HTTPClient:   hs.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts, o.MaxBackoff = maxAttempts, time.Millisecond
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestImportSendsTheFindingsAsTheyAre: the ASFF JSON goes out byte for
// byte inside {"Findings":[...]}, to /findings/import, signed with SigV4
// for securityhub in the config's region, with the session token.
func TestImportSendsTheFindingsAsTheyAre(t *testing.T) {
	srv := &server{answers: []answer{{200, nil, `{"FailedCount":1,"SuccessCount":1,"FailedFindings":[{"Id":"b","ErrorCode":"InvalidInput","ErrorMessage":"bad"}]}`}}}
	c := client(t, srv, 3)
	fs := []json.RawMessage{json.RawMessage(`{"Id":"a","Resources":[{"Type":"Other","Details":{"Other":{"k":"v"}}}]}`), json.RawMessage(`{"Id":"b"}`)}
	out, err := c.BatchImportFindings(context.Background(), fs)
	if err != nil {
		t.Fatal(err)
	}
	if *out.FailedCount != 1 || *out.SuccessCount != 1 || len(out.FailedFindings) != 1 || out.FailedFindings[0] != (ImportFindingsError{"b", "InvalidInput", "bad"}) {
		t.Errorf("answer decoded as %+v", out)
	}
	r := srv.reqs[0]
	if want := `{"Findings":[` + string(fs[0]) + `,` + string(fs[1]) + `]}`; r.body != want || r.path != "/findings/import" {
		t.Errorf("sent %s to %s; want %s to /findings/import", r.body, r.path, want)
	}
	if !strings.HasPrefix(r.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+r.date[:8]+"/eu-west-1/securityhub/aws4_request, SignedHeaders=") ||
		!strings.Contains(r.auth, "x-amz-security-token") || r.token != "session-token" {
		t.Errorf("not signed for securityhub in eu-west-1: Authorization %q, token %q", r.auth, r.token)
	}
}

// TestGetFindingsFilters: the IDs become an EQUALS filter on Id, with
// MaxResults and the page token; the findings come back as Security Hub
// wrote them.
func TestGetFindingsFilters(t *testing.T) {
	srv := &server{answers: []answer{{200, nil, `{"Findings":[{"Id":"a","Unknown":{"x":[1,2]}}],"NextToken":"t2"}`}}}
	c := client(t, srv, 3)
	out, err := c.GetFindings(context.Background(), &GetFindingsInput{IDs: []string{"a", "b"}, MaxResults: 2, NextToken: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Filters":{"Id":[{"Comparison":"EQUALS","Value":"a"},{"Comparison":"EQUALS","Value":"b"}]},"MaxResults":2,"NextToken":"t1"}`
	if r := srv.reqs[0]; r.body != want || r.path != "/findings" {
		t.Errorf("sent %s to %s; want %s to /findings", r.body, r.path, want)
	}
	if len(out.Findings) != 1 || string(out.Findings[0]) != `{"Id":"a","Unknown":{"x":[1,2]}}` || out.NextToken != "t2" {
		t.Errorf("page %+v", out)
	}
}

// TestRetries: throttling (429 TooManyRequestsException, as Security Hub
// answers it) and 5xx are retried; a client error is not, and comes back
// with AWS's code, message and request ID.
func TestRetries(t *testing.T) {
	throttled := answer{429, map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException:http://internal.amazon.com/"}, `{"message":"Rate exceeded"}`}
	ok := answer{200, nil, `{"FailedCount":0,"SuccessCount":1}`}
	for name, c := range map[string]struct {
		answers  []answer
		attempts int
		code     string
	}{
		"throttled, then ok":  {[]answer{throttled, throttled, ok}, 3, ""},
		"500, then ok":        {[]answer{{500, nil, `{"__type":"InternalException","Message":"oops"}`}, ok}, 2, ""},
		"throttled past max":  {[]answer{throttled}, 4, "TooManyRequestsException"},
		"invalid input":       {[]answer{{400, map[string]string{"X-Amzn-RequestId": "req-1"}, `{"__type":"com.amazonaws.securityhub#InvalidInputException","message":"bad finding"}`}, ok}, 1, "InvalidInputException"},
		"access denied (403)": {[]answer{{403, nil, `{"Message":"not allowed"}`}, ok}, 1, ""},
	} {
		srv := &server{answers: c.answers}
		_, err := client(t, srv, 4).BatchImportFindings(context.Background(), []json.RawMessage{json.RawMessage(`{"Id":"a"}`)})
		if len(srv.reqs) != c.attempts {
			t.Errorf("%s: %d attempts; want %d (error %v)", name, len(srv.reqs), c.attempts, err)
		}
		last := c.answers[min(c.attempts, len(c.answers))-1]
		if last.status == 200 {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var ae *awscall.APIError
		if !errors.As(err, &ae) || ae.Status != last.status || ae.Code != c.code {
			t.Fatalf("%s: error %v; want an APIError %d %s", name, err, last.status, c.code)
		}
		if name == "invalid input" && (ae.Message != "bad finding" || ae.RequestID != "req-1" || !strings.Contains(err.Error(), "BatchImportFindings")) {
			t.Errorf("%s: %q; want the code, message, request ID and operation", name, err)
		}
		if name == "access denied (403)" && ae.Message != "not allowed" {
			t.Errorf("%s: message %q", name, ae.Message)
		}
	}
}

// TestRetriesStopAtTheDeadline: a retry whose backoff would end past the
// caller's deadline is not waited for: the error comes back at once.
func TestRetriesStopAtTheDeadline(t *testing.T) {
	srv := &server{answers: []answer{{503, nil, `{}`}}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c, err := New(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), HTTPClient: hs.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 5
				o.Backoff = fixedBackoff(time.Hour)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.GetFindings(ctx, &GetFindingsInput{IDs: []string{"a"}})
	if len(srv.reqs) != 1 || err == nil || !strings.Contains(err.Error(), "no time left") {
		t.Errorf("%d attempts, error %v; want 1 attempt and the 503 back", len(srv.reqs), err)
	}
}

type fixedBackoff time.Duration

func (f fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(f), nil }

// TestEndpoint: the endpoint the SDK's client would use: the service's own
// variable before AWS_ENDPOINT_URL (cfg.BaseEndpoint), the partition's
// endpoint otherwise.
func TestEndpoint(t *testing.T) {
	for _, c := range []struct {
		region, base, env, want string
	}{
		{"us-east-1", "", "", "https://securityhub.us-east-1.amazonaws.com"},
		{"cn-north-1", "", "", "https://securityhub.cn-north-1.amazonaws.com.cn"},
		{"us-east-1", "http://127.0.0.1:5000", "", "http://127.0.0.1:5000"},
		{"us-east-1", "http://127.0.0.1:5000/", "", "http://127.0.0.1:5000"},
	} {
		c2, err := New(aws.Config{Region: c.region, BaseEndpoint: aws.String(c.base)})
		if err != nil {
			t.Fatal(err)
		}
		if got := c2.Endpoint(); got != c.want {
			t.Errorf("region %s, base %q: %s; want %s", c.region, c.base, got, c.want)
		}
	}
	if _, err := New(aws.Config{}); err == nil {
		t.Error("no region, yet a client")
	}
}

// TestServiceEndpoint: AWS_ENDPOINT_URL_SECURITYHUB (through the loaded
// configuration, as the SDK reads it) wins over AWS_ENDPOINT_URL.
func TestServiceEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_SECURITYHUB", "http://127.0.0.1:2")
	env, err := awsconfig.NewEnvConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), ConfigSources: []any{env}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint() != "http://127.0.0.1:2" {
		t.Errorf("endpoint %s; want AWS_ENDPOINT_URL_SECURITYHUB's", c.Endpoint())
	}
}

// TestRetryQuota: the retryer's quota is the SDK's: a bucket with room for
// one retry allows one.
func TestRetryQuota(t *testing.T) {
	srv := &server{answers: []answer{{500, nil, `{}`}}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c, err := New(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), HTTPClient: hs.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts, o.MaxBackoff = 5, time.Millisecond
				o.RateLimiter, o.RetryCost = ratelimit.NewTokenRateLimit(5), 5
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.BatchImportFindings(context.Background(), []json.RawMessage{json.RawMessage(`{"Id":"a"}`)})
	if len(srv.reqs) != 2 || err == nil || !strings.Contains(err.Error(), "rate limit token") {
		t.Errorf("%d attempts, error %v; want 2 attempts, then the quota's error", len(srv.reqs), err)
	}
}

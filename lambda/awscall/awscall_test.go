package awscall

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// testService takes the configured endpoint as is, as the SDK's rules do
// without FIPS or dual-stack.
var testService = Service{SDKID: "Test Service", SigningName: "test", Endpoint: func(_ context.Context, p EndpointParams) (string, error) {
	if p.Endpoint == nil {
		return "", errors.New("no endpoint")
	}
	return *p.Endpoint, nil
}}

func testClient(t *testing.T, h http.HandlerFunc) (*Client, *int) {
	t.Helper()
	n := new(int)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*n++
		h(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := New(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), HTTPClient: hs.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		Retryer:     func() aws.Retryer { return retry.NewStandard() },
	}, testService)
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

// TestAnswerIsBounded: an answer past MaxAnswer is an error, not read
// whole into memory nor decoded truncated.
func TestAnswerIsBounded(t *testing.T) {
	c, n := testClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"Pad":"`))
		w.Write([]byte(strings.Repeat("a", MaxAnswer)))
		w.Write([]byte(`"}`))
	})
	var out struct{ Pad string }
	err := c.Do(context.Background(), Request{Op: "Op", Path: "/", ContentType: "application/json", Body: []byte(`{}`)}, &out)
	if err == nil || !strings.Contains(err.Error(), "over 16777216 bytes") || *n != 1 {
		t.Errorf("%d attempts, error %v; want 1 attempt and the bound's error", *n, err)
	}
}

// TestAPIErrorShapes: AWS JSON 1.1 and REST JSON errors name their code
// in the header or the body, with a namespace or URI the SDK drops.
func TestAPIErrorShapes(t *testing.T) {
	for _, c := range []struct {
		header, body, code, msg string
	}{
		{"", `{"__type":"com.amazonaws.events#ResourceNotFoundException","message":"no bus"}`, "ResourceNotFoundException", "no bus"},
		{"ValidationException:http://internal.amazon.com/coral/", `{"Message":"bad"}`, "ValidationException", "bad"},
		{"", `{"code":"AccessDeniedException"}`, "AccessDeniedException", ""},
		{"", `<html>gateway</html>`, "", "<html>gateway</html>"},
	} {
		cl, _ := testClient(t, func(w http.ResponseWriter, _ *http.Request) {
			if c.header != "" {
				w.Header().Set("X-Amzn-ErrorType", c.header)
			}
			w.Header().Set("X-Amzn-RequestId", "r-1")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(c.body))
		})
		err := cl.Do(context.Background(), Request{Op: "Op", Path: "/", ContentType: "application/json", Body: []byte(`{}`)}, &struct{}{})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != c.code || ae.Message != c.msg || ae.RequestID != "r-1" || ae.Status != 400 {
			t.Errorf("%s %s: %#v; want code %q, message %q", c.header, c.body, ae, c.code, c.msg)
		}
	}
}

// TestServiceEndpointVariable: AWS_ENDPOINT_URL_<ID> is the SDK ID in
// capitals, spaces as underscores; set, it lets the services section win
// over AWS_ENDPOINT_URL.
func TestServiceEndpointVariable(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	src := sectionSource{"Test Service": "http://127.0.0.1:2"}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), ConfigSources: []any{src}}
	c, err := New(cfg, testService)
	if err != nil || c.Endpoint() != "http://127.0.0.1:1" {
		t.Fatalf("AWS_ENDPOINT_URL alone: %v, %v; want AWS_ENDPOINT_URL's", c, err)
	}
	t.Setenv("AWS_ENDPOINT_URL_TEST_SERVICE", "http://127.0.0.1:2")
	if c, err = New(cfg, testService); err != nil || c.Endpoint() != "http://127.0.0.1:2" {
		t.Errorf("with AWS_ENDPOINT_URL_TEST_SERVICE: %v, %v; want the service's", c, err)
	}
}

type sectionSource map[string]string

func (s sectionSource) GetServiceBaseEndpoint(_ context.Context, id string) (string, bool, error) {
	v, ok := s[id]
	return v, ok, nil
}

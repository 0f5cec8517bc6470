// Package awscall sends the function's own AWS calls, the ones it makes
// without the SDK's clients (Security Hub's imports, EventBridge's
// PutEvents): one POST of a JSON body, signed with the SDK's SigV4 signer,
// with the aws.Config's credentials, HTTP client and retryer (its attempt
// and retry tokens, as the SDK takes and gives them back), at the endpoint
// the SDK's client would resolve, with AWS's JSON errors and a bounded
// answer.
//
// Why not the SDK's clients: an SDK client links its operations'
// serializers and deserializers, and through them every type they reach,
// for each operation called (Security Hub's reach every ASFF type: 3.3 MiB
// of the arm64 bootstrap; EventBridge's client cost 0.44 MiB for PutEvents
// alone). Every byte of the bootstrap is cold start. A service package may
// still be imported for its endpoint rules (Service.Endpoint): that links
// the rules and the package's init, not its client.
package awscall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// MaxAnswer bounds what is read of one answer: far more than any answer
// of the calls made (a GetFindings page of 20 findings, a PutEvents of one
// entry), far less than the function's memory.
const MaxAnswer = 16 << 20

// Service names a service to the SDK's configuration and to SigV4.
type Service struct {
	// SDKID is the SDK's service ID ("SecurityHub", "EventBridge"): the
	// name of its AWS_ENDPOINT_URL_<ID> variable and of its key in a
	// profile's services section.
	SDKID string
	// SigningName is the service's SigV4 name ("securityhub", "events").
	SigningName string
	// Endpoint is the service's endpoint rules (the SDK's own, where they
	// can be linked without its client).
	Endpoint func(context.Context, EndpointParams) (string, error)
}

// EndpointParams are what the SDK's endpoint rules take from the
// configuration.
type EndpointParams struct {
	Region string
	// Endpoint is the configured endpoint (AWS_ENDPOINT_URL_<ID>,
	// AWS_ENDPOINT_URL, a profile's), or nil.
	Endpoint              *string
	UseFIPS, UseDualStack *bool
}

// Client calls one service.
type Client struct {
	svc      Service
	cfg      aws.Config
	endpoint string
	retryer  aws.Retryer
	signer   *v4.Signer
	// Budget, when set, bounds a call: all its attempts and backoff.
	Budget time.Duration
}

// New returns a client of svc for cfg's region, credentials, HTTP client
// and retryer, at the endpoint the SDK's own client would use.
func New(cfg aws.Config, svc Service) (*Client, error) {
	if cfg.Region == "" {
		return nil, fmt.Errorf("%s: no region", svc.SDKID)
	}
	p := EndpointParams{Region: cfg.Region, Endpoint: baseEndpoint(cfg, svc.SDKID)}
	p.UseFIPS, p.UseDualStack = endpointVariants(cfg.ConfigSources)
	endpoint, err := svc.Endpoint(context.Background(), p)
	if err != nil {
		return nil, fmt.Errorf("%s: endpoint of region %q: %w", svc.SDKID, cfg.Region, err)
	}
	c := &Client{svc: svc, cfg: cfg, endpoint: strings.TrimSuffix(endpoint, "/"), signer: v4.NewSigner()}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	}
	if c.retryer == nil {
		c.retryer = aws.NopRetryer{}
	}
	if c.cfg.HTTPClient == nil {
		c.cfg.HTTPClient = http.DefaultClient
	}
	return c, nil
}

// Endpoint is the URL the client sends to.
func (c *Client) Endpoint() string { return c.endpoint }

// baseEndpoint follows the SDK's clients (resolveBaseEndpoint in each):
// AWS_ENDPOINT_URL_<ID> or the configuration's services section, else
// cfg.BaseEndpoint (AWS_ENDPOINT_URL).
func baseEndpoint(cfg aws.Config, sdkID string) *string {
	base := cfg.BaseEndpoint
	_, global := os.LookupEnv("AWS_ENDPOINT_URL")
	_, service := os.LookupEnv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
	if !global || service {
		if v, ok := serviceEndpoint(cfg.ConfigSources, sdkID); ok {
			base = &v
		}
	}
	if aws.ToString(base) == "" {
		return nil
	}
	return base
}

// serviceEndpoint is the SDK's internal configsources.ResolveServiceBaseEndpoint
// (an internal package: not importable).
func serviceEndpoint(sources []any, sdkID string) (string, bool) {
	for _, s := range sources {
		if p, ok := s.(interface {
			GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
		}); ok {
			if v, found, _ := p.GetIgnoreConfiguredEndpoints(context.Background()); found && v {
				return "", false
			}
		}
	}
	for _, s := range sources {
		if p, ok := s.(interface {
			GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
		}); ok {
			v, found, err := p.GetServiceBaseEndpoint(context.Background(), sdkID)
			if err != nil {
				return "", false
			}
			if found {
				return v, true
			}
		}
	}
	return "", false
}

// endpointVariants reads AWS_USE_FIPS_ENDPOINT and
// AWS_USE_DUALSTACK_ENDPOINT (or a profile's) as the SDK does.
func endpointVariants(sources []any) (fips, dualStack *bool) {
	for _, s := range sources {
		if p, ok := s.(interface {
			GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error)
		}); ok && fips == nil {
			if v, found, err := p.GetUseFIPSEndpoint(context.Background()); err == nil && found {
				fips = aws.Bool(v == aws.FIPSEndpointStateEnabled)
			}
		}
		if p, ok := s.(interface {
			GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error)
		}); ok && dualStack == nil {
			if v, found, err := p.GetUseDualStackEndpoint(context.Background()); err == nil && found {
				dualStack = aws.Bool(v == aws.DualStackEndpointStateEnabled)
			}
		}
	}
	return fips, dualStack
}

// Request is one call: a POST of Body to Path.
type Request struct {
	// Op names the operation in errors.
	Op          string
	Path        string
	ContentType string
	// Target is the X-Amz-Target header of the AWS JSON protocols
	// ("AWSEvents.PutEvents"), empty for REST JSON.
	Target string
	Body   []byte
}

// Do sends r and decodes a 2xx answer into out, retrying what the retryer
// deems retryable (throttling, 5xx, connection errors and attempt
// timeouts, with the standard retryer) while ctx and the budget last.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	if c.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Budget)
		defer cancel()
	}
	sum := sha256.Sum256(r.Body)
	hash := hex.EncodeToString(sum[:])
	var releaseRetry func(error) error
	for attempt := 1; ; attempt++ {
		release, err := c.attemptToken(ctx, attempt)
		if err != nil {
			return fmt.Errorf("%s at %s (attempt %d): retry quota: %w", r.Op, c.endpoint, attempt, err)
		}
		err = c.attempt(ctx, &r, hash, out)
		// The tokens are the retryer's accounting (a quota, when it has
		// one): given back with the attempt's outcome, as the SDK does.
		_ = release(err)
		if releaseRetry != nil {
			_ = releaseRetry(err)
			releaseRetry = nil
		}
		if err == nil {
			return nil
		}
		err = fmt.Errorf("%s at %s (attempt %d): %w", r.Op, c.endpoint, attempt, err)
		if ctx.Err() != nil || attempt >= c.retryer.MaxAttempts() || !c.retryer.IsErrorRetryable(err) {
			return err
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return errors.Join(err, derr)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			return fmt.Errorf("%w (no time left for another attempt)", err)
		}
		if releaseRetry, derr = c.retryer.GetRetryToken(ctx, err); derr != nil {
			return errors.Join(err, derr)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", err, ctx.Err())
		case <-t.C:
		}
	}
}

// attemptToken is the retryer's token for one attempt: per attempt from a
// RetryerV2 (the standard retryer is one), else for the first only.
func (c *Client) attemptToken(ctx context.Context, attempt int) (func(error) error, error) {
	if r, ok := c.retryer.(aws.RetryerV2); ok {
		return r.GetAttemptToken(ctx)
	}
	if attempt == 1 {
		return c.retryer.GetInitialToken(), nil
	}
	return func(error) error { return nil }, nil
}

// attempt sends one signed request.
func (c *Client) attempt(ctx context.Context, r *Request, hash string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+r.Path, bytes.NewReader(r.Body))
	if err != nil {
		return fmt.Errorf("request to %s: %w", c.endpoint+r.Path, err)
	}
	req.Header.Set("Content-Type", r.ContentType)
	if r.Target != "" {
		req.Header.Set("X-Amz-Target", r.Target)
	}
	if c.cfg.Credentials == nil {
		return errors.New("no credentials")
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, hash, c.svc.SigningName, c.cfg.Region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// The SDK's retryer knows a send failure by this type.
		return &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return &smithyhttp.RequestSendError{Err: fmt.Errorf("read the answer: %w", err)}
	}
	if len(data) > MaxAnswer {
		return fmt.Errorf("answer (HTTP %d) over %d bytes", resp.StatusCode, MaxAnswer)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer (HTTP %d, %d bytes): %w", resp.StatusCode, len(data), err)
	}
	return nil
}

// APIError is an error answer of the service. ErrorCode and
// HTTPStatusCode are what the SDK's retryers look for.
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Status)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// ErrorCode is the error's code, e.g. ThrottlingException.
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *APIError) ErrorMessage() string { return e.Message }

// HTTPStatusCode is the answer's status.
func (e *APIError) HTTPStatusCode() int { return e.Status }

// apiError reads AWS's JSON error shape, the same in REST JSON and AWS
// JSON 1.0/1.1: the code in the X-Amzn-ErrorType header or the body's
// __type or code, the message in message or Message; a code may carry a
// namespace (aws.protocoltests#Code) or a URI (Code:http://...), which are
// dropped as the SDK drops them.
func apiError(resp *http.Response, data []byte) *APIError {
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-Requestid")}
	var b struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	if json.Unmarshal(data, &b) != nil {
		e.Message = strings.TrimSpace(string(data[:min(len(data), 256)]))
	}
	e.Code = resp.Header.Get("X-Amzn-Errortype")
	for _, c := range []string{b.Type, b.Code} {
		if e.Code == "" {
			e.Code = c
		}
	}
	if i := strings.IndexByte(e.Code, ':'); i >= 0 {
		e.Code = e.Code[:i]
	}
	if i := strings.LastIndexByte(e.Code, '#'); i >= 0 {
		e.Code = e.Code[i+1:]
	}
	if e.Message == "" {
		e.Message = b.Message
		if e.Message == "" {
			e.Message = b.MessageU
		}
	}
	return e
}

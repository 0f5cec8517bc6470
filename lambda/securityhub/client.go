// Package securityhub is the function's Security Hub client: exactly
// BatchImportFindings and GetFindings, over the REST JSON protocol, signed
// with the SDK's SigV4 signer, with the aws.Config's credentials, HTTP
// client and retryer.
//
// Why not the SDK's client: its BatchImportFindings and GetFindings
// serializers and deserializers reach every ASFF resource-details type
// (3.3 MiB of the 14.8 MiB arm64 bootstrap), and the function already holds
// each finding as ASFF JSON (lambda/finding): the SDK's client would decode
// it into its types only to encode it again. The SDK offers no way to send
// an operation's body as is: an operation's serializer is linked whenever
// the operation is.
package securityhub

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
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// SigningName and SDKID name the service to SigV4 and to the SDK's
// configuration (AWS_ENDPOINT_URL_SECURITYHUB, a profile's services
// section).
const (
	SigningName = "securityhub"
	SDKID       = "SecurityHub"
)

// maxAnswer bounds what is read of one answer: a GetFindings page of 20
// findings is far smaller.
const maxAnswer = 16 << 20

// Client calls Security Hub.
type Client struct {
	cfg      aws.Config
	endpoint string
	retryer  aws.Retryer
	signer   *v4.Signer
	// Budget, when set, bounds a call: all its attempts and backoff.
	Budget time.Duration
}

// New returns a client for cfg's region, credentials, HTTP client and
// retryer, at the endpoint the SDK's own client would use.
func New(cfg aws.Config) (*Client, error) {
	if cfg.Region == "" {
		return nil, errors.New("securityhub: no region")
	}
	endpoint, err := resolveEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, endpoint: strings.TrimSuffix(endpoint, "/"), signer: v4.NewSigner()}
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

// resolveEndpoint follows the SDK's client (service/securityhub,
// resolveBaseEndpoint): AWS_ENDPOINT_URL_SECURITYHUB or the configuration's
// services section, else cfg.BaseEndpoint (AWS_ENDPOINT_URL), else the
// partition's endpoint from the SDK's own rules.
func resolveEndpoint(cfg aws.Config) (string, error) {
	base := aws.ToString(cfg.BaseEndpoint)
	_, global := os.LookupEnv("AWS_ENDPOINT_URL")
	_, service := os.LookupEnv("AWS_ENDPOINT_URL_SECURITYHUB")
	if !global || service {
		if v, ok := serviceEndpoint(cfg.ConfigSources); ok {
			base = v
		}
	}
	if base != "" {
		return base, nil
	}
	params := securityhub.EndpointParameters{Region: aws.String(cfg.Region)}
	for _, s := range cfg.ConfigSources {
		if p, ok := s.(interface {
			GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error)
		}); ok {
			if v, found, err := p.GetUseFIPSEndpoint(context.Background()); err == nil && found {
				params.UseFIPS = aws.Bool(v == aws.FIPSEndpointStateEnabled)
			}
		}
		if p, ok := s.(interface {
			GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error)
		}); ok {
			if v, found, err := p.GetUseDualStackEndpoint(context.Background()); err == nil && found {
				params.UseDualStack = aws.Bool(v == aws.DualStackEndpointStateEnabled)
			}
		}
	}
	ep, err := securityhub.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), params)
	if err != nil {
		return "", fmt.Errorf("securityhub: endpoint of region %q: %w", cfg.Region, err)
	}
	return ep.URI.String(), nil
}

// serviceEndpoint is the SDK's internal configsources.ResolveServiceBaseEndpoint
// (an internal package: not importable).
func serviceEndpoint(sources []any) (string, bool) {
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
			v, found, err := p.GetServiceBaseEndpoint(context.Background(), SDKID)
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

// BatchImportFindingsOutput is BatchImportFindings' answer. It is 200 even
// when findings are refused: FailedCount and FailedFindings say which.
type BatchImportFindingsOutput struct {
	FailedCount    *int                  `json:"FailedCount"`
	SuccessCount   *int                  `json:"SuccessCount"`
	FailedFindings []ImportFindingsError `json:"FailedFindings"`
}

// ImportFindingsError is one refused finding.
type ImportFindingsError struct {
	ID           string `json:"Id"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// BatchImportFindings imports findings, each an ASFF finding as JSON (at
// most 100 a call).
func (c *Client) BatchImportFindings(ctx context.Context, findings []json.RawMessage) (*BatchImportFindingsOutput, error) {
	body, err := json.Marshal(struct {
		Findings []json.RawMessage `json:"Findings"`
	}{findings})
	if err != nil {
		return nil, fmt.Errorf("BatchImportFindings of %d findings: %w", len(findings), err)
	}
	var out BatchImportFindingsOutput
	if err := c.call(ctx, "BatchImportFindings", "/findings/import", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetFindingsInput asks for the findings with the given IDs (at most 20: a
// filter field's limit).
type GetFindingsInput struct {
	IDs        []string
	MaxResults int
	NextToken  string
}

// GetFindingsOutput is one page of findings, each as Security Hub wrote it.
type GetFindingsOutput struct {
	Findings  []json.RawMessage `json:"Findings"`
	NextToken string            `json:"NextToken"`
}

type stringFilter struct {
	Comparison string `json:"Comparison"`
	Value      string `json:"Value"`
}

// GetFindings reads one page of the findings in.IDs.
func (c *Client) GetFindings(ctx context.Context, in *GetFindingsInput) (*GetFindingsOutput, error) {
	req := struct {
		Filters struct {
			ID []stringFilter `json:"Id,omitempty"`
		} `json:"Filters"`
		MaxResults int    `json:"MaxResults,omitempty"`
		NextToken  string `json:"NextToken,omitempty"`
	}{MaxResults: in.MaxResults, NextToken: in.NextToken}
	for _, id := range in.IDs {
		req.Filters.ID = append(req.Filters.ID, stringFilter{Comparison: "EQUALS", Value: id})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("GetFindings of %d IDs: %w", len(in.IDs), err)
	}
	var out GetFindingsOutput
	if err := c.call(ctx, "GetFindings", "/findings", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// call POSTs body to path and decodes the answer into out, retrying what
// the retryer deems retryable (throttling, 5xx, connection errors and
// attempt timeouts, with the standard retryer) while ctx and the budget
// last.
func (c *Client) call(ctx context.Context, op, path string, body []byte, out any) error {
	if c.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Budget)
		defer cancel()
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	var releaseRetry func(error) error
	for attempt := 1; ; attempt++ {
		release, err := c.attemptToken(ctx, attempt)
		if err != nil {
			return fmt.Errorf("%s at %s (attempt %d): retry quota: %w", op, c.endpoint, attempt, err)
		}
		err = c.attempt(ctx, path, body, hash, out)
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
		err = fmt.Errorf("%s at %s (attempt %d): %w", op, c.endpoint, attempt, err)
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
func (c *Client) attempt(ctx context.Context, path string, body []byte, hash string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request to %s: %w", c.endpoint+path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.Credentials == nil {
		return errors.New("no credentials")
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, hash, SigningName, c.cfg.Region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// The SDK's retryer knows a send failure by this type.
		return &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &smithyhttp.RequestSendError{Err: fmt.Errorf("read the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer (HTTP %d, %d bytes): %w", resp.StatusCode, len(data), err)
	}
	return nil
}

// APIError is an error answer of Security Hub. ErrorCode and
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

// ErrorCode is the error's code, e.g. TooManyRequestsException.
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *APIError) ErrorMessage() string { return e.Message }

// HTTPStatusCode is the answer's status.
func (e *APIError) HTTPStatusCode() int { return e.Status }

// apiError reads AWS's REST JSON error shape: the code in the
// X-Amzn-ErrorType header or the body's __type or code, the message in
// message or Message; a code may carry a namespace (aws.protocoltests#Code)
// or a URI (Code:http://...), which are dropped as the SDK drops them.
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

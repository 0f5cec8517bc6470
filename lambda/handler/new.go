package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/ownrole"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
	"github.com/s3xguard/s3xguard/lambda/securityhub"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// Time limits of every AWS call (README, "Time discipline").
const (
	// AttemptTimeout bounds one HTTP attempt, so a call that hangs is cut
	// and retried instead of waiting for the function's timeout. Not
	// shorter: an attempt cut while the service is merely slow may still
	// take effect, and a retried publish is then a duplicate alert.
	AttemptTimeout = 5 * time.Second
	// CallBudget bounds one call: all its attempts and backoff.
	CallBudget = 15 * time.Second
	// MaxAttempts and MaxBackoff: throttling, 5xx, timeouts and connection
	// errors are retried with jittered exponential backoff capped here.
	MaxAttempts = 5
	MaxBackoff  = 2 * time.Second
	// StateAttemptTimeout and StateCallBudget bound the state table's
	// calls more tightly: DynamoDB answers in milliseconds, every alert
	// waits on its claim, and a table that hangs must not hold each alert
	// invocation for the whole CallBudget (at reserved concurrency 20,
	// 15 s per invocation caps paging near 1.3 alerts a second). Its writes
	// are conditional on their owner, so an attempt cut while merely slow
	// is safe to retry.
	StateAttemptTimeout = 2 * time.Second
	StateCallBudget     = 3 * time.Second
	// FindingsBudget bounds the Security Hub import after the pages: the
	// findings are a copy of what was paged, and a Security Hub that hangs
	// must not hold the invocation (and its concurrency slot) any longer.
	FindingsBudget = 2 * time.Second
)

// LoadAWS loads the SDK configuration from the environment (region,
// credentials, AWS_ENDPOINT_URL*, AWS_S3_DISABLE_EXPRESS_SESSION_AUTH),
// with the time limits above. The retryer has no retry quota: the SDK's
// default token bucket (500 tokens, 5 per retry, 10 per timeout) runs dry
// after a burst of failures and then allows a single attempt per call,
// which is when a paging system needs its retries most.
func LoadAWS(ctx context.Context, opts ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		// The operator's --profile and --region (s3xguard quarantine).
		func(o *awsconfig.LoadOptions) error {
			for _, opt := range opts {
				if err := opt(o); err != nil {
					return err
				}
			}
			return nil
		},
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(AttemptTimeout)),
		awsconfig.WithRetryer(func() aws.Retryer { return retry.NewStandard(standardRetries) }),
		awsconfig.WithAPIOptions([]func(*middleware.Stack) error{callBudget("s3xguardCallBudget", CallBudget)}),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("aws configuration: AWS_REGION is not set")
	}
	return cfg, nil
}

func standardRetries(o *retry.StandardOptions) {
	o.MaxAttempts = MaxAttempts
	o.MaxBackoff = MaxBackoff
	o.RateLimiter = ratelimit.None
}

// NewSNS returns the SNS client for pages. It retries a publish only when
// SNS answered (throttling, 5xx) or the connection was never made: a
// publish whose answer was lost or came too late may have been delivered,
// and the SDK's own retry would deliver it again, unflagged (5 copies of
// one alert with 5 attempts). Such a publish fails instead, and the
// event's retry publishes it again, flagged as a possible duplicate.
func NewSNS(awsCfg aws.Config) *sns.Client {
	return sns.NewFromConfig(awsCfg, func(o *sns.Options) {
		o.Retryer = retry.NewStandard(standardRetries, func(o *retry.StandardOptions) {
			o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if MaybeDelivered(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary // the standard rules
			})}, o.Retryables...)
		})
	})
}

// MaybeDelivered reports whether a failed call may have taken effect: it
// was sent, and no answer came back (reset, timeout, cancelled). An error
// answer (throttling, 4xx, 5xx) or a connection never made did not.
func MaybeDelivered(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	// A send error is wrapped in a response error of status 0: test it first.
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		return false
	}
	var ce *aws.RequestCanceledError
	return errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// callBudget bounds each call, attempts and backoff included, by d (or the
// caller's deadline, when sooner).
func callBudget(id string, d time.Duration) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc(id,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// NewStateDB returns the state table's client, with its tighter bounds.
func NewStateDB(awsCfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(StateAttemptTimeout)
		o.APIOptions = append(o.APIOptions, callBudget("s3xguardStateBudget", StateCallBudget))
	})
}

// NewQuarantiner returns a Quarantiner for the region of awsCfg and the
// account its credentials belong to (looked up with sts:GetCallerIdentity
// on first need), with default limits; callers set the rest.
func NewQuarantiner(awsCfg aws.Config, store *state.Store) *quarantine.Quarantiner {
	stsc := sts.NewFromConfig(awsCfg)
	return &quarantine.Quarantiner{
		S3:     s3.NewFromConfig(awsCfg),
		IAM:    iam.NewFromConfig(awsCfg),
		Store:  store,
		Region: awsCfg.Region,
		Identify: func(ctx context.Context) (rules.Principal, error) {
			id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return rules.Principal{}, fmt.Errorf("who am i (sts:GetCallerIdentity): %w", err)
			}
			return rules.PrincipalOf(cloudtrail.Identity{ARN: aws.ToString(id.Arn), AccountID: aws.ToString(id.Account)}), nil
		},
	}
}

// New builds the handler at cold start: configuration validated, allowlist
// compiled, clients made, and the function's own identity looked up once.
func New(cfg *config.Config, awsCfg aws.Config, stdout io.Writer) (*Handler, error) {
	allow, err := LoadAllowlist(cfg.AllowlistPath, cfg.AllowlistSHA256)
	if err != nil {
		return nil, err
	}
	store := &state.Store{DB: NewStateDB(awsCfg), Table: cfg.StateTable}
	q := NewQuarantiner(awsCfg, store)
	q.Protected, q.ProtectedARNs = allow.IsProtected, allow.Protected()
	q.TTL, q.IAMResponse, q.DenyPolicyARN, q.RevokeSessions = cfg.QuarantineTTL, cfg.IAMResponse, cfg.IAMDenyPolicyARN, cfg.RevokeSessions
	q.Breaker = state.Breaker{PerBucket: cfg.MaxQuarantinesBucketHour, Global: cfg.MaxQuarantinesHour}
	q.SessionTarget = cfg.Target == config.TargetSession
	q.BreakGlass, q.CDKQualifier = rules.PrincipalOf(cloudtrail.Identity{ARN: cfg.BreakGlassRoleARN}), cfg.CDKQualifier
	for b := range cfg.GuardedBuckets {
		q.Buckets = append(q.Buckets, b)
	}
	own, err := ownrole.Parse(cfg.FunctionRoleARN)
	if err != nil {
		return nil, fmt.Errorf("FUNCTION_ROLE_ARN: %w", err)
	}
	snsc := NewSNS(awsCfg)
	log := slog.New(requestIDHandler{slog.NewJSONHandler(stdout, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr})})
	log.Info("cold start", "mode", cfg.Mode, "sessionCheck", cfg.SessionCheck, "allowlist", cfg.AllowlistPath, "allowEntries", len(allow.Entries), "region", q.Region)
	var hub SecurityHubAPI
	if cfg.Findings == config.FindingsSecurityHub {
		c, err := securityhub.New(awsCfg)
		if err != nil {
			return nil, err
		}
		// LoadAWS's call budget is SDK middleware: this client is not the SDK's.
		c.Budget = CallBudget
		hub = c
	}
	bus, err := NewEmitter(awsCfg, cfg.AlertBus)
	if err != nil {
		return nil, err
	}
	return &Handler{
		SecurityHub: hub,
		Bus:         bus,
		Config:      cfg,
		Allowlist:   allow,
		Store:       store,
		Alerts:      &alert.Publisher{SNS: snsc, Topic: cfg.AlertTopicARN},
		Health:      &alert.Publisher{SNS: snsc, Topic: cfg.HealthTopic()},
		Quarantine:  q,
		Own:         own,
		Log:         log,
		Metrics:     &Metrics{W: stdout, Namespace: "s3xguard", Mode: string(cfg.Mode)},
	}, nil
}

// LoadAllowlist reads and compiles the allowlist at path. With want set
// (config.AllowlistSHA256: in Lambda, the digest linked into the binary
// when the stack bundled the allowlist), a file with any other content
// fails: an allowlist changed in place, pointed elsewhere by ALLOWLIST, or
// left from another build must not run in place of the one deployed.
func LoadAllowlist(path, want string) (*rules.Allowlist, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("allowlist (ALLOWLIST=%q): %w", path, err)
	}
	if got := config.AllowlistDigest(data); want != "" && got != want {
		return nil, fmt.Errorf("allowlist (ALLOWLIST=%q): its SHA-256 is %s, not %s (ALLOWLIST_SHA256, the allowlist this binary was built with): redeploy the stack", path, got, want)
	}
	allow, err := rules.Parse(path, data)
	if err != nil {
		return nil, fmt.Errorf("allowlist (ALLOWLIST=%q): %w", path, err)
	}
	return allow, nil
}

// requestIDHandler adds the invocation's request ID to every log line.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}

func (h requestIDHandler) WithGroup(n string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(n)}
}

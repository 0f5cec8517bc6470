// Package config reads the function's configuration from its environment,
// once, at cold start. Every error names the variable and the bad value.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// Mode is what the function does about an unauthorized event.
type Mode string

const (
	// ModeAlert alerts and changes nothing (the default).
	ModeAlert Mode = "alert"
	// ModeDryRun alerts with the exact change it would make.
	ModeDryRun Mode = "dry-run"
	// ModeEnforce alerts and quarantines.
	ModeEnforce Mode = "enforce"
)

// KeyDisplay is how alerts print object keys.
type KeyDisplay string

const (
	KeysShow     KeyDisplay = "show"
	KeysTruncate KeyDisplay = "truncate"
	KeysRedact   KeyDisplay = "redact"
)

// Config is the function's validated configuration.
type Config struct {
	AlertTopicARN      string
	StateTable         string
	Mode               Mode
	DedupWindow        time.Duration
	MaxQuarantinesHour int
	QuarantineTTL      time.Duration
	IAMResponse        bool
	AllowlistPath      string
	// AllowlistSHA256 is the hex SHA-256 of the allowlist the function may
	// load: the digest compiled into the binary (PinFlag), else, outside
	// Lambda only, ALLOWLIST_SHA256. When set, the cold start refuses any
	// other file.
	AllowlistSHA256 string
	ObjectKeys      KeyDisplay
	// GuardedBuckets is nil when every bucket is guarded (`*`).
	GuardedBuckets map[string]bool

	// AccountID and Region are where the function runs and what it guards:
	// an event from elsewhere is never acted on (it could be forged).
	AccountID string
	Region    string
	// FunctionRoleARN is the function's own execution role: its own bucket
	// policy writes come back as events and must not page.
	FunctionRoleARN string
	// AlertBus, when set, receives one EventBridge event per alert sent and
	// per quarantine released (name or ARN): for chat, pagers, webhooks.
	AlertBus string
	// HealthTopicARN receives pages about the guard itself (breaker tripped,
	// expiry, drift); empty means the alert topic.
	HealthTopicARN string
	// BreakGlassRoleARN is the role on-call repairs with: never
	// quarantined. Empty when not configured.
	BreakGlassRoleARN string
	// IAMDenyPolicyARN is the one managed deny policy the IAM response may
	// attach (created by the stack).
	IAMDenyPolicyARN string
	// RevokeSessions also revokes a quarantined role's live sessions.
	RevokeSessions bool
	// Target is what the bucket deny names: the role, or only the session.
	Target Target
	// MaxQuarantinesBucketHour is the per-bucket breaker ceiling;
	// MaxQuarantinesHour stays the global one.
	MaxQuarantinesBucketHour int
	// QuarantineFailedCalls quarantines callers whose call failed
	// (errorCode set); off, they are only alerted.
	QuarantineFailedCalls bool
	// BatchParallelism is how many messages of one SQS batch are handled
	// at once.
	BatchParallelism int
	// Findings is where each alert is also sent as a finding:
	// FindingsSecurityHub, or "" (FINDINGS=off, the default).
	Findings string
	// SessionCheck is what a zonal call from another network than its
	// session was created from gives: nothing, an alert, or an alert and a
	// quarantine (as RESPONSE_MODE says).
	SessionCheck SessionCheck
	// SessionTolerance is how far from its session's network a call may
	// come and still be the same network.
	SessionTolerance session.Tolerance
	// CDKQualifier is the CDK bootstrap qualifier of the deployment
	// (CDK_QUALIFIER, default hnb659fds): its roles are the pipeline's,
	// never quarantined.
	CDKQualifier string
}

// FindingsSecurityHub sends each alert to Security Hub as an ASFF finding.
const FindingsSecurityHub = "securityhub"

// SessionCheck is what the function does about a moved session.
type SessionCheck string

const (
	// SessionOff looks up sessions only to attribute alerts (the default).
	SessionOff SessionCheck = "off"
	// SessionAlert alerts on a moved session (kind session-moved).
	SessionAlert SessionCheck = "alert"
	// SessionEnforce also quarantines its principal, as RESPONSE_MODE says.
	SessionEnforce SessionCheck = "enforce"
)

// MaxBatchParallelism bounds BATCH_PARALLELISM: each message in flight
// holds its own AWS calls, and the function's memory and the account's API
// rates are shared by them all.
const MaxBatchParallelism = 32

// Target is what a quarantine denies.
type Target string

const (
	// TargetRole denies the role (every session of it): the default.
	TargetRole Target = "role"
	// TargetSession denies one role session, for roles shared by many.
	TargetSession Target = "session"
)

// HealthTopic is where pages about the guard itself go.
func (c *Config) HealthTopic() string {
	if c.HealthTopicARN != "" {
		return c.HealthTopicARN
	}
	return c.AlertTopicARN
}

// Guards reports whether bucket is one the function may quarantine on.
func (c *Config) Guards(bucket string) bool {
	return c.GuardedBuckets == nil || c.GuardedBuckets[bucket]
}

// FromEnv reads the configuration through getenv (os.Getenv in the
// function). It reports every bad variable, not only the first.
func FromEnv(getenv func(string) string) (*Config, error) {
	var errs []error
	bad := func(name, value, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, value, want))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{}

	c.AlertTopicARN = get("ALERT_TOPIC_ARN", "")
	if !isTopic(c.AlertTopicARN) {
		bad("ALERT_TOPIC_ARN", c.AlertTopicARN, "want an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)")
	}
	c.StateTable = get("STATE_TABLE", "")
	if c.StateTable == "" {
		bad("STATE_TABLE", c.StateTable, "want the DynamoDB state table's name")
	}

	switch m := Mode(get("RESPONSE_MODE", string(ModeAlert))); m {
	case ModeAlert, ModeDryRun, ModeEnforce:
		c.Mode = m
	default:
		bad("RESPONSE_MODE", string(m), "want alert, dry-run or enforce")
	}

	duration := func(name, def string, min time.Duration) time.Duration {
		v := get(name, def)
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			bad(name, v, fmt.Sprintf("want a Go duration of at least %v, like %s", min, def))
		}
		return d
	}
	c.DedupWindow = duration("DEDUP_WINDOW", "5m", time.Second)
	// 0 means never: a quarantine stays until released by hand.
	if v := get("QUARANTINE_TTL", "24h"); v != "0" {
		c.QuarantineTTL = duration("QUARANTINE_TTL", "24h", time.Second)
	}

	count := func(name, def string) int {
		v := get(name, def)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad(name, v, "want an integer >= 0")
		}
		return n
	}
	c.MaxQuarantinesHour = count("QUARANTINE_MAX_PER_HOUR", "5")
	c.MaxQuarantinesBucketHour = count("QUARANTINE_MAX_PER_BUCKET_HOUR", "3")
	v := get("BATCH_PARALLELISM", "4")
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > MaxBatchParallelism {
		bad("BATCH_PARALLELISM", v, fmt.Sprintf("want an integer from 1 to %d", MaxBatchParallelism))
	} else {
		c.BatchParallelism = n
	}

	onOff := func(name string) bool {
		switch v := get(name, "off"); v {
		case "on":
			return true
		case "off":
			return false
		default:
			bad(name, v, "want on or off")
			return false
		}
	}
	c.IAMResponse = onOff("IAM_RESPONSE")
	c.RevokeSessions = onOff("REVOKE_SESSIONS")
	c.QuarantineFailedCalls = onOff("QUARANTINE_FAILED_CALLS")

	switch t := Target(get("QUARANTINE_TARGET", string(TargetRole))); t {
	case TargetRole, TargetSession:
		c.Target = t
	default:
		bad("QUARANTINE_TARGET", string(t), "want role or session")
	}

	switch sc := SessionCheck(get("SESSION_CHECK", string(SessionOff))); sc {
	case SessionOff, SessionAlert, SessionEnforce:
		c.SessionCheck = sc
	default:
		bad("SESSION_CHECK", string(sc), "want off, alert or enforce")
	}
	v = get("SESSION_TOLERANCE", "24,64")
	if tol, err := session.ParseTolerance(v); err != nil {
		bad("SESSION_TOLERANCE", v, "want IPv4 and IPv6 prefix lengths (0 to 32, 0 to 128), like 24,64")
	} else {
		c.SessionTolerance = tol
	}

	c.AccountID = get("ACCOUNT_ID", "")
	if !rules.IsAccountID(c.AccountID) {
		bad("ACCOUNT_ID", c.AccountID, "want the 12-digit account the function runs in")
	}
	c.Region = get("AWS_REGION", "")
	if c.Region == "" {
		bad("AWS_REGION", c.Region, "want the function's region (Lambda sets it)")
	}
	c.FunctionRoleARN = get("FUNCTION_ROLE_ARN", "")
	if c.FunctionRoleARN != "" && !(strings.HasPrefix(c.FunctionRoleARN, "arn:") && strings.Contains(c.FunctionRoleARN, ":iam::"+c.AccountID+":role/")) {
		bad("FUNCTION_ROLE_ARN", c.FunctionRoleARN, "want the function's execution role ARN (arn:PARTITION:iam::ACCOUNT_ID:role/NAME)")
	}
	c.BreakGlassRoleARN = get("BREAK_GLASS_ROLE_ARN", "")
	if c.BreakGlassRoleARN != "" && !(strings.HasPrefix(c.BreakGlassRoleARN, "arn:") && strings.Contains(c.BreakGlassRoleARN, ":iam::"+c.AccountID+":role/")) {
		bad("BREAK_GLASS_ROLE_ARN", c.BreakGlassRoleARN, "want the break-glass role ARN (arn:PARTITION:iam::ACCOUNT_ID:role/[PATH/]NAME), or unset")
	}
	c.HealthTopicARN = get("HEALTH_TOPIC_ARN", "")
	if c.HealthTopicARN != "" && !isTopic(c.HealthTopicARN) {
		bad("HEALTH_TOPIC_ARN", c.HealthTopicARN, "want an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME), or unset for the alert topic")
	}
	c.AlertBus = get("ALERT_BUS", "")
	if c.AlertBus != "" && !isBus(c.AlertBus) {
		bad("ALERT_BUS", c.AlertBus, "want an event bus name or ARN (arn:PARTITION:events:REGION:ACCOUNT:event-bus/NAME)")
	}
	c.IAMDenyPolicyARN = get("IAM_DENY_POLICY_ARN", "")
	if c.IAMDenyPolicyARN != "" && !strings.Contains(c.IAMDenyPolicyARN, ":iam::"+c.AccountID+":policy/") {
		bad("IAM_DENY_POLICY_ARN", c.IAMDenyPolicyARN, "want the stack's managed deny policy ARN (arn:PARTITION:iam::ACCOUNT_ID:policy/NAME)")
	}
	if c.IAMResponse && c.IAMDenyPolicyARN == "" {
		bad("IAM_DENY_POLICY_ARN", "", "required with IAM_RESPONSE=on: the stack's managed deny policy, the only policy the IAM response attaches")
	}
	if c.RevokeSessions && !c.IAMResponse {
		bad("REVOKE_SESSIONS", "on", "needs IAM_RESPONSE=on")
	}

	c.AllowlistPath = get("ALLOWLIST", "")
	if c.AllowlistPath == "" {
		root := get("LAMBDA_TASK_ROOT", "")
		if root == "" {
			bad("ALLOWLIST", "", "want the allowlist's path (or LAMBDA_TASK_ROOT set, for $LAMBDA_TASK_ROOT/allowlist.yaml)")
		}
		c.AllowlistPath = filepath.Join(root, "allowlist.yaml")
	}

	// The digest that counts is the one linked into the binary: whoever
	// can change the function's configuration (ALLOWLIST, ALLOWLIST_SHA256)
	// cannot change its code without redeploying it. In Lambda a binary
	// without one refuses to start; the environment's digest, when set,
	// must agree with it, so what doctor reads there is what runs.
	inLambda := getenv("AWS_LAMBDA_RUNTIME_API") != ""
	envDigest := strings.ToLower(get("ALLOWLIST_SHA256", ""))
	pinned := strings.ToLower(bundledAllowlistSHA256)
	switch {
	case pinned != "" && !isSHA256(pinned):
		bad("ALLOWLIST_SHA256", pinned, "the digest compiled into this binary is not 64 hex digits: rebuild it with the stack (BuildFunction)")
	case envDigest != "" && !isSHA256(envDigest):
		bad("ALLOWLIST_SHA256", envDigest, "want the allowlist's SHA-256 as 64 hex digits, or unset")
	case pinned != "" && envDigest != "" && envDigest != pinned:
		bad("ALLOWLIST_SHA256", envDigest, fmt.Sprintf("this binary was built for the allowlist with SHA-256 %s: its code and configuration come from different deployments; redeploy the stack", pinned))
	case pinned != "":
		c.AllowlistSHA256 = pinned
	case inLambda:
		bad("ALLOWLIST_SHA256", envDigest, "this binary has no allowlist digest compiled in, and in Lambda the configuration alone cannot vouch for the allowlist: build the function with the stack (BuildFunction links the bundled allowlist's digest)")
	default:
		// A local run of a binary built by hand: the environment's digest,
		// if any, still guards against the wrong file.
		c.AllowlistSHA256 = envDigest
	}

	c.CDKQualifier = get("CDK_QUALIFIER", "hnb659fds")
	if !isQualifier(c.CDKQualifier) {
		bad("CDK_QUALIFIER", c.CDKQualifier, "want the CDK bootstrap qualifier: 1 to 10 letters, digits, _ or -")
	}

	switch k := KeyDisplay(get("OBJECT_KEYS", string(KeysTruncate))); k {
	case KeysShow, KeysTruncate, KeysRedact:
		c.ObjectKeys = k
	default:
		bad("OBJECT_KEYS", string(k), "want show, truncate or redact")
	}

	if v := get("GUARDED_BUCKETS", "*"); v != "*" {
		c.GuardedBuckets = map[string]bool{}
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			if !strings.HasSuffix(b, "--x-s3") {
				bad("GUARDED_BUCKETS", v, fmt.Sprintf("%q is not a directory bucket name (BASE--AZID--x-s3); want a comma-separated list of them, or *", b))
				break
			}
			c.GuardedBuckets[b] = true
		}
	}

	switch v := get("FINDINGS", "off"); v {
	case "off":
	case FindingsSecurityHub:
		c.Findings = v
	default:
		bad("FINDINGS", v, "want securityhub (each alert also sent to Security Hub as a finding) or off")
	}

	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// bundledAllowlistSHA256 is set at link time (PinFlag) to the digest of
// the allowlist bundled beside the binary; empty in a binary built by hand.
var bundledAllowlistSHA256 string

// PinFlag is the -ldflags argument that compiles digest (AllowlistDigest
// of the allowlist bundled beside the binary) into the function.
func PinFlag(digest string) string {
	return "-X github.com/s3xguard/s3xguard/lambda/config.bundledAllowlistSHA256=" + digest
}

// PinnedAllowlistSHA256 is the allowlist digest compiled into this binary,
// or "" when none was.
func PinnedAllowlistSHA256() string { return bundledAllowlistSHA256 }

// AllowlistDigest is how ALLOWLIST_SHA256 names an allowlist file: the
// SHA-256 of its bytes, in lowercase hex (what `sha256sum` prints).
func AllowlistDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func isSHA256(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

// isQualifier reports whether q is a CDK bootstrap qualifier (the
// bootstrap template's pattern [A-Za-z0-9_-]{1,10}).
func isQualifier(q string) bool {
	if len(q) < 1 || len(q) > 10 {
		return false
	}
	for _, r := range q {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func isTopic(arn string) bool {
	return strings.HasPrefix(arn, "arn:") && strings.Count(arn, ":") == 5 && strings.Contains(arn, ":sns:")
}

// isBus reports whether s is an event bus name (PutEvents' EventBusName
// takes 1 to 256 of [/.-_A-Za-z0-9]) or an event bus ARN.
func isBus(s string) bool {
	if strings.HasPrefix(s, "arn:") {
		parts := strings.SplitN(s, ":", 6)
		return len(parts) == 6 && parts[2] == "events" && strings.HasPrefix(parts[5], "event-bus/") && isBus(parts[5][len("event-bus/"):])
	}
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)) {
			return false
		}
	}
	return true
}

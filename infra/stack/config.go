// Package stack builds the s3xguard CloudFormation stack: the EventBridge
// rule, the function, its state table, the alert topic, alarms and an
// optional trail.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// Config is what a deployment chooses; see infra/s3xguard.example.json.
type Config struct {
	// Targets: one Stage (account, region) each.
	Targets []Target `json:"targets"`
	// Buckets to guard; empty or ["*"] guards every directory bucket of the
	// account (and widens the policy permissions to bucket/*).
	Buckets []string `json:"buckets"`
	// Allowlist is the YAML bundled with the function, relative to the
	// config file.
	Allowlist     string        `json:"allowlist"`
	Subscriptions Subscriptions `json:"subscriptions"`
	// HealthSubscriptions are the health topic's subscribers (pages about
	// the guard itself); nil means the alert topic's subscribers.
	HealthSubscriptions *Subscriptions `json:"healthSubscriptions"`
	// Routing sends alerts to chat, PagerDuty and webhooks through the
	// alert bus (routing.go); nil: the topics only.
	Routing *Routing `json:"routing"`
	// ResponseMode: alert (default), dry-run or enforce.
	ResponseMode         string `json:"responseMode"`
	DedupWindow          string `json:"dedupWindow"`
	QuarantineMaxPerHour *int   `json:"quarantineMaxPerHour"`
	// QuarantineMaxPerBucketHour is the per-bucket breaker, at most
	// QuarantineMaxPerHour (the global one).
	QuarantineMaxPerBucketHour *int `json:"quarantineMaxPerBucketHour"`
	// QuarantineTTL is a duration, or "0" for never.
	QuarantineTTL string `json:"quarantineTTL"`
	// QuarantineTarget: role (default) denies every session of the role,
	// session only the offending session (for shared roles).
	QuarantineTarget string `json:"quarantineTarget"`
	// QuarantineFailedCalls also quarantines callers whose call failed
	// (errorCode set); off, they are alerted only.
	QuarantineFailedCalls bool `json:"quarantineFailedCalls"`
	// Findings: "securityhub" also sends each alert to Security Hub as an
	// ASFF finding (FINDINGS); "" (the default) does not.
	Findings string `json:"findings"`
	// IAMResponse attaches the stack's managed deny policy to the
	// offending role or user of this account.
	IAMResponse bool `json:"iamResponse"`
	// RevokeSessions also revokes a quarantined role's live sessions (an
	// inline policy, so the function may write inline role policies: off by
	// default). Needs IAMResponse.
	RevokeSessions bool   `json:"revokeSessions"`
	ObjectKeys     string `json:"objectKeys"`
	// SessionCheck: off (default), alert or enforce: what a zonal call
	// from another network than its session was created from gives
	// (SESSION_CHECK); enforce quarantines as responseMode says.
	SessionCheck string `json:"sessionCheck"`
	// SessionTolerance: "V4,V6" prefix lengths of the same network
	// (SESSION_TOLERANCE, default "24,64").
	SessionTolerance string `json:"sessionTolerance"`
	// ReservedConcurrency caps (and reserves) the function's concurrency,
	// so a flood of events cannot exhaust the account's.
	ReservedConcurrency int `json:"reservedConcurrency"`
	// BreakGlassRoleArn is the role, besides the function's, that may write
	// the state table's items (on-call: `s3xguard quarantine release`) and
	// read the dead-letter and failed-invocation queues.
	BreakGlassRoleArn string `json:"breakGlassRoleArn"`
	// QueueEvents routes events through an SQS queue that the function
	// reads in batches, for buckets whose request rate would otherwise mean
	// one invocation per request.
	QueueEvents bool `json:"queueEvents"`
	// BatchParallelism is how many messages of one queued batch an
	// instance handles at once (1 to 32, default 4).
	BatchParallelism int `json:"batchParallelism"`
	// CreateTrail makes a trail for S3 Express data events. Leave it off
	// when an organization trail already logs them: a second trail doubles
	// the data event bill.
	CreateTrail bool `json:"createTrail"`
	// TrailLogDays is how long the trail's log files are kept.
	TrailLogDays int `json:"trailLogDays"`
	// SilenceAlarmHours: alarm when no S3 Express event arrived for this
	// long (1 to 24).
	SilenceAlarmHours int `json:"silenceAlarmHours"`

	dir string // the config file's directory
}

// Target is one account and region.
type Target struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

// Subscriptions are the alert topic's subscribers.
type Subscriptions struct {
	Email []string `json:"email"`
	SMS   []string `json:"sms"`
	HTTPS []string `json:"https"`
}

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.dir = dirOf(path)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return "."
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*--[a-z0-9-]+--x-s3$`)
	phoneRE  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// An IAM role ARN: names and path segments of IAM's own character set.
	roleARNRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$`)
)

// Concurrency bounds: the sweep needs one instance beside the events, and
// the SQS event source's maximum concurrency is at least 2; 1000 is the
// default account quota.
const (
	minReservedConcurrency     = 3
	maxReservedConcurrency     = 1000
	defaultReservedConcurrency = 20
	defaultBatchParallelism    = 4
)

// Validate fills defaults and reports every bad field with its value.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", field, value, want))
	}
	if len(c.Targets) == 0 {
		bad("targets", "[]", "want at least one {account, region}")
	}
	seen := map[Target]bool{}
	for i, t := range c.Targets {
		if !rules.IsAccountID(t.Account) {
			bad(fmt.Sprintf("targets[%d].account", i), fmt.Sprintf("%q", t.Account), "want a 12-digit account ID")
		}
		if !regionRE.MatchString(t.Region) {
			bad(fmt.Sprintf("targets[%d].region", i), fmt.Sprintf("%q", t.Region), "want a region such as us-east-1")
		}
		if seen[t] {
			bad(fmt.Sprintf("targets[%d]", i), t.Account+"/"+t.Region, "duplicate target")
		}
		seen[t] = true
	}
	if len(c.Buckets) == 1 && c.Buckets[0] == "*" {
		c.Buckets = nil
	}
	for i, b := range c.Buckets {
		if !bucketRE.MatchString(b) || len(b) > 63 {
			bad(fmt.Sprintf("buckets[%d]", i), fmt.Sprintf("%q", b), "want a directory bucket name, BASE--AZID--x-s3 (or the list [\"*\"] for all)")
		}
	}
	if c.Findings != "" && c.Findings != "securityhub" {
		bad("findings", fmt.Sprintf("%q", c.Findings), `want "securityhub", or "" for none`)
	}
	if c.Allowlist == "" {
		c.Allowlist = "../rules/allowlist.example.yaml"
	}
	if _, err := rules.Load(c.AllowlistPath()); err != nil {
		bad("allowlist", fmt.Sprintf("%q", c.Allowlist), err.Error())
	}
	c.Subscriptions.validate("subscriptions", bad)
	if c.HealthSubscriptions == nil {
		h := c.Subscriptions
		c.HealthSubscriptions = &h
	} else {
		c.HealthSubscriptions.validate("healthSubscriptions", bad)
	}
	c.Routing.validate(bad)
	switch c.ResponseMode {
	case "":
		c.ResponseMode = "alert"
	case "alert", "dry-run", "enforce":
	default:
		bad("responseMode", fmt.Sprintf("%q", c.ResponseMode), "want alert, dry-run or enforce")
	}
	c.DedupWindow = duration(c.DedupWindow, "5m", "dedupWindow", bad, "")
	if c.QuarantineTTL != "0" { // 0: never expires
		c.QuarantineTTL = duration(c.QuarantineTTL, "24h", "quarantineTTL", bad, ` (or "0" for never)`)
	}
	if c.QuarantineMaxPerHour == nil {
		five := 5
		c.QuarantineMaxPerHour = &five
	} else if *c.QuarantineMaxPerHour < 0 {
		bad("quarantineMaxPerHour", *c.QuarantineMaxPerHour, "want 0 or more")
	}
	if c.QuarantineMaxPerBucketHour == nil {
		n := min(3, max(*c.QuarantineMaxPerHour, 0))
		c.QuarantineMaxPerBucketHour = &n
	} else if n := *c.QuarantineMaxPerBucketHour; n < 0 || n > *c.QuarantineMaxPerHour {
		bad("quarantineMaxPerBucketHour", n, fmt.Sprintf("want 0 to quarantineMaxPerHour (%d): the global ceiling bounds every bucket", *c.QuarantineMaxPerHour))
	}
	switch c.QuarantineTarget {
	case "":
		c.QuarantineTarget = "role"
	case "role", "session":
	default:
		bad("quarantineTarget", fmt.Sprintf("%q", c.QuarantineTarget), "want role or session")
	}
	if c.RevokeSessions && !c.IAMResponse {
		bad("revokeSessions", true, "needs iamResponse: true (revocation is part of the IAM response)")
	}
	if c.ReservedConcurrency == 0 {
		c.ReservedConcurrency = defaultReservedConcurrency
	} else if c.ReservedConcurrency < minReservedConcurrency || c.ReservedConcurrency > maxReservedConcurrency {
		bad("reservedConcurrency", c.ReservedConcurrency, fmt.Sprintf("want %d to %d (one instance is kept for the sweep)", minReservedConcurrency, maxReservedConcurrency))
	}
	if c.BatchParallelism == 0 {
		c.BatchParallelism = defaultBatchParallelism
	} else if c.BatchParallelism < 1 || c.BatchParallelism > config.MaxBatchParallelism {
		bad("batchParallelism", c.BatchParallelism, fmt.Sprintf("want 1 to %d", config.MaxBatchParallelism))
	}
	if c.BreakGlassRoleArn == "" && c.ResponseMode == "enforce" {
		bad("breakGlassRoleArn", `""`, "required with responseMode enforce: the role on-call uses for `s3xguard quarantine release` (only it and the function may write the state table)")
	}
	if c.BreakGlassRoleArn != "" {
		if m := roleARNRE.FindStringSubmatch(c.BreakGlassRoleArn); m == nil {
			bad("breakGlassRoleArn", fmt.Sprintf("%q", c.BreakGlassRoleArn), "want a role ARN, arn:aws:iam::ACCOUNT:role/[PATH/]NAME, without wildcards")
		} else {
			for i, t := range c.Targets {
				if rules.IsAccountID(t.Account) && m[2] != t.Account {
					bad("breakGlassRoleArn", fmt.Sprintf("%q", c.BreakGlassRoleArn), fmt.Sprintf("in account %s, but targets[%d] is account %s: the role must be in the account whose table it repairs (one config per account)", m[2], i, t.Account))
				}
			}
		}
	}
	switch c.ObjectKeys {
	case "":
		c.ObjectKeys = "truncate"
	case "show", "truncate", "redact":
	default:
		bad("objectKeys", fmt.Sprintf("%q", c.ObjectKeys), "want show, truncate or redact")
	}
	switch c.SessionCheck {
	case "":
		c.SessionCheck = string(config.SessionOff)
	case string(config.SessionOff), string(config.SessionAlert), string(config.SessionEnforce):
	default:
		bad("sessionCheck", fmt.Sprintf("%q", c.SessionCheck), "want off, alert or enforce")
	}
	if c.SessionTolerance == "" {
		c.SessionTolerance = "24,64"
	} else if _, err := session.ParseTolerance(c.SessionTolerance); err != nil {
		bad("sessionTolerance", fmt.Sprintf("%q", c.SessionTolerance), "want IPv4 and IPv6 prefix lengths (0 to 32, 0 to 128), like \"24,64\"")
	}
	if c.TrailLogDays == 0 {
		c.TrailLogDays = 365
	} else if c.TrailLogDays < 1 {
		bad("trailLogDays", c.TrailLogDays, "want at least 1")
	}
	if c.SilenceAlarmHours == 0 {
		c.SilenceAlarmHours = 6
	} else if c.SilenceAlarmHours < 1 || c.SilenceAlarmHours > 24 {
		bad("silenceAlarmHours", c.SilenceAlarmHours, "want 1 to 24 (a CloudWatch alarm looks back at most one day)")
	}
	return errors.Join(errs...)
}

// validate reports every bad subscriber of s, named under field.
func (s *Subscriptions) validate(field string, bad func(string, any, string)) {
	for i, e := range s.Email {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			bad(fmt.Sprintf("%s.email[%d]", field, i), fmt.Sprintf("%q", e), "want an email address")
		}
	}
	for i, p := range s.SMS {
		if !phoneRE.MatchString(p) {
			bad(fmt.Sprintf("%s.sms[%d]", field, i), fmt.Sprintf("%q", p), "want an E.164 phone number such as +15555550100")
		}
	}
	for i, h := range s.HTTPS {
		if u, err := url.Parse(h); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(fmt.Sprintf("%s.https[%d]", field, i), fmt.Sprintf("%q", h), "want an https:// URL")
		} else if host := neverConfirmingHost(u); host != "" {
			bad(fmt.Sprintf("%s.https[%d]", field, i), fmt.Sprintf("%q", redactURL(h)), host+" never confirms an SNS subscription, so it would page nobody: "+
				"route it through the alert bus instead (routing.webhooks with format slack or opsgenie, routing.pagerDuty, or routing.chat for Amazon Q Developer in chat applications; infra/README.md, \"Routing\")")
		}
	}
}

func duration(v, def, field string, bad func(string, any, string), or string) string {
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err != nil || d < time.Second {
		bad(field, fmt.Sprintf("%q", v), "want a duration of at least 1s, such as 5m or 24h"+or)
	}
	return v
}

// AllowlistPath is the allowlist's path, resolved against the config file.
func (c *Config) AllowlistPath() string {
	if strings.HasPrefix(c.Allowlist, "/") || c.dir == "" {
		return c.Allowlist
	}
	return c.dir + "/" + c.Allowlist
}

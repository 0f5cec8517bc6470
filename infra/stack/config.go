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
	"slices"
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
	// CdkQualifier is the CDK bootstrap qualifier of the target accounts
	// (default hnb659fds): the topics admit subscriptions from exactly
	// that bootstrap's CloudFormation execution role.
	CdkQualifier string `json:"cdkQualifier"`
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

	// Organization, when set, rolls the guard out to every account of the
	// named organizational units with a service-managed StackSet, and
	// gathers every member's alerts and health pages in one account; see
	// Organization.
	Organization *Organization `json:"organization,omitempty"`

	dir string // the config file's directory
	// healthFollowsAlerts: healthSubscriptions was left out, so a target
	// that overrides subscriptions pages the same people about health.
	healthFollowsAlerts bool
	// member: this config is a StackSet member's, its code in the
	// organization's assets buckets.
	member *memberCode
}

// Target is one account and region, with what it changes of the
// config's defaults (the top-level fields): a nil or empty override keeps
// the default.
type Target struct {
	Account string `json:"account"`
	Region  string `json:"region"`

	Buckets             []string       `json:"buckets,omitempty"`
	ResponseMode        string         `json:"responseMode,omitempty"`
	BreakGlassRoleArn   *string        `json:"breakGlassRoleArn,omitempty"`
	Subscriptions       *Subscriptions `json:"subscriptions,omitempty"`
	HealthSubscriptions *Subscriptions `json:"healthSubscriptions,omitempty"`
	Allowlist           string         `json:"allowlist,omitempty"`
}

// Name is how messages name the target: ACCOUNT/REGION, or "*/REGION"
// for every account of the organization's units.
func (t Target) Name() string {
	a := t.Account
	if a == "" {
		a = "*"
	}
	return a + "/" + t.Region
}

// overrides reports whether t changes any default.
func (t Target) overrides() bool {
	return t.Buckets != nil || t.ResponseMode != "" || t.BreakGlassRoleArn != nil || t.Subscriptions != nil ||
		t.HealthSubscriptions != nil || t.Allowlist != ""
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
	// qualifierRE is the CDK bootstrap template's Qualifier pattern.
	qualifierRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,10}$`)
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
	// DefaultCdkQualifier is `cdk bootstrap`'s default qualifier.
	DefaultCdkQualifier = "hnb659fds"
)

// Validate fills defaults and reports every bad field with its value.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", field, value, want))
	}
	if len(c.Targets) == 0 && c.Organization == nil {
		bad("targets", "[]", "want at least one {account, region}, or an organization")
	}
	type place struct{ account, region string }
	seen := map[place]bool{}
	for i, t := range c.Targets {
		if !rules.IsAccountID(t.Account) {
			bad(fmt.Sprintf("targets[%d].account", i), fmt.Sprintf("%q", t.Account), "want a 12-digit account ID")
		}
		if !regionRE.MatchString(t.Region) {
			bad(fmt.Sprintf("targets[%d].region", i), fmt.Sprintf("%q", t.Region), "want a region such as us-east-1")
		}
		if p := (place{t.Account, t.Region}); seen[p] {
			bad(fmt.Sprintf("targets[%d]", i), t.Account+"/"+t.Region, "duplicate target")
		} else {
			seen[p] = true
		}
	}
	if len(c.Buckets) == 1 && c.Buckets[0] == "*" {
		c.Buckets = nil
	}
	for i, b := range c.Buckets {
		if !validBucket(b) {
			bad(fmt.Sprintf("buckets[%d]", i), fmt.Sprintf("%q", b), wantBucket)
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
	if c.HealthSubscriptions == nil || c.healthFollowsAlerts {
		h := c.Subscriptions
		c.HealthSubscriptions, c.healthFollowsAlerts = &h, true
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
	if c.BreakGlassRoleArn != "" && roleARNRE.FindStringSubmatch(c.BreakGlassRoleArn) == nil {
		bad("breakGlassRoleArn", fmt.Sprintf("%q", c.BreakGlassRoleArn), "want a role ARN, arn:aws:iam::ACCOUNT:role/[PATH/]NAME, without wildcards")
	}
	if c.CdkQualifier == "" {
		c.CdkQualifier = DefaultCdkQualifier
	} else if !qualifierRE.MatchString(c.CdkQualifier) {
		bad("cdkQualifier", fmt.Sprintf("%q", c.CdkQualifier), "want the CDK bootstrap qualifier: 1 to 10 letters, digits, _ or - (default hnb659fds)")
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
	if c.Organization != nil {
		c.Organization.validate(c, bad)
	}
	// Each target, and in an organization each region's default member,
	// is checked as deployed: defaults with its overrides applied.
	for i, t := range c.Targets {
		if err := c.For(t).validateTarget(t); err != nil {
			errs = append(errs, fmt.Errorf("targets[%d] (%s): %w", i, t.Name(), err))
		}
	}
	if c.Organization != nil {
		for _, r := range c.Organization.Regions {
			t := Target{Region: r}
			if err := c.For(t).validateTarget(t); err != nil {
				errs = append(errs, fmt.Errorf("organization member %s: %w", t.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

const wantBucket = "want a directory bucket name, BASE--AZID--x-s3 (or the list [\"*\"] for all)"

func validBucket(b string) bool { return bucketRE.MatchString(b) && len(b) <= 63 }

// For is the config one target deploys: the defaults with t's overrides,
// and t as its only target. Call it on a validated config.
func (c *Config) For(t Target) *Config {
	r := *c
	r.Targets = []Target{{Account: t.Account, Region: t.Region}}
	if t.Buckets != nil {
		r.Buckets = t.Buckets
		if len(r.Buckets) == 1 && r.Buckets[0] == "*" {
			r.Buckets = nil
		}
	}
	if t.ResponseMode != "" {
		r.ResponseMode = t.ResponseMode
	}
	if t.BreakGlassRoleArn != nil {
		r.BreakGlassRoleArn = *t.BreakGlassRoleArn
	}
	if t.Subscriptions != nil {
		r.Subscriptions = *t.Subscriptions
		if c.healthFollowsAlerts {
			h := r.Subscriptions
			r.HealthSubscriptions = &h
		}
	}
	if t.HealthSubscriptions != nil {
		r.HealthSubscriptions = t.HealthSubscriptions
	}
	if t.Allowlist != "" {
		r.Allowlist = t.Allowlist
	}
	return &r
}

// validateTarget checks what depends on the target (its account and
// region) and the fields t overrides; the defaults were checked once.
func (c *Config) validateTarget(t Target) error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", field, value, want))
	}
	from := func(overridden bool) string {
		if overridden {
			return ""
		}
		return " (the default)"
	}
	for i, b := range c.Buckets {
		if t.Buckets != nil && !validBucket(b) {
			bad(fmt.Sprintf("buckets[%d]", i), fmt.Sprintf("%q", b), wantBucket)
			continue
		}
		if err := zoneInRegion(b, t.Region); err != nil {
			bad(fmt.Sprintf("buckets[%d]%s", i, from(t.Buckets != nil)), fmt.Sprintf("%q", b), err.Error())
		}
	}
	switch t.ResponseMode {
	case "", "alert", "dry-run", "enforce":
	default:
		bad("responseMode", fmt.Sprintf("%q", t.ResponseMode), "want alert, dry-run or enforce")
	}
	if t.Allowlist != "" {
		if _, err := rules.Load(c.AllowlistPath()); err != nil {
			bad("allowlist", fmt.Sprintf("%q", c.Allowlist), err.Error())
		}
	}
	if t.Subscriptions != nil {
		t.Subscriptions.validate("subscriptions", bad)
	}
	if t.HealthSubscriptions != nil {
		t.HealthSubscriptions.validate("healthSubscriptions", bad)
	}
	member := t.Account == "" && c.Organization != nil
	if c.BreakGlassRoleArn == "" && c.ResponseMode == "enforce" && !(member && c.Organization.BreakGlassRoleName != "") {
		bad("breakGlassRoleArn", `""`, "required with responseMode enforce: the role on-call uses for `s3xguard quarantine release` (only it and the function may write the state table)")
	}
	if c.BreakGlassRoleArn != "" {
		if m := roleARNRE.FindStringSubmatch(c.BreakGlassRoleArn); m == nil {
			if t.BreakGlassRoleArn != nil {
				bad("breakGlassRoleArn", fmt.Sprintf("%q", c.BreakGlassRoleArn), "want a role ARN, arn:aws:iam::ACCOUNT:role/[PATH/]NAME, without wildcards")
			}
		} else if member {
			bad("breakGlassRoleArn"+from(t.BreakGlassRoleArn != nil), fmt.Sprintf("%q", c.BreakGlassRoleArn), fmt.Sprintf("names account %s, but organization members are every account of the units: name the role in each account with organization.breakGlassRoleName", m[2]))
		} else if m[2] != t.Account {
			bad("breakGlassRoleArn"+from(t.BreakGlassRoleArn != nil), fmt.Sprintf("%q", c.BreakGlassRoleArn), fmt.Sprintf("in account %s, but the target is account %s: the role must be in the account whose table it repairs (override breakGlassRoleArn in the target)", m[2], t.Account))
		}
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

// Organization is an organization-wide rollout: a service-managed StackSet
// in Account (the management account, or a delegated administrator for
// StackSets) deploys the guard to every account of OrganizationalUnits in
// Regions, and to accounts that join them later. Members put their alerts
// on their own default bus; a rule forwards them to the central bus in
// Account and Region, which pages Subscriptions.
type Organization struct {
	// ID is the organization's ID (o-…): only its accounts may put events
	// on the central bus or read the function's code.
	ID      string `json:"id"`
	Account string `json:"account"`
	Region  string `json:"region"`
	// CallAs: SELF when Account is the management account, DELEGATED_ADMIN
	// (the default) when it is a delegated administrator.
	CallAs              string   `json:"callAs"`
	OrganizationalUnits []string `json:"organizationalUnits"`
	Regions             []string `json:"regions"`
	// Subscriptions page about every member's alerts; HealthSubscriptions
	// (nil: Subscriptions) about every member's alarms.
	Subscriptions       Subscriptions  `json:"subscriptions"`
	HealthSubscriptions *Subscriptions `json:"healthSubscriptions"`
	// BreakGlassRoleName ([PATH/]NAME) is the break-glass role in each
	// member account (the same name everywhere, e.g. from a permission set
	// or another StackSet); required for members in enforce.
	BreakGlassRoleName string `json:"breakGlassRoleName"`
	// DoctorRoleName is the read-only role each member gets, which the
	// central account assumes for `s3xguard doctor --org-role`.
	DoctorRoleName string `json:"doctorRoleName"`
}

var (
	orgIDRE    = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	ouIDRE     = regexp.MustCompile(`^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$`)
	roleNameRE = regexp.MustCompile(`^(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
)

// DefaultDoctorRole is the members' read-only role when the config names
// none.
const DefaultDoctorRole = "s3xguard-doctor"

func (o *Organization) validate(c *Config, bad func(string, any, string)) {
	if !orgIDRE.MatchString(o.ID) {
		bad("organization.id", fmt.Sprintf("%q", o.ID), "want an organization ID, o- and 10 to 32 letters or digits")
	}
	if !rules.IsAccountID(o.Account) {
		bad("organization.account", fmt.Sprintf("%q", o.Account), "want the 12-digit ID of the management or delegated administrator account")
	}
	if !regionRE.MatchString(o.Region) {
		bad("organization.region", fmt.Sprintf("%q", o.Region), "want the region of the central bus and topics, such as us-east-1")
	}
	switch o.CallAs {
	case "":
		o.CallAs = "DELEGATED_ADMIN"
	case "SELF", "DELEGATED_ADMIN":
	default:
		bad("organization.callAs", fmt.Sprintf("%q", o.CallAs), "want SELF (the management account) or DELEGATED_ADMIN")
	}
	if len(o.OrganizationalUnits) == 0 {
		bad("organization.organizationalUnits", "[]", "want at least one unit ID (ou-… or the root r-…)")
	}
	for i, u := range o.OrganizationalUnits {
		if !ouIDRE.MatchString(u) {
			bad(fmt.Sprintf("organization.organizationalUnits[%d]", i), fmt.Sprintf("%q", u), "want an organizational unit ID (ou-xxxx-xxxxxxxx) or a root ID (r-xxxx)")
		}
	}
	if len(o.Regions) == 0 {
		bad("organization.regions", "[]", "want at least one region to guard")
	}
	seen := map[string]bool{}
	for i, r := range o.Regions {
		if !regionRE.MatchString(r) {
			bad(fmt.Sprintf("organization.regions[%d]", i), fmt.Sprintf("%q", r), "want a region such as us-east-1")
		} else if seen[r] {
			bad(fmt.Sprintf("organization.regions[%d]", i), r, "duplicate region")
		}
		seen[r] = true
	}
	o.Subscriptions.validate("organization.subscriptions", bad)
	if o.HealthSubscriptions == nil {
		h := o.Subscriptions
		o.HealthSubscriptions = &h
	} else {
		o.HealthSubscriptions.validate("organization.healthSubscriptions", bad)
	}
	if o.BreakGlassRoleName != "" && !roleNameRE.MatchString(o.BreakGlassRoleName) {
		bad("organization.breakGlassRoleName", fmt.Sprintf("%q", o.BreakGlassRoleName), "want a role name, [PATH/]NAME, without wildcards")
	}
	if o.DoctorRoleName == "" {
		o.DoctorRoleName = DefaultDoctorRole
	} else if !roleNameRE.MatchString(o.DoctorRoleName) || strings.Contains(o.DoctorRoleName, "/") {
		bad("organization.doctorRoleName", fmt.Sprintf("%q", o.DoctorRoleName), "want a role name without a path")
	}
	// A target in an organization overrides a member's defaults in one
	// region: it must be one of the regions the StackSet deploys.
	for i, t := range c.Targets {
		if regionRE.MatchString(t.Region) && !slices.Contains(o.Regions, t.Region) {
			bad(fmt.Sprintf("targets[%d].region", i), t.Region, fmt.Sprintf("not in organization.regions %v: a target overrides a member's defaults in one of them", o.Regions))
		}
	}
}

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
	// ResponseMode: alert (default), dry-run or enforce.
	ResponseMode         string `json:"responseMode"`
	DedupWindow          string `json:"dedupWindow"`
	QuarantineMaxPerHour *int   `json:"quarantineMaxPerHour"`
	QuarantineTTL        string `json:"quarantineTTL"`
	IAMResponse          bool   `json:"iamResponse"`
	ObjectKeys           string `json:"objectKeys"`
	// QueueEvents routes events through an SQS queue that the function
	// reads in batches, for buckets whose request rate would otherwise mean
	// one invocation per request.
	QueueEvents bool `json:"queueEvents"`
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
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*--[a-z0-9-]+--x-s3$`)
	phoneRE   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
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
		if !accountRE.MatchString(t.Account) {
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
	if c.Allowlist == "" {
		c.Allowlist = "../rules/allowlist.example.yaml"
	}
	if _, err := rules.Load(c.AllowlistPath()); err != nil {
		bad("allowlist", fmt.Sprintf("%q", c.Allowlist), err.Error())
	}
	for i, e := range c.Subscriptions.Email {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			bad(fmt.Sprintf("subscriptions.email[%d]", i), fmt.Sprintf("%q", e), "want an email address")
		}
	}
	for i, p := range c.Subscriptions.SMS {
		if !phoneRE.MatchString(p) {
			bad(fmt.Sprintf("subscriptions.sms[%d]", i), fmt.Sprintf("%q", p), "want an E.164 phone number such as +15555550100")
		}
	}
	for i, h := range c.Subscriptions.HTTPS {
		if u, err := url.Parse(h); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(fmt.Sprintf("subscriptions.https[%d]", i), fmt.Sprintf("%q", h), "want an https:// URL")
		}
	}
	switch c.ResponseMode {
	case "":
		c.ResponseMode = "alert"
	case "alert", "dry-run", "enforce":
	default:
		bad("responseMode", fmt.Sprintf("%q", c.ResponseMode), "want alert, dry-run or enforce")
	}
	c.DedupWindow = duration(c.DedupWindow, "5m", "dedupWindow", bad)
	c.QuarantineTTL = duration(c.QuarantineTTL, "24h", "quarantineTTL", bad)
	if c.QuarantineMaxPerHour == nil {
		five := 5
		c.QuarantineMaxPerHour = &five
	} else if *c.QuarantineMaxPerHour < 0 {
		bad("quarantineMaxPerHour", *c.QuarantineMaxPerHour, "want 0 or more")
	}
	switch c.ObjectKeys {
	case "":
		c.ObjectKeys = "truncate"
	case "show", "truncate", "redact":
	default:
		bad("objectKeys", fmt.Sprintf("%q", c.ObjectKeys), "want show, truncate or redact")
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

func duration(v, def, field string, bad func(string, any, string)) string {
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err != nil || d < time.Second {
		bad(field, fmt.Sprintf("%q", v), "want a duration of at least 1s, such as 5m or 24h")
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

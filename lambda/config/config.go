// Package config reads the function's configuration from its environment,
// once, at cold start. Every error names the variable and the bad value.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
	ObjectKeys         KeyDisplay
	// GuardedBuckets is nil when every bucket is guarded (`*`).
	GuardedBuckets map[string]bool
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
	if !strings.HasPrefix(c.AlertTopicARN, "arn:") || strings.Count(c.AlertTopicARN, ":") != 5 || !strings.Contains(c.AlertTopicARN, ":sns:") {
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
	c.QuarantineTTL = duration("QUARANTINE_TTL", "24h", time.Second)

	{
		v := get("QUARANTINE_MAX_PER_HOUR", "5")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad("QUARANTINE_MAX_PER_HOUR", v, "want an integer >= 0")
		}
		c.MaxQuarantinesHour = n
	}

	switch v := get("IAM_RESPONSE", "off"); v {
	case "on":
		c.IAMResponse = true
	case "off":
	default:
		bad("IAM_RESPONSE", v, "want on or off")
	}

	c.AllowlistPath = get("ALLOWLIST", "")
	if c.AllowlistPath == "" {
		root := get("LAMBDA_TASK_ROOT", "")
		if root == "" {
			bad("ALLOWLIST", "", "want the allowlist's path (or LAMBDA_TASK_ROOT set, for $LAMBDA_TASK_ROOT/allowlist.yaml)")
		}
		c.AllowlistPath = filepath.Join(root, "allowlist.yaml")
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

	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

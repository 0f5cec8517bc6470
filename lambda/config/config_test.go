package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func base() map[string]string {
	return map[string]string{
		"ALERT_TOPIC_ARN":  "arn:aws:sns:us-east-1:123456789012:alerts",
		"STATE_TABLE":      "state",
		"LAMBDA_TASK_ROOT": "/var/task",
	}
}

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeAlert || c.DedupWindow != 5*time.Minute || c.MaxQuarantinesHour != 5 ||
		c.QuarantineTTL != 24*time.Hour || c.IAMResponse || c.ObjectKeys != KeysTruncate ||
		c.AllowlistPath != "/var/task/allowlist.yaml" || c.GuardedBuckets != nil || !c.Guards("any--use1-az4--x-s3") {
		t.Fatalf("defaults: got %+v", c)
	}
}

func TestValues(t *testing.T) {
	e := base()
	e["RESPONSE_MODE"] = "enforce"
	e["DEDUP_WINDOW"] = "30s"
	e["QUARANTINE_MAX_PER_HOUR"] = "0"
	e["QUARANTINE_TTL"] = "2h"
	e["IAM_RESPONSE"] = "on"
	e["ALLOWLIST"] = "/etc/a.yaml"
	e["OBJECT_KEYS"] = "redact"
	e["GUARDED_BUCKETS"] = "a--use1-az4--x-s3, b--use1-az4--x-s3"
	c, err := FromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeEnforce || c.DedupWindow != 30*time.Second || c.MaxQuarantinesHour != 0 ||
		c.QuarantineTTL != 2*time.Hour || !c.IAMResponse || c.AllowlistPath != "/etc/a.yaml" || c.ObjectKeys != KeysRedact {
		t.Fatalf("got %+v", c)
	}
	if !c.Guards("b--use1-az4--x-s3") || c.Guards("c--use1-az4--x-s3") {
		t.Fatalf("GuardedBuckets = %v", c.GuardedBuckets)
	}
}

func TestErrorsNameVariableAndValue(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"ALERT_TOPIC_ARN", "alerts", `ALERT_TOPIC_ARN="alerts"`},
		{"ALERT_TOPIC_ARN", "arn:aws:sqs:us-east-1:1:q", `ALERT_TOPIC_ARN="arn:aws:sqs:us-east-1:1:q"`},
		{"RESPONSE_MODE", "block", `RESPONSE_MODE="block": want alert, dry-run or enforce`},
		{"DEDUP_WINDOW", "5", `DEDUP_WINDOW="5"`},
		{"DEDUP_WINDOW", "10ms", `DEDUP_WINDOW="10ms"`},
		{"QUARANTINE_MAX_PER_HOUR", "-1", `QUARANTINE_MAX_PER_HOUR="-1": want an integer >= 0`},
		{"QUARANTINE_TTL", "1d", `QUARANTINE_TTL="1d"`},
		{"IAM_RESPONSE", "yes", `IAM_RESPONSE="yes": want on or off`},
		{"OBJECT_KEYS", "hide", `OBJECT_KEYS="hide"`},
		{"GUARDED_BUCKETS", "plain-bucket", `GUARDED_BUCKETS="plain-bucket": "plain-bucket" is not a directory bucket name`},
	} {
		e := base()
		e[tc.name] = tc.value
		_, err := FromEnv(env(e))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: got %v; want an error containing %q", tc.name, tc.value, err, tc.want)
		}
	}
}

func TestReportsEveryBadVariable(t *testing.T) {
	_, err := FromEnv(env(map[string]string{"RESPONSE_MODE": "x"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"ALERT_TOPIC_ARN", "STATE_TABLE", "RESPONSE_MODE", "ALLOWLIST"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

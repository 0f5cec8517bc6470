package config

import (
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/session"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func base() map[string]string {
	return map[string]string{
		"ALERT_TOPIC_ARN":  "arn:aws:sns:us-east-1:123456789012:alerts",
		"STATE_TABLE":      "state",
		"LAMBDA_TASK_ROOT": "/var/task",
		"ACCOUNT_ID":       "123456789012",
		"AWS_REGION":       "us-east-1",
	}
}

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeAlert || c.DedupWindow != 5*time.Minute || c.MaxQuarantinesHour != 5 ||
		c.QuarantineTTL != 24*time.Hour || c.IAMResponse || c.ObjectKeys != KeysTruncate ||
		c.AllowlistPath != "/var/task/allowlist.yaml" || c.BatchParallelism != 4 || c.GuardedBuckets != nil || !c.Guards("any--use1-az4--x-s3") {
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
	e["IAM_DENY_POLICY_ARN"] = "arn:aws:iam::123456789012:policy/s3xguard-deny"
	e["ALLOWLIST"] = "/etc/a.yaml"
	e["OBJECT_KEYS"] = "redact"
	e["GUARDED_BUCKETS"] = "a--use1-az4--x-s3, b--use1-az4--x-s3"
	e["BATCH_PARALLELISM"] = "1"
	e["ALLOWLIST_SHA256"] = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
	c, err := FromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchParallelism != 1 || c.AllowlistSHA256 != AllowlistDigest(nil) || c.Mode != ModeEnforce || c.DedupWindow != 30*time.Second || c.MaxQuarantinesHour != 0 ||
		c.QuarantineTTL != 2*time.Hour || !c.IAMResponse || c.AllowlistPath != "/etc/a.yaml" || c.ObjectKeys != KeysRedact {
		t.Fatalf("got %+v", c)
	}
	if !c.Guards("b--use1-az4--x-s3") || c.Guards("c--use1-az4--x-s3") {
		t.Fatalf("GuardedBuckets = %v", c.GuardedBuckets)
	}
}

func TestGuardEnvironment(t *testing.T) {
	e := base()
	e["FUNCTION_ROLE_ARN"] = "arn:aws:iam::123456789012:role/service/guard-fn"
	e["HEALTH_TOPIC_ARN"] = "arn:aws:sns:us-east-1:123456789012:health"
	e["IAM_RESPONSE"] = "on"
	e["IAM_DENY_POLICY_ARN"] = "arn:aws:iam::123456789012:policy/s3xguard-deny"
	e["REVOKE_SESSIONS"] = "on"
	e["QUARANTINE_TARGET"] = "session"
	e["QUARANTINE_TTL"] = "0"
	e["QUARANTINE_MAX_PER_BUCKET_HOUR"] = "2"
	e["QUARANTINE_FAILED_CALLS"] = "on"
	e["ALERT_BUS"] = "arn:aws:events:us-east-1:123456789012:event-bus/s3xguard-alerts"
	c, err := FromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountID != "123456789012" || c.Region != "us-east-1" || c.FunctionRoleARN != e["FUNCTION_ROLE_ARN"] ||
		c.HealthTopic() != e["HEALTH_TOPIC_ARN"] || c.IAMDenyPolicyARN != e["IAM_DENY_POLICY_ARN"] || !c.RevokeSessions ||
		c.Target != TargetSession || c.QuarantineTTL != 0 || c.MaxQuarantinesBucketHour != 2 || !c.QuarantineFailedCalls ||
		c.AlertBus != e["ALERT_BUS"] {
		t.Fatalf("got %+v", c)
	}
	d, err := FromEnv(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if d.HealthTopic() != d.AlertTopicARN || d.Target != TargetRole || d.RevokeSessions || d.QuarantineFailedCalls ||
		d.MaxQuarantinesBucketHour != 3 {
		t.Fatalf("defaults: got %+v", d)
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
		{"IAM_RESPONSE", "on", `IAM_DENY_POLICY_ARN="": required with IAM_RESPONSE=on`},
		{"OBJECT_KEYS", "hide", `OBJECT_KEYS="hide"`},
		{"GUARDED_BUCKETS", "plain-bucket", `GUARDED_BUCKETS="plain-bucket": "plain-bucket" is not a directory bucket name`},
		{"ACCOUNT_ID", "12345", `ACCOUNT_ID="12345": want the 12-digit account`},
		{"AWS_REGION", "", `AWS_REGION="": want the function's region`},
		{"FUNCTION_ROLE_ARN", "arn:aws:iam::999999999999:role/fn", `FUNCTION_ROLE_ARN="arn:aws:iam::999999999999:role/fn"`},
		{"HEALTH_TOPIC_ARN", "health", `HEALTH_TOPIC_ARN="health"`},
		{"ALERT_BUS", "my bus", `ALERT_BUS="my bus": want an event bus name or ARN`},
		{"ALERT_BUS", "arn:aws:sns:us-east-1:123456789012:t", `ALERT_BUS="arn:aws:sns:us-east-1:123456789012:t"`},
		{"IAM_DENY_POLICY_ARN", "arn:aws:iam::999999999999:policy/deny", `IAM_DENY_POLICY_ARN="arn:aws:iam::999999999999:policy/deny"`},
		{"REVOKE_SESSIONS", "true", `REVOKE_SESSIONS="true": want on or off`},
		{"REVOKE_SESSIONS", "on", `REVOKE_SESSIONS="on": needs IAM_RESPONSE=on`},
		{"QUARANTINE_TARGET", "user", `QUARANTINE_TARGET="user": want role or session`},
		{"QUARANTINE_MAX_PER_BUCKET_HOUR", "x", `QUARANTINE_MAX_PER_BUCKET_HOUR="x": want an integer >= 0`},
		{"QUARANTINE_FAILED_CALLS", "1", `QUARANTINE_FAILED_CALLS="1": want on or off`},
		{"ALLOWLIST_SHA256", "abc123", `ALLOWLIST_SHA256="abc123": want the allowlist's SHA-256 as 64 hex digits`},
		{"BATCH_PARALLELISM", "0", `BATCH_PARALLELISM="0": want an integer from 1 to 32`},
		{"BATCH_PARALLELISM", "33", `BATCH_PARALLELISM="33": want an integer from 1 to 32`},
		{"BATCH_PARALLELISM", "four", `BATCH_PARALLELISM="four": want an integer from 1 to 32`},
		{"SESSION_CHECK", "on", `SESSION_CHECK="on": want off, alert or enforce`},
		{"SESSION_TOLERANCE", "24", `SESSION_TOLERANCE="24": want IPv4 and IPv6 prefix lengths`},
		{"SESSION_TOLERANCE", "33,64", `SESSION_TOLERANCE="33,64": want IPv4 and IPv6 prefix lengths (0 to 32, 0 to 128)`},
		{"SESSION_TOLERANCE", "24,129", `SESSION_TOLERANCE="24,129"`},
		{"SESSION_TOLERANCE", "a,b", `SESSION_TOLERANCE="a,b"`},
		{"BREAK_GLASS_ROLE_ARN", "arn:aws:iam::999999999999:role/BreakGlass", `BREAK_GLASS_ROLE_ARN="arn:aws:iam::999999999999:role/BreakGlass"`},
		{"BREAK_GLASS_ROLE_ARN", "BreakGlass", `BREAK_GLASS_ROLE_ARN="BreakGlass"`},
	} {
		e := base()
		e[tc.name] = tc.value
		_, err := FromEnv(env(e))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: got %v; want an error containing %q", tc.name, tc.value, err, tc.want)
		}
	}
}

func TestSessionCheck(t *testing.T) {
	d, err := FromEnv(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if d.SessionCheck != SessionOff || d.SessionTolerance != session.DefaultTolerance {
		t.Fatalf("defaults: %q %+v; want off, 24,64", d.SessionCheck, d.SessionTolerance)
	}
	e := base()
	e["SESSION_CHECK"], e["SESSION_TOLERANCE"] = "enforce", "16,48"
	c, err := FromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionCheck != SessionEnforce || c.SessionTolerance != (session.Tolerance{V4: 16, V6: 48}) {
		t.Fatalf("got %q %+v", c.SessionCheck, c.SessionTolerance)
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

func TestFindings(t *testing.T) {
	for v, want := range map[string]string{"": "", "off": "", "securityhub": FindingsSecurityHub} {
		e := base()
		e["FINDINGS"] = v
		c, err := FromEnv(env(e))
		if err != nil || c.Findings != want {
			t.Errorf("FINDINGS=%q: %v, %q; want %q", v, err, c.Findings, want)
		}
	}
	for _, v := range []string{"SecurityHub", "on", "securitylake"} {
		e := base()
		e["FINDINGS"] = v
		if _, err := FromEnv(env(e)); err == nil || !strings.Contains(err.Error(), `FINDINGS="`+v+`": want securityhub`) {
			t.Errorf("FINDINGS=%q: %v", v, err)
		}
	}
}

// TestAllowlistPin: in Lambda the allowlist digest comes from the binary,
// never from the configuration alone; a configuration that names another
// digest than the binary's is refused, so it can neither widen the
// allowlist nor mislead doctor. Outside Lambda, a binary built by hand
// still runs, checked against ALLOWLIST_SHA256 when that is set.
func TestAllowlistPin(t *testing.T) {
	pinned := AllowlistDigest([]byte("allow: []\n"))
	other := AllowlistDigest([]byte("allow: [everyone]\n"))
	for _, tt := range []struct {
		name             string
		compiled, envSHA string
		lambda           bool
		want, wantErr    string
	}{
		{"lambda, pinned", pinned, "", true, pinned, ""},
		{"lambda, pinned, configuration agrees", pinned, strings.ToUpper(pinned), true, pinned, ""},
		{"lambda, pinned in upper case, configuration agrees", strings.ToUpper(pinned), pinned, true, pinned, ""},
		{"lambda, pinned, configuration names another allowlist", pinned, other, true, "", `ALLOWLIST_SHA256="` + other + `": this binary was built for the allowlist with SHA-256 ` + pinned},
		{"lambda, not pinned", "", "", true, "", `ALLOWLIST_SHA256="": this binary has no allowlist digest compiled in`},
		{"lambda, not pinned, configuration names a digest", "", other, true, "", `ALLOWLIST_SHA256="` + other + `": this binary has no allowlist digest compiled in`},
		{"lambda, pinned to garbage", "xyz", "", true, "", `ALLOWLIST_SHA256="xyz": the digest compiled into this binary is not 64 hex digits`},
		{"local, not pinned", "", "", false, "", ""},
		{"local, not pinned, configuration names a digest", "", other, false, other, ""},
		{"local, pinned", pinned, "", false, pinned, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := bundledAllowlistSHA256
			bundledAllowlistSHA256 = tt.compiled
			t.Cleanup(func() { bundledAllowlistSHA256 = old })
			e := base()
			e["ALLOWLIST_SHA256"] = tt.envSHA
			if tt.lambda {
				e["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9001"
			}
			c, err := FromEnv(env(e))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.AllowlistSHA256 != tt.want {
				t.Fatalf("AllowlistSHA256 %q; want %q", c.AllowlistSHA256, tt.want)
			}
		})
	}
}

func TestCDKQualifier(t *testing.T) {
	c, err := FromEnv(env(base()))
	if err != nil || c.CDKQualifier != "hnb659fds" {
		t.Fatalf("default: %v, %v", c, err)
	}
	for _, q := range []string{"*", "cdk-*", "abcdefghijk", "a b"} {
		e := base()
		e["CDK_QUALIFIER"] = q
		if _, err := FromEnv(env(e)); err == nil || !strings.Contains(err.Error(), `CDK_QUALIFIER="`+q+`": want the CDK bootstrap qualifier`) {
			t.Errorf("%q: %v", q, err)
		}
	}
}

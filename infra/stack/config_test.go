package stack

import (
	"reflect"
	"strings"
	"testing"
)

func validConfig() *Config {
	five := 5
	return &Config{
		Targets:              []Target{{Account: "111122223333", Region: "us-east-1"}},
		Buckets:              []string{"analytics--use1-az4--x-s3"},
		Allowlist:            "../../rules/allowlist.example.yaml",
		ResponseMode:         "enforce",
		QuarantineMaxPerHour: &five,
		BreakGlassRoleArn:    "arn:aws:iam::111122223333:role/oncall/Responder",
	}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig()
	c.ResponseMode, c.QuarantineMaxPerHour = "", nil
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ResponseMode != "alert" || c.DedupWindow != "5m" || c.QuarantineTTL != "24h" || *c.QuarantineMaxPerHour != 5 ||
		c.ObjectKeys != "truncate" || c.SilenceAlarmHours != 6 || c.TrailLogDays != 365 || c.CdkQualifier != "hnb659fds" {
		t.Fatalf("defaults not filled: %+v", c)
	}
	if *c.QuarantineMaxPerBucketHour != 3 || c.QuarantineTarget != "role" || c.ReservedConcurrency != 20 || c.BatchParallelism != 4 ||
		c.RevokeSessions || c.QuarantineFailedCalls || c.SessionCheck != "off" || c.SessionTolerance != "24,64" {
		t.Fatalf("defaults not filled: %+v", c)
	}
	if !reflect.DeepEqual(*c.HealthSubscriptions, c.Subscriptions) {
		t.Fatalf("health subscriptions %+v; want the alert topic's %+v", *c.HealthSubscriptions, c.Subscriptions)
	}
	// The per-bucket default never exceeds the global ceiling.
	c, one := validConfig(), 1
	c.QuarantineMaxPerHour = &one
	if err := c.Validate(); err != nil || *c.QuarantineMaxPerBucketHour != 1 {
		t.Fatalf("per-bucket default with a global ceiling of 1: %v, %v", *c.QuarantineMaxPerBucketHour, err)
	}
	// quarantineTTL 0 is never; a break-glass role is optional outside enforce.
	c = validConfig()
	c.QuarantineTTL, c.ResponseMode, c.BreakGlassRoleArn = "0", "dry-run", ""
	if err := c.Validate(); err != nil || c.QuarantineTTL != "0" {
		t.Fatalf("quarantineTTL 0 in dry-run without a break-glass role: %q, %v", c.QuarantineTTL, err)
	}
}

func TestConfigValidation(t *testing.T) {
	neg, two := -1, 2
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no targets", func(c *Config) { c.Targets = nil }, "targets: []: want at least one"},
		{"short account", func(c *Config) { c.Targets[0].Account = "1111" }, `targets[0].account: "1111": want a 12-digit account ID`},
		{"bad region", func(c *Config) { c.Targets[0].Region = "useast1" }, `targets[0].region: "useast1": want a region`},
		{"duplicate target", func(c *Config) { c.Targets = append(c.Targets, c.Targets[0]) }, "targets[1]: 111122223333/us-east-1: duplicate target"},
		{"general purpose bucket", func(c *Config) { c.Buckets = []string{"my-bucket"} }, `buckets[0]: "my-bucket": want a directory bucket name`},
		{"bad allowlist", func(c *Config) { c.Allowlist = "testdata/bad-allowlist.yaml" }, `allowlist: "testdata/bad-allowlist.yaml": testdata/bad-allowlist.yaml:4: allow[0].sources[0]: "10.0.0.1/8": host bits set`},
		{"bad email", func(c *Config) { c.Subscriptions.Email = []string{"secops"} }, `subscriptions.email[0]: "secops": want an email address`},
		{"bad phone", func(c *Config) { c.Subscriptions.SMS = []string{"5555550100"} }, `subscriptions.sms[0]: "5555550100": want an E.164 phone number`},
		{"http not https", func(c *Config) { c.Subscriptions.HTTPS = []string{"http://hooks.example.com"} }, `subscriptions.https[0]: "http://hooks.example.com": want an https:// URL`},
		{"bad mode", func(c *Config) { c.ResponseMode = "block" }, `responseMode: "block": want alert, dry-run or enforce`},
		{"bad window", func(c *Config) { c.DedupWindow = "5" }, `dedupWindow: "5": want a duration`},
		{"negative breaker", func(c *Config) { c.QuarantineMaxPerHour = &neg }, "quarantineMaxPerHour: -1: want 0 or more"},
		{"bad keys", func(c *Config) { c.ObjectKeys = "hide" }, `objectKeys: "hide": want show, truncate or redact`},
		{"silence too long", func(c *Config) { c.SilenceAlarmHours = 48 }, "silenceAlarmHours: 48: want 1 to 24"},
		{"ttl 0s", func(c *Config) { c.QuarantineTTL = "0s" }, `quarantineTTL: "0s": want a duration of at least 1s, such as 5m or 24h (or "0" for never)`},
		{"per-bucket above global", func(c *Config) { four := 4; c.QuarantineMaxPerHour = &two; c.QuarantineMaxPerBucketHour = &four }, "quarantineMaxPerBucketHour: 4: want 0 to quarantineMaxPerHour (2)"},
		{"negative per-bucket", func(c *Config) { c.QuarantineMaxPerBucketHour = &neg }, "quarantineMaxPerBucketHour: -1: want 0 to quarantineMaxPerHour (5)"},
		{"bad target", func(c *Config) { c.QuarantineTarget = "user" }, `quarantineTarget: "user": want role or session`},
		{"revoke without IAM", func(c *Config) { c.RevokeSessions = true }, "revokeSessions: true: needs iamResponse: true"},
		{"concurrency too low", func(c *Config) { c.ReservedConcurrency = 2 }, "reservedConcurrency: 2: want 3 to 1000"},
		{"concurrency too high", func(c *Config) { c.ReservedConcurrency = 5000 }, "reservedConcurrency: 5000: want 3 to 1000"},
		{"batch parallelism too high", func(c *Config) { c.BatchParallelism = 33 }, "batchParallelism: 33: want 1 to 32"},
		{"negative batch parallelism", func(c *Config) { c.BatchParallelism = -1 }, "batchParallelism: -1: want 1 to 32"},
		{"bad session check", func(c *Config) { c.SessionCheck = "on" }, `sessionCheck: "on": want off, alert or enforce`},
		{"bad session tolerance", func(c *Config) { c.SessionTolerance = "24" }, `sessionTolerance: "24": want IPv4 and IPv6 prefix lengths`},
		{"session tolerance out of range", func(c *Config) { c.SessionTolerance = "24,200" }, `sessionTolerance: "24,200": want IPv4 and IPv6 prefix lengths (0 to 32, 0 to 128)`},
		{"enforce without break-glass", func(c *Config) { c.BreakGlassRoleArn = "" }, `breakGlassRoleArn: "": required with responseMode enforce`},
		{"break-glass not a role", func(c *Config) { c.BreakGlassRoleArn = "arn:aws:iam::111122223333:user/alice" }, `breakGlassRoleArn: "arn:aws:iam::111122223333:user/alice": want a role ARN`},
		{"break-glass wildcard", func(c *Config) { c.BreakGlassRoleArn = "arn:aws:iam::111122223333:role/Break*" }, `want a role ARN, arn:aws:iam::ACCOUNT:role/[PATH/]NAME, without wildcards`},
		{"break-glass other account", func(c *Config) { c.BreakGlassRoleArn = "arn:aws:iam::444455556666:role/BreakGlass" }, "targets[0] (111122223333/us-east-1): breakGlassRoleArn (the default): \"arn:aws:iam::444455556666:role/BreakGlass\": in account 444455556666, but the target is account 111122223333"},
		{"bad health email", func(c *Config) { c.HealthSubscriptions = &Subscriptions{Email: []string{"ops"}} }, `healthSubscriptions.email[0]: "ops": want an email address`},
		{"qualifier with a wildcard", func(c *Config) { c.CdkQualifier = "*" }, `cdkQualifier: "*": want the CDK bootstrap qualifier`},
		{"qualifier too long", func(c *Config) { c.CdkQualifier = "abcdefghijk" }, `cdkQualifier: "abcdefghijk": want the CDK bootstrap qualifier: 1 to 10`},
		{"bad health url", func(c *Config) { c.HealthSubscriptions = &Subscriptions{HTTPS: []string{"ftp://x"}} }, `healthSubscriptions.https[0]: "ftp://x": want an https:// URL`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mod(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want %q", err, tt.want)
			}
		})
	}
}

func TestLoadRejectsUnknownField(t *testing.T) {
	_, err := Load("testdata/unknown-field.json")
	if err == nil || !strings.Contains(err.Error(), `unknown field "respnseMode"`) {
		t.Fatalf("got %v", err)
	}
}

func TestLoadExample(t *testing.T) {
	c, err := Load("../s3xguard.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.AllowlistPath() != "../../rules/allowlist.example.yaml" {
		t.Fatalf("allowlist path %q", c.AllowlistPath())
	}
}

// orgConfig is a valid organization rollout: every account of two units
// in two regions, alert mode by default, one account enforcing in one
// region with its own buckets and break-glass role.
func orgConfig() *Config {
	c := validConfig()
	c.ResponseMode, c.BreakGlassRoleArn, c.Buckets = "alert", "", nil
	enforce, role := "enforce", "arn:aws:iam::444455556666:role/BreakGlass"
	c.Targets = []Target{{Account: "444455556666", Region: "eu-west-1", ResponseMode: enforce, BreakGlassRoleArn: &role,
		Buckets: []string{"ledger--euw1-az1--x-s3"}, Subscriptions: &Subscriptions{Email: []string{"ledger-team@example.com"}}}}
	c.Organization = &Organization{ID: "o-abcd123456", Account: "999988887777", Region: "us-east-1",
		OrganizationalUnits: []string{"ou-ab12-cdefgh34", "ou-ab12-ijklmn56"}, Regions: []string{"us-east-1", "eu-west-1"},
		Subscriptions: Subscriptions{Email: []string{"soc@example.com"}}}
	return c
}

func TestConfigTargets(t *testing.T) {
	role2 := "arn:aws:iam::444455556666:role/BreakGlass"
	second := func(c *Config) *Target {
		c.Targets = append(c.Targets, Target{Account: "444455556666", Region: "us-east-1"})
		return &c.Targets[len(c.Targets)-1]
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string // "" for valid
	}{
		// The case: two accounts in enforce, each with its own role.
		{"two accounts in enforce", func(c *Config) { second(c).BreakGlassRoleArn = &role2 }, ""},
		{"second account on the default role", func(c *Config) { second(c) },
			`targets[1] (444455556666/us-east-1): breakGlassRoleArn (the default): "arn:aws:iam::111122223333:role/oncall/Responder": in account 111122223333, but the target is account 444455556666`},
		{"alert target needs no role", func(c *Config) { t := second(c); empty := ""; t.BreakGlassRoleArn, t.ResponseMode = &empty, "alert" }, ""},
		{"enforce target without a role", func(c *Config) { t := second(c); empty := ""; t.BreakGlassRoleArn = &empty },
			`targets[1] (444455556666/us-east-1): breakGlassRoleArn: "": required with responseMode enforce`},
		{"default bucket in another region", func(c *Config) { t := second(c); t.Region, t.BreakGlassRoleArn = "eu-west-1", &role2 },
			`targets[1] (444455556666/eu-west-1): buckets[0] (the default): "analytics--use1-az4--x-s3": zone use1-az4 is in us-east-1, not the target's region eu-west-1`},
		{"target's own buckets", func(c *Config) {
			t := second(c)
			t.Region, t.BreakGlassRoleArn, t.Buckets = "eu-west-1", &role2, []string{"ledger--euw1-az3--x-s3"}
		}, ""},
		{"target bucket of another region", func(c *Config) {
			t := second(c)
			t.Region, t.BreakGlassRoleArn, t.Buckets = "eu-west-1", &role2, []string{"ok--euw1-az1--x-s3", "ledger--usw2-az1--x-s3"}
		}, `targets[1] (444455556666/eu-west-1): buckets[1]: "ledger--usw2-az1--x-s3": zone usw2-az1 is in us-west-2, not the target's region eu-west-1`},
		{"unknown zone", func(c *Config) { c.Buckets = []string{"analytics--use1-az9--x-s3"} },
			`targets[0] (111122223333/us-east-1): buckets[0] (the default): "analytics--use1-az9--x-s3": zone use1-az9 is not a zone S3 Express One Zone offers`},
		{"local zone of the region", func(c *Config) { c.Targets[0].Region, c.Buckets = "us-west-2", []string{"edge--usw2-lax1-az1--x-s3"} }, ""},
		{"local zone of another region", func(c *Config) { c.Buckets = []string{"edge--usw2-lax1-az1--x-s3"} }, "zone usw2-lax1-az1 is in us-west-2, not the target's region us-east-1"},
		{"bad target bucket name", func(c *Config) { second(c).Buckets = []string{"plain-bucket"} }, `targets[1] (444455556666/us-east-1): buckets[0]: "plain-bucket": want a directory bucket name`},
		{"bad target mode", func(c *Config) { second(c).ResponseMode = "block" }, `targets[1] (444455556666/us-east-1): responseMode: "block"`},
		{"bad target email", func(c *Config) {
			t := second(c)
			t.BreakGlassRoleArn, t.Subscriptions = &role2, &Subscriptions{Email: []string{"x"}}
		},
			`targets[1] (444455556666/us-east-1): subscriptions.email[0]: "x": want an email address`},
		{"bad target allowlist", func(c *Config) {
			t := second(c)
			t.BreakGlassRoleArn, t.Allowlist = &role2, "testdata/bad-allowlist.yaml"
		},
			`targets[1] (444455556666/us-east-1): allowlist: "testdata/bad-allowlist.yaml"`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantValidate(t, validConfig(), tt.mod, tt.want) })
	}
}

func TestConfigFor(t *testing.T) {
	c := validConfig()
	c.Subscriptions = Subscriptions{Email: []string{"secops@example.com"}}
	role2 := "arn:aws:iam::444455556666:role/BreakGlass"
	c.Targets = append(c.Targets, Target{Account: "444455556666", Region: "eu-west-1", BreakGlassRoleArn: &role2, ResponseMode: "dry-run",
		Buckets: []string{"*"}, Subscriptions: &Subscriptions{Email: []string{"ledger@example.com"}}, Allowlist: "testdata/protected.yaml"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, b := c.For(c.Targets[0]), c.For(c.Targets[1])
	if a.ResponseMode != "enforce" || a.BreakGlassRoleArn != c.BreakGlassRoleArn || !reflect.DeepEqual(a.Buckets, c.Buckets) || a.Subscriptions.Email[0] != "secops@example.com" {
		t.Errorf("first target %+v; want the defaults", a)
	}
	if b.ResponseMode != "dry-run" || b.BreakGlassRoleArn != role2 || b.Buckets != nil || b.Subscriptions.Email[0] != "ledger@example.com" ||
		b.AllowlistPath() != "testdata/protected.yaml" || len(b.Targets) != 1 || b.Targets[0].Name() != "444455556666/eu-west-1" {
		t.Errorf("second target %+v; want its overrides", b)
	}
	// healthSubscriptions left out follows each target's subscriptions.
	if b.HealthSubscriptions.Email[0] != "ledger@example.com" || a.HealthSubscriptions.Email[0] != "secops@example.com" {
		t.Errorf("health subscriptions %v, %v; want each target's alert subscribers", a.HealthSubscriptions, b.HealthSubscriptions)
	}
	// Named ones stay.
	c.HealthSubscriptions, c.healthFollowsAlerts = &Subscriptions{Email: []string{"platform@example.com"}}, false
	if h := c.For(c.Targets[1]).HealthSubscriptions; h.Email[0] != "platform@example.com" {
		t.Errorf("health subscriptions %v; want the named default", h)
	}
}

func TestConfigOrganization(t *testing.T) {
	if err := orgConfig().Validate(); err != nil {
		t.Fatalf("org config: %v", err)
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no targets, no organization", func(c *Config) { c.Targets, c.Organization = nil, nil }, "targets: []: want at least one"},
		{"only an organization", func(c *Config) { c.Targets = nil }, ""},
		{"bad org ID", func(c *Config) { c.Organization.ID = "org-1" }, `organization.id: "org-1"`},
		{"bad unit", func(c *Config) { c.Organization.OrganizationalUnits = []string{"Engineering"} }, `organization.organizationalUnits[0]: "Engineering"`},
		{"no regions", func(c *Config) { c.Organization.Regions = nil }, "organization.regions: []"},
		{"bad callAs", func(c *Config) { c.Organization.CallAs = "ADMIN" }, `organization.callAs: "ADMIN"`},
		{"target outside the regions", func(c *Config) { c.Targets[0].Region = "us-west-2"; c.Targets[0].Buckets = nil }, "targets[0].region: us-west-2: not in organization.regions"},
		{"members enforce without a role", func(c *Config) { c.ResponseMode = "enforce" }, `organization member */us-east-1: breakGlassRoleArn: "": required with responseMode enforce`},
		{"members enforce with a role name", func(c *Config) { c.ResponseMode, c.Organization.BreakGlassRoleName = "enforce", "oncall/BreakGlass" }, ""},
		{"members on one account's role", func(c *Config) { c.BreakGlassRoleArn = "arn:aws:iam::111122223333:role/BreakGlass" },
			"organization member */us-east-1: breakGlassRoleArn (the default)"},
		{"member default bucket in one region only", func(c *Config) { c.Buckets = []string{"analytics--use1-az4--x-s3"} },
			`organization member */eu-west-1: buckets[0] (the default): "analytics--use1-az4--x-s3": zone use1-az4 is in us-east-1`},
		{"bad doctor role", func(c *Config) { c.Organization.DoctorRoleName = "ops/doctor" }, `organization.doctorRoleName: "ops/doctor"`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantValidate(t, orgConfig(), tt.mod, tt.want) })
	}
}

// wantValidate applies mod to c and checks Validate's verdict: valid when
// want is "", else an error containing want.
func wantValidate(t *testing.T, c *Config, mod func(*Config), want string) {
	t.Helper()
	mod(c)
	err := c.Validate()
	if want == "" && err != nil {
		t.Fatalf("got %v; want valid", err)
	}
	if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
		t.Fatalf("got %v; want %q", err, want)
	}
}

package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

const fixtures = "../test/testdata/records"

func loadExample(t testing.TB) *Allowlist {
	t.Helper()
	a, err := Load("allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func loadRecord(t testing.TB, name string) *cloudtrail.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := cloudtrail.DecodeEvent(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// decideTests is shared by the test and the benchmarks.
var decideTests = []struct {
	fixture   string
	verdict   Verdict
	rule      string
	principal string
	reason    string // substring of the first reason
}{
	{"zonal-getobject-etl", Allowed, "etl", "arn:aws:iam::111122223333:role/etl-loader", ""},
	// The CreateSession record carries the role path in sessionIssuer; the
	// pattern has none: paths are ignored on both sides.
	{"createsession-etl-issuer-path", Allowed, "etl", "arn:aws:iam::111122223333:role/etl-loader", ""},
	{"etl-ipv6-putobject", Allowed, "etl", "", ""},
	{"etl-ipv4-mapped", Allowed, "etl", "", ""},
	{"vpce-ipv6-getobject", Allowed, "analytics-vpce", "arn:aws:iam::111122223333:role/dashboards", ""},
	{"lifecycle-delete", Allowed, "lifecycle", "lifecycle.s3.amazonaws.com", ""},
	{"management-putbucketpolicy", Allowed, "platform-admin", "arn:aws:iam::111122223333:role/platform-admin", ""},
	{"cross-account-putobject", Unauthorized, "", "arn:aws:iam::444455556666:role/partner-writer", "etl: principals arn:aws:sts::444455556666:assumed-role/partner-writer/sess-7 not in"},
	{"eventbridge-cross-account-putobject", Unauthorized, "", "arn:aws:iam::444455556666:role/partner-writer", "etl: principals"},
	{"bucket-from-short-arn", Unauthorized, "", "", "etl: principals"},
	{"failed-putobject-unknown-user", Unauthorized, "", "arn:aws:iam::111122223333:user/contractors/mallory", "analytics-vpce: vpc_endpoints (none) not in vpce-0a1b2c3d4e5f60718"},
	{"aws-internal-source", Unauthorized, "", "", "etl: sources AWS Internal not in"},
	{"management-no-bucket", Unauthorized, "", "", "readers: operations ListDirectoryBuckets not in"},
	{"root-deleteobject", Unauthorized, "", "arn:aws:iam::111122223333:root", ""},
	{"other-service-s3", Ignored, "", "", ""},
	{"invalid-no-useridentity", Invalid, "", "", "no userIdentity"},
}

func TestDecideFixtures(t *testing.T) {
	a := loadExample(t)
	for _, tt := range decideTests {
		t.Run(tt.fixture, func(t *testing.T) {
			d := a.Decide(loadRecord(t, tt.fixture))
			if d.Verdict != tt.verdict || d.Rule != tt.rule {
				t.Fatalf("got %s rule %q (reasons %q); want %s rule %q", d.Verdict, d.Rule, d.Reasons, tt.verdict, tt.rule)
			}
			if tt.principal != "" && d.Principal.Normalized != tt.principal {
				t.Errorf("principal: got %q; want %q", d.Principal.Normalized, tt.principal)
			}
			if tt.reason != "" && (len(d.Reasons) == 0 || !strings.Contains(d.Reasons[0], tt.reason)) {
				t.Errorf("reasons: got %q; want first containing %q", d.Reasons, tt.reason)
			}
			if d.Verdict == Unauthorized && len(d.Reasons) == 0 {
				t.Errorf("unauthorized without reasons")
			}
		})
	}
}

// rec builds a minimal S3 Express record for the field-by-field tests.
func rec(mod func(r *cloudtrail.Record)) *cloudtrail.Record {
	r := &cloudtrail.Record{
		EventSource:     cloudtrail.EventSource,
		EventName:       "GetObject",
		SourceIPAddress: "10.0.0.1",
		Bucket:          "b1--use1-az4--x-s3",
		HasUserIdentity: true,
		UserIdentity: cloudtrail.Identity{
			Type: "AssumedRole", AccountID: "111122223333",
			ARN: "arn:aws:sts::111122223333:assumed-role/app/s1",
		},
	}
	if mod != nil {
		mod(r)
	}
	return r
}

func TestFieldSemantics(t *testing.T) {
	tests := []struct {
		name  string
		entry string // YAML of one entry, without name
		rec   *cloudtrail.Record
		allow bool
	}{
		{"role pattern matches session", `principals: ["arn:aws:iam::111122223333:role/app"]`, rec(nil), true},
		{"role pattern with path matches session", `principals: ["arn:aws:iam::111122223333:role/team/app"]`, rec(nil), true},
		{"role pattern other account", `principals: ["arn:aws:iam::444455556666:role/app"]`, rec(nil), false},
		{"role glob", `principals: ["arn:aws:iam::111122223333:role/a?p"]`, rec(nil), true},
		{"role glob no match", `principals: ["arn:aws:iam::111122223333:role/ap"]`, rec(nil), false},
		{"session ARN pattern", `principals: ["arn:aws:sts::111122223333:assumed-role/app/s*"]`, rec(nil), true},
		{"session ARN pattern other session", `principals: ["arn:aws:sts::111122223333:assumed-role/app/x*"]`, rec(nil), false},
		{"role pattern vs IAM role ARN with path", `principals: ["arn:aws:iam::111122223333:role/app"]`,
			rec(func(r *cloudtrail.Record) { r.UserIdentity.ARN = "arn:aws:iam::111122223333:role/svc/app" }), true},
		{"user pattern ignores path", `principals: ["arn:aws:iam::111122223333:user/bob"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{Type: "IAMUser", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:user/people/bob"}
			}), true},
		{"user pattern does not match role of same name", `principals: ["arn:aws:iam::111122223333:user/app"]`, rec(nil), false},
		{"root", `principals: ["arn:aws:iam::111122223333:root"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{Type: "Root", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:root"}
			}), true},
		{"root pattern does not match a role", `principals: ["arn:aws:iam::111122223333:root"]`, rec(nil), false},
		{"federated", `principals: ["arn:aws:sts::111122223333:federated-user/carol"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{Type: "FederatedUser", AccountID: "111122223333", ARN: "arn:aws:sts::111122223333:federated-user/carol"}
			}), true},
		{"service caller never matches principals", `principals: ["arn:aws:iam::111122223333:role/*"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{Type: "AWSService", InvokedBy: "lifecycle.s3.amazonaws.com"}
			}), false},
		{"AWSAccount caller never matches principals", `principals: ["arn:aws:iam::111122223333:role/*"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{Type: "AWSAccount", AccountID: "111122223333", PrincipalID: "AIDAX"}
			}), false},
		{"account", `accounts: ["111122223333"]`, rec(nil), true},
		{"account other", `accounts: ["444455556666"]`, rec(nil), false},
		{"service", `services: ["lifecycle.s3.amazonaws.com"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{Type: "AWSService", InvokedBy: "lifecycle.s3.amazonaws.com"}
			}), true},
		{"service missing", `services: ["lifecycle.s3.amazonaws.com"]`, rec(nil), false},
		// A request a service makes with a role's credentials carries
		// invokedBy too; the role calls, so principals must allow it.
		{"role invoked by a service is not the service", `services: ["lifecycle.s3.amazonaws.com"]`,
			rec(func(r *cloudtrail.Record) { r.UserIdentity.InvokedBy = "lifecycle.s3.amazonaws.com" }), false},
		{"role invoked by a service is allowed by principals", `principals: ["arn:aws:iam::111122223333:role/app"]`,
			rec(func(r *cloudtrail.Record) { r.UserIdentity.InvokedBy = "lifecycle.s3.amazonaws.com" }), true},
		{"invokedBy without a type is not a service", `services: ["lifecycle.s3.amazonaws.com"]`,
			rec(func(r *cloudtrail.Record) {
				r.UserIdentity = cloudtrail.Identity{InvokedBy: "lifecycle.s3.amazonaws.com", AccountID: "111122223333"}
			}), false},
		{"ipv4 in range", `sources: ["10.0.0.0/8"]`, rec(nil), true},
		{"ipv4 out of range", `sources: ["192.168.0.0/16"]`, rec(nil), false},
		{"ipv4-mapped address counts as ipv4", `sources: ["10.0.0.0/8"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "::ffff:10.1.1.1" }), true},
		{"ipv4-mapped prefix", `sources: ["::ffff:10.0.0.0/104"]`, rec(nil), true},
		{"ipv6", `sources: ["2600:1f18:abcd::/48"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "2600:1f18:abcd:ffff::1" }), true},
		{"ipv6 out", `sources: ["2600:1f18:abcd::/48"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "2600:1f18:abce::1" }), false},
		{"bare address", `sources: ["10.0.0.1"]`, rec(nil), true},
		{"service name as source never matches", `sources: ["0.0.0.0/1", "128.0.0.0/2"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "lifecycle.s3.amazonaws.com" }), false},
		{"AWS Internal never matches", `sources: ["0.0.0.0/1", "128.0.0.0/2", "::/1"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "AWS Internal" }), false},
		{"zoned address never matches", `sources: ["::/1", "8000::/2"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "fe80::1%eth0" }), false},
		{"zoned ipv4-mapped address never matches ipv4", `sources: ["10.0.0.0/8"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "::ffff:10.1.2.3%eth0" }), false},
		{"zoned ipv4-mapped address never matches a mapped prefix", `sources: ["::ffff:10.0.0.0/104"]`,
			rec(func(r *cloudtrail.Record) { r.SourceIPAddress = "::ffff:10.1.2.3%eth0" }), false},
		{"vpce", `vpc_endpoints: ["vpce-0a1b2c3d"]`,
			rec(func(r *cloudtrail.Record) { r.VPCEndpointID = "vpce-0a1b2c3d" }), true},
		{"vpce missing", `vpc_endpoints: ["vpce-0a1b2c3d"]`, rec(nil), false},
		{"bucket glob", `buckets: ["b*--x-s3"]`, rec(nil), true},
		{"bucket exact other", `buckets: ["b2--use1-az4--x-s3"]`, rec(nil), false},
		{"no bucket never matches buckets", `buckets: ["b*"]`, rec(func(r *cloudtrail.Record) { r.Bucket = "" }), false},
		{"access point exact", `access_points: ["reports--use1-az4--xa-s3"]`,
			rec(func(r *cloudtrail.Record) { r.AccessPoint = "reports--use1-az4--xa-s3" }), true},
		{"access point glob", `access_points: ["rep*--xa-s3"]`,
			rec(func(r *cloudtrail.Record) { r.AccessPoint = "reports--use1-az4--xa-s3" }), true},
		{"access point other", `access_points: ["etl--use1-az4--xa-s3"]`,
			rec(func(r *cloudtrail.Record) { r.AccessPoint = "reports--use1-az4--xa-s3" }), false},
		{"no access point never matches access_points", `access_points: ["rep*"]`, rec(nil), false},
		{"access point name is not a bucket", `buckets: ["reports--use1-az4--*"]`,
			rec(func(r *cloudtrail.Record) { r.AccessPoint = "reports--use1-az4--xa-s3" }), false},
		{"bucket and access point both", "buckets: [\"b1--use1-az4--x-s3\"]\n    access_points: [\"reports--*\"]",
			rec(func(r *cloudtrail.Record) { r.AccessPoint = "reports--use1-az4--xa-s3" }), true},
		{"operation glob", `operations: ["Get*"]`, rec(nil), true},
		{"operation other", `operations: ["Put*"]`, rec(nil), false},
		{"AND across fields", "accounts: [\"111122223333\"]\n    operations: [\"Put*\"]", rec(nil), false},
		{"OR within field", `operations: ["PutObject", "GetObject"]`, rec(nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\nallow:\n  - name: e\n    " + tt.entry + "\n"
			a, err := Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatalf("parse:\n%s\n%v", src, err)
			}
			d := a.Decide(tt.rec)
			if got := d.Verdict == Allowed; got != tt.allow {
				t.Fatalf("allowed = %v; want %v (reasons %q)", got, tt.allow, d.Reasons)
			}
		})
	}
}

func TestFirstMatchingEntryWins(t *testing.T) {
	a, err := Parse("t.yaml", []byte("version: 1\nallow:\n  - name: one\n    operations: [Get*]\n  - name: two\n    operations: [GetObject]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Decide(rec(nil)); d.Rule != "one" {
		t.Fatalf("rule = %q; want one", d.Rule)
	}
}

func TestEmptyAllowlistAllowsNothing(t *testing.T) {
	a, err := Parse("t.yaml", []byte("version: 1\nallow: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Decide(rec(nil)); d.Verdict != Unauthorized {
		t.Fatalf("got %s; want unauthorized", d.Verdict)
	}
}

func TestProtected(t *testing.T) {
	a := loadExample(t)
	for _, tt := range []struct {
		arn  string
		want bool
	}{
		{"arn:aws:sts::111122223333:assumed-role/BreakGlass/oncall", true},
		{"arn:aws:iam::111122223333:role/emergency/BreakGlass", true},
		{"arn:aws:sts::111122223333:assumed-role/breakglass/oncall", false}, // role names are case-sensitive here
		{"arn:aws:sts::444455556666:assumed-role/BreakGlass/oncall", false},
		{"arn:aws:sts::111122223333:assumed-role/etl-loader/x", false},
	} {
		p := PrincipalOf(cloudtrail.Identity{Type: "AssumedRole", ARN: tt.arn})
		if got := a.IsProtected(p); got != tt.want {
			t.Errorf("IsProtected(%s) = %v; want %v", tt.arn, got, tt.want)
		}
	}
}

func TestPrincipalOf(t *testing.T) {
	for _, tt := range []struct {
		id   cloudtrail.Identity
		want Principal
	}{
		{cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/r/s", AccountID: "111122223333"},
			Principal{ARN: "arn:aws:sts::111122223333:assumed-role/r/s", Kind: KindRole, Partition: "aws", Account: "111122223333", Name: "r", Session: "s", Normalized: "arn:aws:iam::111122223333:role/r"}},
		{cloudtrail.Identity{Type: "IAMUser", ARN: "arn:aws-cn:iam::111122223333:user/p/u"},
			Principal{ARN: "arn:aws-cn:iam::111122223333:user/p/u", Kind: KindUser, Partition: "aws-cn", Account: "111122223333", Name: "u", Normalized: "arn:aws-cn:iam::111122223333:user/p/u"}},
		{cloudtrail.Identity{Type: "AWSService", InvokedBy: "lifecycle.s3.amazonaws.com"},
			Principal{Kind: KindService, Normalized: "lifecycle.s3.amazonaws.com"}},
		{cloudtrail.Identity{Type: "AWSAccount", AccountID: "444455556666"},
			Principal{Kind: KindAccount, Account: "444455556666", Normalized: "444455556666"}},
	} {
		if got := PrincipalOf(tt.id); got != tt.want {
			t.Errorf("PrincipalOf(%+v)\n got %+v\nwant %+v", tt.id, got, tt.want)
		}
	}
}

// TestServiceReason: a role acting through a service is told apart from
// the service in the reasons.
func TestServiceReason(t *testing.T) {
	a, err := Parse("t.yaml", []byte("version: 1\nallow:\n  - name: lc\n    services: [\"lifecycle.s3.amazonaws.com\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := a.Decide(rec(func(r *cloudtrail.Record) { r.UserIdentity.InvokedBy = "lifecycle.s3.amazonaws.com" }))
	want := "lc: services lifecycle.s3.amazonaws.com (userIdentity.type AssumedRole, not AWSService) not in lifecycle.s3.amazonaws.com"
	if d.Verdict != Unauthorized || len(d.Reasons) != 1 || d.Reasons[0] != want {
		t.Fatalf("got %s %q; want unauthorized [%q]", d.Verdict, d.Reasons, want)
	}
}

// An access point that fails an entry is named in the reason; a record
// without one says (none).
func TestAccessPointReason(t *testing.T) {
	a, err := Parse("t.yaml", []byte("version: 1\nallow:\n  - name: reports\n    access_points: [\"reports--*--xa-s3\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for ap, want := range map[string]string{
		"etl--use1-az4--xa-s3": "reports: access_points etl--use1-az4--xa-s3 not in reports--*--xa-s3",
		"":                     "reports: access_points (none) not in reports--*--xa-s3",
	} {
		d := a.Decide(rec(func(r *cloudtrail.Record) { r.AccessPoint = ap }))
		if d.Verdict != Unauthorized || len(d.Reasons) != 1 || d.Reasons[0] != want {
			t.Errorf("access point %q: %v %q; want unauthorized %q", ap, d.Verdict, d.Reasons, want)
		}
	}
}

// TestMisses: Misses names every entry, closest first, and its first few
// are the reasons Decide gives, in the same order.
func TestMisses(t *testing.T) {
	a := loadExample(t)
	n := 0
	for _, tt := range decideTests {
		r := loadRecord(t, tt.fixture)
		d := a.Decide(r)
		if d.Verdict != Unauthorized {
			continue
		}
		n++
		all := a.Misses(r)
		if len(all) != len(a.Entries) {
			t.Fatalf("%s: %d misses; want one per entry (%d)", tt.fixture, len(all), len(a.Entries))
		}
		if got := all[:len(d.Reasons)]; !slices.Equal(got, d.Reasons) {
			t.Errorf("%s: Misses starts %q; want Decide's reasons %q", tt.fixture, got, d.Reasons)
		}
		seen := map[string]bool{}
		prev := 0
		for _, m := range all {
			name, rest, _ := strings.Cut(m, ": ")
			seen[name] = true
			if k := strings.Count(rest, " not in "); k < prev {
				t.Errorf("%s: %q fails %d conditions, after one that fails %d", tt.fixture, m, k, prev)
			} else {
				prev = k
			}
		}
		if len(seen) != len(a.Entries) {
			t.Errorf("%s: Misses names %d distinct entries; want %d", tt.fixture, len(seen), len(a.Entries))
		}
	}
	if n == 0 {
		t.Fatal("no unauthorized fixture")
	}
}

package rules

import (
	"errors"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
)

func TestExampleAllowlistLoads(t *testing.T) {
	a := loadExample(t)
	if len(a.Entries) != 6 {
		t.Fatalf("got %d entries; want 6", len(a.Entries))
	}
}

// TestValidation checks that every malformed allowlist is rejected with
// PATH:LINE: FIELD: message pointing at the bad value.
func TestValidation(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // one expected problem line
	}{
		{"unknown top key", "version: 1\nallow: []\nallowed: []\n", "t.yaml:3: allowed: unknown key"},
		{"unknown entry key", "version: 1\nallow:\n  - name: a\n    principal: [\"arn:aws:iam::111122223333:root\"]\n", "t.yaml:4: allow[0].principal: unknown key"},
		{"no condition", "version: 1\nallow:\n  - name: a\n", `t.yaml:3: allow[0]: entry "a" has no condition, so it would allow everything`},
		{"only description", "version: 1\nallow:\n  - name: a\n    description: x\n", `t.yaml:3: allow[0]: entry "a" has no condition`},
		{"missing name", "version: 1\nallow:\n  - operations: [GetObject]\n", "t.yaml:3: allow[0].name: missing"},
		{"duplicate name", "version: 1\nallow:\n  - name: a\n    operations: [GetObject]\n  - name: a\n    operations: [PutObject]\n", `t.yaml:5: allow[1].name: duplicate name "a" (first at line 3)`},
		{"empty list", "version: 1\nallow:\n  - name: a\n    sources: []\n", "t.yaml:4: allow[0].sources: empty list"},
		{"scalar instead of list", "version: 1\nallow:\n  - name: a\n    sources: 10.0.0.0/8\n", `t.yaml:4: allow[0].sources: want a list, got "10.0.0.0/8"`},
		{"null item", "version: 1\nallow:\n  - name: a\n    accounts: [~]\n", "t.yaml:4: allow[0].accounts[0]: want a non-empty string, got nothing"},
		{"host bits", "version: 1\nallow:\n  - name: a\n    sources:\n      - 10.0.0.0/8\n      - 10.1.2.3/8\n", `t.yaml:6: allow[0].sources[1]: "10.1.2.3/8": host bits set (did you mean 10.0.0.0/8?)`},
		{"bad cidr", "version: 1\nallow:\n  - name: a\n    sources: [\"10.0.0.0/33\"]\n", `t.yaml:4: allow[0].sources[0]: "10.0.0.0/33": not a CIDR`},
		{"not an ip", "version: 1\nallow:\n  - name: a\n    sources: [\"corp-net\"]\n", `allow[0].sources[0]: "corp-net": not an IP address or CIDR`},
		{"short account", "version: 1\nallow:\n  - name: a\n    accounts: [\"11112222333\"]\n", `t.yaml:4: allow[0].accounts[0]: "11112222333": not a 12-digit account ID`},
		{"unquoted account keeps leading zero", "version: 1\nallow:\n  - name: a\n    accounts: [01112222333]\n", `"01112222333": not a 12-digit account ID`},
		{"bad vpce", "version: 1\nallow:\n  - name: a\n    vpc_endpoints: [\"vpce-XYZ\"]\n", `"vpce-XYZ": not a VPC endpoint ID`},
		{"bad service", "version: 1\nallow:\n  - name: a\n    services: [\"lifecycle\"]\n", `"lifecycle": not an AWS service principal`},
		{"bare star principal", "version: 1\nallow:\n  - name: a\n    principals: [\"*\"]\n", `allow[0].principals[0]: "*": not an ARN pattern`},
		{"typo in service part", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:iamm::111122223333:role/x\"]\n", `service "iamm" is not iam or sts`},
		{"account in ARN", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:iam::1111:role/x\"]\n", `account "1111" is not a 12-digit account ID`},
		{"region in IAM ARN", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:iam:us-east-1:111122223333:role/x\"]\n", `IAM and STS ARNs have no region`},
		{"wildcard path", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:iam::111122223333:role/team/*/x\"]\n", "wildcard in the role path"},
		{"role resource typo", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:iam::111122223333:roles/x\"]\n", "IAM resource must be role/NAME, user/NAME or root"},
		{"bad session ARN", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:sts::111122223333:assumed-role/x\"]\n", "want assumed-role/ROLE/SESSION"},
		{"bad partition", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws-xx:iam::111122223333:root\"]\n", `unknown partition "aws-xx"`},
		{"bucket uppercase", "version: 1\nallow:\n  - name: a\n    buckets: [\"Logs--use1-az4--x-s3\"]\n", "not a directory bucket name or glob"},
		{"operation with space", "version: 1\nallow:\n  - name: a\n    operations: [\"Get Object\"]\n", "not an event name or glob"},
		{"bad version", "version: 2\nallow: []\n", `t.yaml:1: version: unsupported version "2"`},
		{"missing version", "allow: []\n", "t.yaml:1: version: missing"},
		{"missing allow", "version: 1\n", "t.yaml:1: allow: missing"},
		{"duplicate key", "version: 1\nallow: []\nallow: []\n", "t.yaml:3: allow: duplicate key"},
		{"bad protected", "version: 1\nallow: []\nprotected: [\"BreakGlass\"]\n", `t.yaml:3: protected[0]: "BreakGlass": not an ARN pattern`},
		{"yaml syntax", "version: 1\nallow: [\n", "t.yaml:2: YAML syntax: did not find expected node content"},
		{"entry not mapping", "version: 1\nallow:\n  - etl\n", `t.yaml:3: allow[0]: want an entry (a mapping), got "etl"`},
		{"bad name", "version: 1\nallow:\n  - name: \"has space\"\n    operations: [GetObject]\n", `allow[0].name: "has space" is not a valid name`},

		// Conditions that match every value: the field says nothing, and a
		// reader believes it narrows the entry.
		{"operations star", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [\"*\"]\n", `t.yaml:5: allow[0].operations[0]: "*": matches every operation; remove the field to match any operation`},
		{"operations stars", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [GetObject, \"**\"]\n", `t.yaml:5: allow[0].operations[1]: "**": matches every operation`},
		{"operations wildcards only", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [\"?*\"]\n", `allow[0].operations[0]: "?*": matches every operation`},
		{"operations letter every op has", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [\"*t*\"]\n", `allow[0].operations[0]: "*t*": matches every operation`},
		{"buckets star", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    buckets: [\"*\"]\n", `t.yaml:5: allow[0].buckets[0]: "*": matches every directory bucket; remove the field to match any bucket`},
		{"buckets suffix every directory bucket has", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    buckets: [\"*--x-s3\"]\n", `allow[0].buckets[0]: "*--x-s3": matches every directory bucket`},
		{"buckets zone part", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    buckets: [\"*-az*\"]\n", `allow[0].buckets[0]: "*-az*": matches every directory bucket`},
		{"access_points star", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    access_points: [\"*\"]\n", `t.yaml:5: allow[0].access_points[0]: "*": matches every access point; remove the field to match any request, or name the access points`},
		{"access_points suffix every access point has", "version: 1\nallow:\n  - name: a\n    access_points: [\"*--xa-s3\"]\n", `t.yaml:4: allow[0].access_points[0]: "*--xa-s3": matches every access point`},
		{"access_points zone part", "version: 1\nallow:\n  - name: a\n    access_points: [\"*-az*\"]\n", `allow[0].access_points[0]: "*-az*": matches every access point`},
		{"access_points empty", "version: 1\nallow:\n  - name: a\n    access_points: []\n", "t.yaml:4: allow[0].access_points: empty list"},
		{"access_points bucket name", "version: 1\nallow:\n  - name: a\n    access_points: [\"reports--use1-az4--x-s3\"]\n", `t.yaml:4: allow[0].access_points[0]: "reports--use1-az4--x-s3": not an access point name or glob (NAME--ZONEID--xa-s3`},
		{"access_points bucket glob", "version: 1\nallow:\n  - name: a\n    access_points: [\"rep*--x-s3\"]\n", `"rep*--x-s3": not an access point name or glob`},
		{"access_points no suffix", "version: 1\nallow:\n  - name: a\n    access_points: [\"reports\"]\n", `"reports": not an access point name or glob`},
		{"access_points uppercase", "version: 1\nallow:\n  - name: a\n    access_points: [\"Reports--use1-az4--xa-s3\"]\n", `"Reports--use1-az4--xa-s3": not an access point name or glob`},
		{"access_points ARN", "version: 1\nallow:\n  - name: a\n    access_points: [\"arn:aws:s3express:us-east-1:111122223333:accesspoint/reports--use1-az4--xa-s3\"]\n", `not an access point name or glob`},
		{"access_points dot", "version: 1\nallow:\n  - name: a\n    access_points: [\"re.ports--use1-az4--xa-s3\"]\n", `not an access point name or glob`},
		{"access_points typo in key", "version: 1\nallow:\n  - name: a\n    access_point: [\"reports--use1-az4--xa-s3\"]\n", "t.yaml:4: allow[0].access_point: unknown key"},
		{"sources ipv4 all", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    sources: [\"0.0.0.0/0\"]\n", `t.yaml:5: allow[0].sources[0]: "0.0.0.0/0": matches every IPv4 address; remove the field to match any source, or list your ranges`},
		{"sources ipv6 all", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    sources: [\"10.0.0.0/8\", \"::/0\"]\n", `allow[0].sources[1]: "::/0": matches every IPv6 address`},
		{"sources mapped all", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    sources: [\"::ffff:0.0.0.0/96\"]\n", `allow[0].sources[0]: "::ffff:0.0.0.0/96": matches every IPv4 address`},
		{"operations union of globs", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [Get*, Put*, Delete*, Create*, List*, Head*, Copy*, Upload*, Complete*, Abort*, Rename*]\n",
			`t.yaml:5: allow[0].operations: "Get*", "Put*", "Delete*", "Create*", "List*", "Head*", "Copy*", "Upload*", "Complete*", "Abort*", "Rename*" together match every operation; remove the field to match any operation, or name the operations`},
		{"operations union of globs and names", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [\"*Object*\", \"*Bucket*\", \"*Multipart*\", \"*Part*\", CreateSession, \"List*\"]\n",
			`t.yaml:5: allow[0].operations: "*Object*", "*Bucket*", "*Multipart*", "*Part*", "CreateSession", "List*" together match every operation`},
		{"sources two halves", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    sources:\n      - 0.0.0.0/1\n      - 10.0.0.0/8\n      - 128.0.0.0/1\n", `t.yaml:5: allow[0].sources: 0.0.0.0/1, 128.0.0.0/1 together match every IPv4 address; remove the field to match any source, or list your ranges`},
		{"sources ipv6 halves mapped", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    sources: [\"::/1\", \"8000::/1\"]\n", `allow[0].sources: ::/1, 8000::/1 together match every IPv6 address`},
		{"principal account wildcard", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:iam::*:role/x\"]\n", `t.yaml:4: allow[0].principals[0]: "arn:aws:iam::*:role/x": wildcard in the account: it matches role/x in every AWS account, an attacker's included; name the account, or use accounts: to allow every principal of an account`},
		{"principal account partial wildcard", "version: 1\nallow:\n  - name: a\n    principals: [\"arn:aws:sts::1111222233??:assumed-role/x/y\"]\n", `allow[0].principals[0]: "arn:aws:sts::1111222233??:assumed-role/x/y": wildcard in the account`},
		{"protected every role", "version: 1\nallow: []\nprotected: [\"arn:aws:iam::111122223333:role/*\"]\n", `t.yaml:3: protected[0]: "arn:aws:iam::111122223333:role/*": protects every role of the account from quarantine; name the principals`},
		{"protected every session", "version: 1\nallow: []\nprotected:\n  - arn:aws:iam::111122223333:role/BreakGlass\n  - arn:aws:sts::111122223333:assumed-role/*/oncall\n", `t.yaml:5: protected[1]: "arn:aws:sts::111122223333:assumed-role/*/oncall": protects every role`},
		{"protected every user", "version: 1\nallow: []\nprotected: [\"arn:aws:iam::111122223333:user/?*\"]\n", `protects every user of the account`},
		{"protected account wildcard", "version: 1\nallow: []\nprotected: [\"arn:aws:iam::*:role/BreakGlass\"]\n", `t.yaml:3: protected[0]: "arn:aws:iam::*:role/BreakGlass": wildcard in the account`},

		// YAML features that let one line stand for another, or change what
		// a value means.
		{"two documents", "version: 1\nallow: []\n---\nversion: 1\nallow:\n  - name: all\n    operations: [GetObject]\n", `t.yaml:3: more than one YAML document; an allowlist is one document`},
		{"binary tag", "version: 1\nallow:\n  - name: a\n    accounts: [!!binary MTExMTIyMjIzMzMz]\n", `t.yaml:4: allow[0].accounts[0]: YAML tag !!binary is not allowed; write the value as plain text`},
		{"custom tag", "version: 1\nallow:\n  - name: a\n    operations: !foo [GetObject]\n", `t.yaml:4: allow[0].operations: YAML tag !foo is not allowed`},
		{"anchor and alias", "version: 1\nallow:\n  - name: a\n    accounts: &acct [\"111122223333\"]\n  - name: b\n    accounts: *acct\n", `t.yaml:4: allow[0].accounts: YAML anchor &acct is not allowed; write each value out`},
		{"alias", "version: 1\nallow:\n  - name: a\n    accounts: &acct [\"111122223333\"]\n  - name: b\n    accounts: *acct\n", `t.yaml:6: allow[1].accounts: YAML alias *acct is not allowed; write each value out`},
		{"merge key", "version: 1\nallow:\n  - name: a\n    <<: {operations: [GetObject]}\n    accounts: [\"111122223333\"]\n", `t.yaml:4: allow[0].<<: YAML merge key is not allowed; write each value out`},
		{"duplicate field in entry", "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: [GetObject]\n    accounts: [\"444455556666\"]\n", "t.yaml:6: allow[0].accounts: duplicate key"},
		{"duplicate name key", "version: 1\nallow:\n  - name: a\n    name: b\n    operations: [GetObject]\n", "t.yaml:4: allow[0].name: duplicate key"},
		{"key case variant", "version: 1\nallow:\n  - name: a\n    Operations: [GetObject]\n", `t.yaml:4: allow[0].Operations: unknown key (keys are lowercase: did you mean operations?)`},
		{"top key case variant", "Version: 1\nallow: []\n", `t.yaml:1: Version: unknown key (keys are lowercase: did you mean version?)`},
		{"quoted key with space", "version: 1\nallow:\n  - name: a\n    \"operations \": [GetObject]\n", `allow[0].operations : unknown key`},
		{"flow list as one string", "version: 1\nallow:\n  - name: a\n    operations: GetObject, PutObject\n", `allow[0].operations: want a list, got "GetObject, PutObject"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted it (%d entries); want error %q", len(a.Entries), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error:\n%v\nwant a line containing:\n%s", err, tt.want)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is %T; want *LoadError", err)
			}
		})
	}
}

// TestAllProblemsReported: one run lists every problem, not just the first.
func TestAllProblemsReported(t *testing.T) {
	src := "version: 1\nallow:\n  - name: a\n    sources: [\"10.0.0.1/8\"]\n    accounts: [\"x\"]\n  - name: b\n    vpc_endpoints: [\"vpc-1\"]\n"
	_, err := Parse("t.yaml", []byte(src))
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 3 {
		t.Fatalf("got %v; want 3 problems", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("got %v", err)
	}
}

// FuzzParse: the loader never panics, and whatever it accepts has no entry
// that matches everything.
func FuzzParse(f *testing.F) {
	example, _ := os.ReadFile("allowlist.example.yaml")
	f.Add(example)
	f.Add([]byte("version: 1\nallow:\n  - name: a\n    sources: [10.0.0.0/8]\n"))
	f.Add([]byte("version: 1\nallow: []\nprotected: [\"arn:aws:iam::111122223333:root\"]\n"))
	f.Add([]byte("version: 1\nallow:\n  - name: a\n    sources: [0.0.0.0/1, 128.0.0.0/1]\n    buckets: [\"*-az*\"]\n"))
	f.Add([]byte("version: 1\nallow:\n  - name: a\n    accounts: &x [\"111122223333\"]\n---\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		a, err := Parse("f.yaml", src)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("error %v is not a LoadError with problems", err)
			}
			return
		}
		for _, e := range a.Entries {
			if len(e.raw) == 0 {
				t.Fatalf("entry %q has no condition", e.Name)
			}
			for _, op := range e.raw["operations"] {
				if matchesAll(op, s3ExpressOperations) {
					t.Fatalf("entry %q: operation %q matches every operation", e.Name, op)
				}
			}
			if ops := e.raw["operations"]; slices.ContainsFunc(ops, hasWildcard) && unionMatchesAll(ops, s3ExpressOperations) {
				t.Fatalf("entry %q: operations %q together match every operation", e.Name, ops)
			}
			for _, b := range e.raw["buckets"] {
				if matchesAll(b, bucketProbes) {
					t.Fatalf("entry %q: bucket %q matches every bucket", e.Name, b)
				}
			}
			if covers(e.sources) {
				t.Fatalf("entry %q: sources cover a whole family", e.Name)
			}
			for _, pp := range e.principals {
				if hasWildcard(pp.account.src) {
					t.Fatalf("entry %q: principal %q has a wildcard account", e.Name, pp.src)
				}
			}
		}
	})
}

func TestIsAccountID(t *testing.T) {
	for s, want := range map[string]bool{
		"123456789012": true, "000000000000": true,
		"12345678901": false, "1234567890123": false, "": false,
		"12345678901a": false, "-12345678901": false, " 23456789012": false,
		"١٢٣٤٥٦٧٨٩٠١٢": false, // Arabic-Indic digits: not an account ID
	} {
		if got := IsAccountID(s); got != want {
			t.Errorf("IsAccountID(%q) = %v; want %v", s, got, want)
		}
	}
}

// unionMatchesAll reports whether every name is matched by one of globs: a
// slow reference, glob by glob, for the loader's union check.
func unionMatchesAll(globs, names []string) bool {
	for _, n := range names {
		if !slices.ContainsFunc(globs, func(g string) bool { ok, _ := path.Match(g, n); return ok }) {
			return false
		}
	}
	return true
}

// TestOperationsUnionAccepted: lists that do not cover every operation,
// or cover it with exact names only (which allow nothing added later),
// still load.
func TestOperationsUnionAccepted(t *testing.T) {
	for _, ops := range []string{
		"[Get*, Put*, Delete*, Create*, List*, Head*, Copy*, Upload*, Complete*, Abort*]", // no RenameObject
		"[Get*, Head*, List*]",
		"[" + strings.Join(s3ExpressOperations, ", ") + "]",
	} {
		src := "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    operations: " + ops + "\n"
		if _, err := Parse("t.yaml", []byte(src)); err != nil {
			t.Errorf("operations %s: %v", ops, err)
		}
	}
}

// TestNameUnions: bucket and access point globs that together match every
// name are refused, naming the values; unions that leave names out load.
func TestNameUnions(t *testing.T) {
	// By the first letter; by the letter before the suffix.
	var firsts, lasts, apLasts []string
	for _, c := range "abcdefghijklmnopqrstuvwxyz0123456789" {
		firsts = append(firsts, string(c)+"*")
		lasts = append(lasts, "*"+string(c)+"--x-s3")
		apLasts = append(apLasts, "*"+string(c)+"--xa-s3")
	}
	entry := func(field string, vals []string) string {
		return "version: 1\nallow:\n  - name: a\n    accounts: [\"111122223333\"]\n    " + field + ": [\"" + strings.Join(vals, "\", \"") + "\"]\n"
	}
	for _, tt := range []struct {
		field string
		vals  []string
		err   string // "" when the list loads
	}{
		{"buckets", firsts, `t.yaml:5: allow[0].buckets: "a*", "b*", `},
		{"buckets", firsts[1:], ""}, // no bucket starting with a
		{"buckets", append(slices.Clone(lasts), "*.--x-s3", "*---x-s3"), `"*a--x-s3", "*b--x-s3", `},
		{"buckets", append(slices.Clone(lasts), "*---x-s3"), ""}, // BASE ending in '.'
		{"buckets", append(slices.Clone(lasts[:35]), "*.--x-s3", "*---x-s3"), ""},
		{"buckets", []string{"*-az1--x-s3", "*-az2--x-s3", "*-az3--x-s3"}, ""},
		{"buckets", []string{"logs-*--x-s3", "analytics--use1-az4--x-s3", "a*"}, ""},
		{"access_points", append(slices.Clone(apLasts), "*---xa-s3"), `together match every access point; remove the field to match any request, or name the access points`},
		{"access_points", apLasts, ""},
		{"access_points", []string{"r*--xa-s3", "s*--xa-s3"}, ""},
	} {
		_, err := Parse("t.yaml", []byte(entry(tt.field, tt.vals)))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s %q: %v; want it to load", tt.field, tt.vals, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s %q: error %v; want one containing %q", tt.field, tt.vals, err, tt.err)
		}
	}
}

// TestGlobsCoverNamesAgainstSamples: when the union is said not to cover
// every name, the search found a reason; when it is said to, no sampled
// name escapes it (a slow check by path.Match on random names).
func TestGlobsCoverNamesAgainstSamples(t *testing.T) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.-"
	rnd := rand.New(rand.NewPCG(1, 2))
	name := func() string {
		b := []byte{alphabet[rnd.IntN(36)]}
		for range rnd.IntN(12) {
			b = append(b, alphabet[rnd.IntN(len(alphabet))])
		}
		return string(b) + "--x-s3"
	}
	pieces := []string{"*", "?", "a", "-", "--x-s3", "3", "s", "x"}
	covered := 0
	for range 3000 {
		var globs []string
		for range 1 + rnd.IntN(4) {
			g := ""
			for range 1 + rnd.IntN(4) {
				g += pieces[rnd.IntN(len(pieces))]
			}
			globs = append(globs, g)
		}
		if !globsCoverNames(globs, alphabet, "--x-s3") {
			continue
		}
		covered++
		for range 200 {
			n := name()
			if !slices.ContainsFunc(globs, func(g string) bool { ok, _ := path.Match(g, n); return ok }) {
				t.Fatalf("globs %q said to match every name; %q escapes them", globs, n)
			}
		}
	}
	if covered == 0 {
		t.Fatal("no random union covered every name: the test proves nothing")
	}
	t.Logf("%d of 3000 random unions cover every name", covered)
}

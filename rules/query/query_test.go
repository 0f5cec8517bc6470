package query

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

var ipSyntaxRE = regexp.MustCompile(ipSyntax)

// ipCases are the edges of netip.ParseAddr (zones, leading zeros, IPv4
// tails, compression); the fuzz target explores beyond them.
var ipCases = []string{
	"10.1.2.3", "0.0.0.0", "255.255.255.255", "256.1.1.1", "010.1.2.3", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ",
	"::", "::1", "1::", "::ffff:10.1.2.3", "::FFFF:10.1.2.3", "::ffff:1.2.3.04", "1::1.2.3.4", "::1.2.3.4",
	"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "1:2:3:4:5:6::8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::1",
	":::1", "1:::2", "fe80::1%eth0", "fe80::1%", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4:5",
	"0000:0000:0000:0000:0000:0000:0000:0001", "AWS Internal", "lifecycle.s3.amazonaws.com", "", "1.2.3.4/32", "[::1]",
}

func parseable(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

func TestIPSyntax(t *testing.T) {
	for _, s := range ipCases {
		if got, want := ipSyntaxRE.MatchString(s), parseable(s); got != want {
			t.Errorf("%q: ipSyntax matches = %v; netip.ParseAddr accepts = %v", s, got, want)
		}
	}
}

// FuzzIPSyntax holds ipSyntax to netip.ParseAddr (without zones).
func FuzzIPSyntax(f *testing.F) {
	for _, s := range ipCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ipSyntaxRE.MatchString(s), parseable(s); got != want {
			t.Fatalf("%q: ipSyntax matches = %v; netip.ParseAddr accepts = %v", s, got, want)
		}
	})
}

func TestQuote(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"abc", "'abc'"},
		{"it's", "'it''s'"},
		{"é", `U&'\00E9'`},
		{"a\nb'\\", `U&'a\000Ab''\\'`},
		{"\U0001F600", `U&'\+01F600'`},
	} {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct{ g, want string }{
		{"GetObject", "x = 'GetObject'"},
		{"*", "TRUE"},
		{"**", "TRUE"},
		{"Get*", `x LIKE 'Get%' ESCAPE '\'`},
		{"a_b%*", `x LIKE 'a\_b\%%' ESCAPE '\'`},
		{"?e*", `regexp_like(to_hex(to_utf8(x)), '^..65(?:..)*$')`},
	} {
		if got := glob("x", tt.g); got != tt.want {
			t.Errorf("glob(%q) = %s; want %s", tt.g, got, tt.want)
		}
	}
}

func example(t *testing.T) *rules.Allowlist {
	t.Helper()
	a, err := rules.Load("../allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBuildRefuses(t *testing.T) {
	a := example(t)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Engine: "bigquery"}, `engine "bigquery"`},
		{Options{Engine: Lake}, "event data store ID"},
		{Options{Engine: Athena, Table: "logs; DROP TABLE x"}, "want [catalog.][database.]table"},
		{Options{Engine: Lake, Table: "abc'--"}, "want an event data store ID"},
		{Options{Engine: Athena, Verdict: "ignored"}, `verdict "ignored"`},
		{Options{Engine: Athena, Since: day, Until: day}, "is not before --until"},
	} {
		_, err := Build(a, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Build(%+v) = %v; want an error with %q", tt.o, err, tt.want)
		}
	}
}

// TestAthenaPartitionPredicate: --since/--until bound the partition by day
// (until exclusive: midnight does not read the next day) and eventTime.
func TestAthenaPartitionPredicate(t *testing.T) {
	q, err := Build(example(t), Options{Engine: Athena,
		Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"timestamp" >= '2026/11/01'`, `"timestamp" <= '2026/11/07'`,
		`eventtime >= '2026-11-01T00:00:00Z'`, `eventtime < '2026-11-08T00:00:00Z'`,
		"FROM cloudtrail_logs\n", "WHERE verdict IN ('unauthorized', 'invalid')",
	} {
		if !strings.Contains(q, want) {
			t.Errorf("query lacks %s:\n%s", want, q)
		}
	}
	q, err = Build(example(t), Options{Engine: Lake, Table: "EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE", Verdict: VerdictAllowed,
		Since: time.Date(2026, 11, 1, 6, 0, 0, 0, time.FixedZone("x", 3600))})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"eventtime >= TIMESTAMP '2026-11-01 05:00:00.000'", "FROM EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE\n", "element_at(requestparameters, 'bucketName')"} {
		if !strings.Contains(q, want) {
			t.Errorf("query lacks %s:\n%s", want, q)
		}
	}
}

// TestAthenaLimit: an allowlist whose query passes Athena's limit on query
// length is refused, not truncated.
func TestAthenaLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nallow:\n")
	for i := range 3000 {
		b.WriteString("  - name: e")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("\n    principals: [\"arn:aws:iam::111122223333:role/some-long-role-name-")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("\"]\n")
	}
	a, err := rules.Parse("big.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(a, Options{Engine: Athena}); err == nil || !strings.Contains(err.Error(), "over Athena's limit") {
		t.Fatalf("Build = %v; want the Athena limit error", err)
	}
	if _, err := Build(a, Options{Engine: Lake, Table: "eds"}); err != nil {
		t.Fatalf("lake: %v", err)
	}
}

// TestNoInjection: a value from the allowlist cannot end its literal.
func TestNoInjection(t *testing.T) {
	src := "version: 1\nallow:\n  - name: x\n    principals: [\"arn:aws:sts::111122223333:assumed-role/r/a'b\\nc\"]\n"
	dir := t.TempDir()
	path := dir + "/a.yaml"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Build(a, Options{Engine: Athena})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, `arn = U&'arn:aws:sts::111122223333:assumed-role/r/a''b\000Ac'`) {
		t.Fatalf("value not quoted as expected:\n%s", q)
	}
}

// FuzzByteGlob holds the hexadecimal form of a glob with '?' (see glob) to
// the allowlist's own matching: a whole-ARN principal pattern decided by
// rules.Decide against the same regular expression run by Go on the ARN's
// hexadecimal bytes. (Trino runs it in test/trino; the expression uses
// nothing but literals, '.', '(?:..)*' and anchors, which mean the same in
// both engines.)
func FuzzByteGlob(f *testing.F) {
	for _, s := range [][2]string{{"?", "é"}, {"s?ss-7", "séss-7"}, {"*?", "x"}, {"a?*b", "ab"}, {"??", "é"}, {"?*?", "é"}} {
		f.Add(s[0], s[1])
	}
	const prefix = "arn:aws:sts::111122223333:assumed-role/r/"
	f.Fuzz(func(t *testing.T, pattern, session string) {
		if !strings.Contains(pattern, "?") || !utf8.ValidString(session) || !utf8.ValidString(pattern) {
			return
		}
		quoted, _ := json.Marshal(prefix + pattern)
		a, err := rules.Parse("f.yaml", []byte("version: 1\nallow:\n  - name: x\n    principals: ["+string(quoted)+"]\n"))
		if err != nil {
			return // not a valid pattern: the loader refuses it, so no SQL is written
		}
		arn := prefix + session
		want := a.Decide(&cloudtrail.Record{EventSource: cloudtrail.EventSource, EventName: "GetObject", HasUserIdentity: true,
			UserIdentity: cloudtrail.Identity{Type: "AssumedRole", ARN: arn, AccountID: "111122223333"}}).Verdict == rules.Allowed
		cond := glob("arn", prefix+pattern)
		m := regexp.MustCompile(`^regexp_like\(to_hex\(to_utf8\(arn\)\), (U&)?'(.*)'\)$`).FindStringSubmatch(cond)
		if m == nil {
			t.Fatalf("glob(%q) = %s; want the hexadecimal form", pattern, cond)
		}
		got := regexp.MustCompile(m[2]).MatchString(strings.ToUpper(hex.EncodeToString([]byte(arn))))
		if got != want {
			t.Fatalf("pattern %q, session %q: hexadecimal form matches = %v; the allowlist allows = %v", pattern, session, got, want)
		}
	})
}

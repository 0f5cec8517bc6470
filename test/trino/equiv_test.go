package trino

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/rules/query"
)

const (
	athenaTable = "memory.default.athena"
	lakeTable   = "memory.default.lake"
	// Seed of the random records and allowlists; S3XGUARD_SEED overrides it
	// to explore further (the failing seed is printed).
	defaultSeed = 20261125
)

// One Trino for the whole test binary, started by the first test that needs
// it and stopped when the binary ends.
var (
	serverOnce sync.Once
	server     *Server
	serverErr  error
	serverDir  string
	corpus     *records
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	if serverDir != "" {
		os.RemoveAll(serverDir)
	}
	os.Exit(code)
}

// trino returns the shared server with the corpus loaded, or skips (fails
// when S3XGUARD_REQUIRE_TOOLS=1, as in test/run) when Trino is not installed.
func trino(t testing.TB) (*Server, *records) {
	t.Helper()
	serverOnce.Do(func() {
		if serverDir, serverErr = os.MkdirTemp("", "s3xguard-trino-"); serverErr != nil {
			return
		}
		ctx := context.Background()
		start := time.Now()
		if server, serverErr = Start(ctx, serverDir); serverErr != nil {
			return
		}
		t.Logf("trino started in %s", time.Since(start).Round(time.Millisecond))
		if corpus, serverErr = buildCorpus(); serverErr != nil {
			return
		}
		start = time.Now()
		serverErr = Load(ctx, server, athenaTable, lakeTable, corpus.raw)
		t.Logf("loaded %d records into both tables in %s", len(corpus.raw), time.Since(start).Round(time.Millisecond))
	})
	if serverErr != nil {
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") != "1" && server == nil && strings.Contains(serverErr.Error(), "not installed") {
			t.Skip(serverErr)
		}
		if server != nil {
			t.Fatalf("%v\ntrino log (%s):\n%s", serverErr, server.Log, server.Tail(4000))
		}
		t.Fatal(serverErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("trino log (%s), last lines:\n%s", server.Log, server.Tail(3000))
		}
	})
	return server, corpus
}

// records is the corpus: every record that can be a table row, with the
// decoder's reading of it.
type records struct {
	raw      []json.RawMessage
	decoded  []*cloudtrail.Record
	byID     map[string]json.RawMessage
	excluded int // not strict JSON, or not decodable: cannot be a table row
	sources  map[string]int
}

func buildCorpus() (*records, error) {
	c := &records{byID: map[string]json.RawMessage{}, sources: map[string]int{}}
	add := func(source string, raws []json.RawMessage) {
		for _, raw := range raws {
			if !Strict(raw) {
				c.excluded++
				continue
			}
			rec, err := cloudtrail.DecodeEvent(raw)
			if err != nil {
				c.excluded++
				continue
			}
			c.raw = append(c.raw, raw)
			c.decoded = append(c.decoded, rec)
			c.byID[rec.EventID] = raw
			c.sources[source]++
		}
	}
	for _, dir := range []string{"../testdata/records", "../testdata/sample-logs"} {
		raws, err := ReadRecords(dir)
		if err != nil {
			return nil, err
		}
		add(dir, raws)
	}
	// A tree from test/gen, as check's benchmarks use.
	gen, err := os.MkdirTemp("", "s3xguard-gen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(gen)
	cmd := exec.Command("go", "run", "../gen", "-out", gen, "-records", "2000", "-files", "4", "-seed", "11")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("test/gen: %v\n%s", err, out)
	}
	raws, err := ReadRecords(gen)
	if err != nil {
		return nil, err
	}
	add("test/gen", raws)
	r := rand.New(rand.NewPCG(seed(), 1))
	var fuzz []json.RawMessage
	for i := range 2500 {
		fuzz = append(fuzz, randomRecord(r, i))
	}
	add("random", fuzz)
	add("edges", edgeRecords())
	return c, nil
}

func seed() uint64 {
	if s := os.Getenv("S3XGUARD_SEED"); s != "" {
		var n uint64
		fmt.Sscan(s, &n)
		return n
	}
	return defaultSeed
}

// row is what the property compares: check's verdict, rule, bucket and
// normalized principal for one eventID.
type row struct{ eventID, verdict, rule, bucket, principal string }

func (r row) String() string {
	return fmt.Sprintf("%s %s rule=%q bucket=%q principal=%q", r.eventID, r.verdict, r.rule, r.bucket, r.principal)
}

// oracle is what check decides on the corpus (ignored records left out, as
// the query never returns them), filtered by verdict and time.
func oracle(a *rules.Allowlist, c *records, keep func(v string, rec *cloudtrail.Record) bool) []row {
	var out []row
	for _, rec := range c.decoded {
		d := a.Decide(rec)
		if d.Verdict == rules.Ignored || !keep(d.Verdict.String(), rec) {
			continue
		}
		out = append(out, row{rec.EventID, d.Verdict.String(), d.Rule, rec.Bucket, d.Principal.Normalized})
	}
	sortRows(out)
	return out
}

func sortRows(rs []row) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
}

// run builds and runs the query, returning its rows.
func run(t *testing.T, s *Server, a *rules.Allowlist, o query.Options) []row {
	t.Helper()
	q, err := query.Build(a, o)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	res, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s query: %v\n%s", o.Engine, err, q)
	}
	if !slices.Equal(res.Columns, query.Columns) {
		t.Fatalf("columns %q; want %q", res.Columns, query.Columns)
	}
	var out []row
	for _, r := range res.Rows {
		s := func(i int) string {
			if v, ok := r[i].(string); ok {
				return v
			}
			return ""
		}
		out = append(out, row{s(0), s(1), s(2), s(5), s(6)})
	}
	sortRows(out)
	return out
}

// compare fails with the differing rows and their records.
func compare(t *testing.T, what string, got, want []row, c *records, allowlist string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gotSet, wantSet := map[row]int{}, map[row]int{}
	for _, r := range got {
		gotSet[r]++
	}
	for _, r := range want {
		wantSet[r]++
	}
	var b strings.Builder
	n := 0
	for _, r := range want {
		if gotSet[r] < wantSet[r] && n < 8 {
			fmt.Fprintf(&b, "  check only: %s\n    record: %s\n", r, c.byID[r.eventID])
			n++
		}
	}
	for _, r := range got {
		if wantSet[r] < gotSet[r] && n < 16 {
			fmt.Fprintf(&b, "  sql only:   %s\n    record: %s\n", r, c.byID[r.eventID])
			n++
		}
	}
	t.Fatalf("%s: %d rows from SQL, %d from check (seed %d); allowlist:\n%s\ndifferences:\n%s", what, len(got), len(want), seed(), allowlist, b.String())
}

func all(string, *cloudtrail.Record) bool { return true }

// testAllowlists are the example, the allowlists of check's test scripts,
// and two written for the corner cases.
func testAllowlists(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ex, err := os.ReadFile("../../rules/allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out["rules/allowlist.example.yaml"] = string(ex)
	scripts, _ := filepath.Glob("../../lambda/cli/testdata/script/*.txtar")
	for _, path := range scripts {
		ar, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if strings.HasSuffix(f.Name, ".yaml") {
				if _, err := rules.Parse(f.Name, f.Data); err == nil {
					out[filepath.Base(path)+":"+f.Name] = string(f.Data)
				}
			}
		}
	}
	out["corners"] = `version: 1
allow:
  - name: like-wildcards
    principals: ["arn:aws:sts::111122223333:assumed-role/etl_x/%", "arn:aws:iam::444455556666:user/a_b"]
  - name: byte-wildcard
    principals: ["arn:aws:sts::111122223333:assumed-role/etl-loader/?"]
  - name: v6-half
    sources: ["::/1"]
    operations: ["Put*"]
  - name: mapped-prefix
    sources: ["::ffff:10.0.0.0/104"]
    buckets: ["?*--use1-az4--x-s3"]
  - name: service-only
    services: ["lifecycle.s3.amazonaws.com"]
  - name: byte-wildcards
    principals: ["arn:aws:iam::111122223333:role/?-role", "arn:aws:sts::444455556666:assumed-role/analyst/s?ss-7"]
  - name: byte-operations
    operations: ["?etObject", "??????????"]
`
	out["nothing"] = "version: 1\nallow: []\n"
	return out
}

// TestEquivalence is the property: for every allowlist of the corpus, on
// both table schemas, the query's (eventID, verdict, rule, bucket,
// principal) rows are exactly what check decides.
func TestEquivalence(t *testing.T) {
	s, c := trino(t)
	t.Logf("corpus: %d records (%v), %d excluded (not strict JSON or not decodable)", len(c.raw), c.sources, c.excluded)
	for name, src := range testAllowlists(t) {
		a, err := rules.Parse(name, []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := oracle(a, c, all)
		for _, e := range []query.Engine{query.Athena, query.Lake} {
			got := run(t, s, a, query.Options{Engine: e, Table: map[query.Engine]string{query.Athena: athenaTable, query.Lake: lakeTable}[e], Verdict: query.VerdictAll})
			compare(t, fmt.Sprintf("%s on %s", name, e), got, want, c, src)
		}
	}
}

// TestRandomAllowlists is the differential fuzz: random allowlists over
// random and real records, both engines.
func TestRandomAllowlists(t *testing.T) {
	s, c := trino(t)
	r := rand.New(rand.NewPCG(seed(), 2))
	n := 30
	verdicts := map[string]int{}
	for i := range n {
		a, src := randomAllowlist(r)
		want := oracle(a, c, all)
		for _, w := range want {
			verdicts[w.verdict]++
		}
		e := []query.Engine{query.Athena, query.Lake}[i%2]
		table := map[query.Engine]string{query.Athena: athenaTable, query.Lake: lakeTable}[e]
		got := run(t, s, a, query.Options{Engine: e, Table: table, Verdict: query.VerdictAll})
		compare(t, fmt.Sprintf("random allowlist %d on %s", i, e), got, want, c, src)
	}
	t.Logf("%d random allowlists (seed %d), rows by verdict: %v", n, seed(), verdicts)
}

// TestVerdictsAndTime checks --verdict and --since/--until: the rows are
// check's, filtered by verdict and by eventTime (since inclusive, until
// exclusive).
func TestVerdictsAndTime(t *testing.T) {
	s, c := trino(t)
	a, err := rules.Load("../../rules/allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC)
	until := time.Date(2026, 11, 20, 0, 3, 0, 0, time.UTC)
	for _, v := range []string{query.VerdictUnauthorized, query.VerdictAllowed, query.VerdictInvalid, query.VerdictFindings, query.VerdictAll} {
		for _, windowed := range []bool{false, true} {
			keep := func(got string, rec *cloudtrail.Record) bool {
				switch v {
				case query.VerdictFindings:
					if got != "unauthorized" && got != "invalid" {
						return false
					}
				case query.VerdictAll:
				default:
					if got != v {
						return false
					}
				}
				if !windowed {
					return true
				}
				t, err := time.Parse(time.RFC3339, rec.EventTime)
				return err == nil && !t.Before(since) && t.Before(until)
			}
			want := oracle(a, c, keep)
			for _, e := range []query.Engine{query.Athena, query.Lake} {
				o := query.Options{Engine: e, Table: map[query.Engine]string{query.Athena: athenaTable, query.Lake: lakeTable}[e], Verdict: v}
				if windowed {
					o.Since, o.Until = since, until
				}
				got := run(t, s, a, o)
				if len(want) == 0 {
					t.Errorf("%s windowed=%v: the oracle selects nothing; the test proves little", v, windowed)
				}
				compare(t, fmt.Sprintf("verdict %s windowed=%v on %s", v, windowed, e), got, want, c, "rules/allowlist.example.yaml")
			}
		}
	}
}

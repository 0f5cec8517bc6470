package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

func unauthorizedRecord(principal, bucket, op, ip, vpce, at string) (*cloudtrail.Record, rules.Decision) {
	return &cloudtrail.Record{EventName: op, Bucket: bucket, SourceIPAddress: ip, VPCEndpointID: vpce, EventTime: at},
		rules.Decision{Verdict: rules.Unauthorized, Principal: rules.Principal{Normalized: principal}}
}

// TestGroupsMerge: two workers' groups merge into the sums one worker
// would have made.
func TestGroupsMerge(t *testing.T) {
	one, a, b := newGroups(), newGroups(), newGroups()
	adds := []struct {
		p, bucket, op, ip, vpce, at string
	}{
		{"arn:p", "b1", "GetObject", "1.1.1.1", "", "2026-11-20T10:00:00Z"},
		{"arn:p", "b1", "PutObject", "1.1.1.2", "", "2026-11-20T09:00:00Z"},
		{"arn:p", "b1", "GetObject", "10.0.0.1", "vpce-1", "2026-11-20T11:00:00Z"},
		{"arn:p", "b2", "GetObject", "1.1.1.1", "", "not a time"},
		{"arn:q", "b1", "GetObject", "1.1.1.1", "", "2026-11-20T12:00:00Z"},
	}
	for i, x := range adds {
		r, d := unauthorizedRecord(x.p, x.bucket, x.op, x.ip, x.vpce, x.at)
		one.add(r, d)
		[]*groups{a, b}[i%2].add(r, d)
	}
	a.merge(b)
	if got, want := string(a.appendSummary(nil, textStyle{}, false)), string(one.appendSummary(nil, textStyle{}, false)); got != want {
		t.Fatalf("merged:\n%s\none worker:\n%s", got, want)
	}
	got := string(one.appendSummary(nil, textStyle{}, false))
	want := `findings by principal and bucket:

arn:p  on b1
    findings:   3 unauthorized
    seen:       2026-11-20T09:00:00Z to 2026-11-20T11:00:00Z
    operations: GetObject (2), PutObject (1)
    sources:    1.1.1.1 (1), 1.1.1.2 (1), vpce-1 (1)

arn:p  on b2
    findings:   1 unauthorized
    seen:       -
    operations: GetObject (1)
    sources:    1.1.1.1 (1)

arn:q  on b1
    findings:   1 unauthorized
    seen:       2026-11-20T12:00:00Z
    operations: GetObject (1)
    sources:    1.1.1.1 (1)
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestGroupsBounded: however many findings, the summary keeps at most
// maxGroups groups of at most maxValues values of at most maxValueLen
// bytes each, and says what it left out.
func TestGroupsBounded(t *testing.T) {
	g := newGroups()
	long := strings.Repeat("x", 10*maxValueLen)
	for i := range maxValues + 5 {
		r, d := unauthorizedRecord("arn:p", "b", fmt.Sprintf("Op%02d", i), long+fmt.Sprint(i), "", "")
		g.add(r, d)
	}
	for i := range maxGroups + 10 {
		r, d := unauthorizedRecord(fmt.Sprintf("arn:%d", i), "b", "GetObject", "1.1.1.1", "", "")
		g.add(r, d)
	}
	if len(g.m) != maxGroups || g.ungrouped != 11 {
		t.Fatalf("%d groups, %d ungrouped; want %d, 11", len(g.m), g.ungrouped, maxGroups)
	}
	gr := g.m[groupKey{"arn:p", "b"}]
	if len(gr.ops.vals) != maxValues || !gr.ops.overflow || gr.findings() != maxValues+5 {
		t.Fatalf("ops %d values, overflow %v, %d findings", len(gr.ops.vals), gr.ops.overflow, gr.findings())
	}
	for _, v := range gr.sources.vals {
		if len(v) > maxValueLen+len("…") || !strings.HasSuffix(v, "…") {
			t.Fatalf("source kept as %d bytes", len(v))
		}
	}
	out := string(g.appendSummary(nil, textStyle{}, false))
	for _, want := range []string{
		"operations: Op00 (1), Op01 (1), Op02 (1), Op03 (1), +more than 12 others\n",
		fmt.Sprintf("\n... %d more groups (%d findings); -v shows all\n", maxGroups-shownGroups, maxGroups-shownGroups),
		fmt.Sprintf("\n... 11 findings of other principals and buckets, not grouped (the summary keeps %d groups)\n", maxGroups),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if n := strings.Count(out, "    findings: "); n != shownGroups {
		t.Errorf("%d groups shown; want %d", n, shownGroups)
	}
	if n := strings.Count(string(g.appendSummary(nil, textStyle{}, true)), "    findings: "); n != maxGroups {
		t.Errorf("-v: %d groups shown; want %d", n, maxGroups)
	}
}

// TestSummaryEscapes: the summary escapes values as the record lines do,
// and colour goes around the escaped text.
func TestSummaryEscapes(t *testing.T) {
	g := newGroups()
	r, d := unauthorizedRecord("arn:x\u202egpj.exe", "b\x1b[2J", "Get\u2066", "1.1.1.1\u009b6n", "", "")
	g.add(r, d)
	for _, color := range []bool{false, true} {
		out := string(g.appendSummary(nil, textStyle{color: color}, false))
		plain := strings.NewReplacer(sgrBold, "", sgrRed, "", sgrReset, "").Replace(out)
		checkTerminalSafe(t, plain)
		for _, want := range []string{`arn:x\u202egpj.exe`, `b\x1b[2J`, `Get\u2066`, `1.1.1.1\u009b6n`} {
			if !strings.Contains(plain, want) {
				t.Errorf("color %v: summary lacks %q:\n%s", color, want, out)
			}
		}
		if color && !strings.Contains(out, sgrBold+`arn:x\u202egpj.exe`+sgrReset) {
			t.Errorf("principal not in bold: %q", out)
		}
	}
}

// TestSpill: the lines come back as written, and the file is gone from
// the temporary directory while still open.
func TestSpill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	s, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var want bytes.Buffer
	for i := range 10000 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		s.Write([]byte(line))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("spill file visible: %v", left)
	}
	var got bytes.Buffer
	if err := s.copyTo(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || s.size != int64(want.Len()) {
		t.Fatalf("got %d bytes (size %d); want %d", got.Len(), s.size, want.Len())
	}

	t.Setenv("TMPDIR", filepath.Join(dir, "missing"))
	if _, err := newSpill(); err == nil || !strings.Contains(err.Error(), "cannot hold the records") {
		t.Fatalf("got %v; want cannot hold the records", err)
	}
}

// TestSpillWriteError: a write that fails makes the report incomplete: the
// error comes back from copyTo, and check exits 2.
func TestSpillWriteError(t *testing.T) {
	s, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	s.f.Close() // every write now fails
	s.Write([]byte("x\n"))
	if err := s.copyTo(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "holding the records") {
		t.Fatalf("got %v; want the write error", err)
	}
	s.close()
}

// TestWhy: the closest entry only by default, every entry with -v,
// session-moved's reason kept after them, an invalid record's reasons as
// they are.
func TestWhy(t *testing.T) {
	al, err := rules.Load("../../rules/allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := unauthorizedRecord("", "analytics--use1-az4--x-s3", "PutObject", "198.51.100.7", "", "")
	r.EventSource = "s3express.amazonaws.com"
	r.HasUserIdentity = true
	r.UserIdentity = cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::444455556666:assumed-role/partner-writer/s", AccountID: "444455556666"}
	d := al.Decide(r)
	if d.Verdict != rules.Unauthorized || len(d.Reasons) < 2 {
		t.Fatalf("got %v %q; want unauthorized with several reasons", d.Verdict, d.Reasons)
	}
	moved := d
	moved.Reasons = append(append([]string(nil), d.Reasons...), "session-moved: x")
	allowedMoved := rules.Decision{Verdict: rules.Unauthorized, Rule: "etl", Reasons: []string{"session-moved: x"}}
	it := cloudtrail.Item{Line: 1, Index: -1}
	c := &checker{allowlist: al}
	v := &checker{allowlist: al, verbose: true}
	all := al.Misses(r)
	tests := []struct {
		name string
		c    *checker
		it   cloudtrail.Item
		d    rules.Decision
		mv   bool
		want []string
	}{
		{"closest", c, it, d, false, d.Reasons[:1]},
		{"all", v, it, d, false, all},
		{"closest, moved", c, it, moved, true, []string{d.Reasons[0], "session-moved: x"}},
		{"all, moved", v, it, moved, true, append(all[:len(all):len(all)], "session-moved: x")},
		{"allowed but moved", v, it, allowedMoved, true, []string{"session-moved: x"}},
		{"invalid", c, it, rules.Decision{Verdict: rules.Invalid, Reasons: []string{"a", "b"}}, false, []string{"a", "b"}},
		{"unreadable", v, cloudtrail.Item{Line: 1, Index: -1, Err: fmt.Errorf("bad")}, rules.Decision{Verdict: rules.Invalid}, false, []string{"bad"}},
	}
	for _, tt := range tests {
		got := tt.c.why(tt.it, r, tt.d, tt.mv)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
	if len(all) != len(al.Entries) {
		t.Fatalf("Misses: %d; want %d", len(all), len(al.Entries))
	}
}

// BenchmarkFinding is the per-finding cost of text output: the line alone
// (the baseline, what check did before the summary) and the line plus its
// share of the summary. Findings rotate over 64 principals, 4 buckets, 8
// operations and 256 sources.
func BenchmarkFinding(b *testing.B) {
	type rd struct {
		r *cloudtrail.Record
		d rules.Decision
	}
	var fs []rd
	for i := range 1024 {
		r, d := unauthorizedRecord(fmt.Sprintf("arn:aws:iam::111122223333:role/r%d", i%64), fmt.Sprintf("b%d--use1-az4--x-s3", i%4),
			fmt.Sprintf("Op%d", i%8), fmt.Sprintf("203.0.113.%d", i%256), "", fmt.Sprintf("2026-11-20T10:%02d:00Z", i%60))
		d.Reasons = []string{"etl: principals " + r.Bucket + " not in arn:aws:iam::111122223333:role/etl-*"}
		fs = append(fs, rd{r, d})
	}
	it := cloudtrail.Item{Line: 1, Index: -1}
	for _, grouped := range []bool{false, true} {
		name := "line"
		if grouped {
			name = "line+summary"
		}
		b.Run(name, func(b *testing.B) {
			g := newGroups()
			var buf []byte
			i := 0
			for b.Loop() {
				f := fs[i%len(fs)]
				i++
				buf = appendText(buf[:0], textStyle{}, "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/f.json.gz", it, f.r, f.d, nil, f.d.Reasons)
				if grouped {
					g.add(f.r, f.d)
				}
			}
		})
	}
}

// TestGroupsMemory: the worst case the bounds allow (every group full of
// long values) stays near 10 MB, however long and many the values fed,
// and short values cut from a large record (as the decoder hands them
// out, substrings of one allocation) do not keep the record alive.
func TestGroupsMemory(t *testing.T) {
	t.Run("short values of large records", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := newGroups()
		for i := range 200 {
			// A fresh 1 MB block per record; the values are its start.
			block := fmt.Sprintf("p%04d|b|GetObject|1.1.1.1|", i) + strings.Repeat("x", 1<<20)
			r, d := unauthorizedRecord(block[:5], block[6:7], block[8:17], block[18:25], "", "")
			g.add(r, d)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%d groups: %.1f MB", len(g.m), float64(used)/1e6)
		if len(g.m) != 200 || used > 1e6 {
			t.Fatalf("%d groups hold %.1f MB; want 200 groups in well under 1 MB", len(g.m), float64(used)/1e6)
		}
		runtime.KeepAlive(g)
	})

	long := strings.Repeat("v", 4096)
	t.Run("full groups", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := newGroups()
		for i := range maxGroups + 100 {
			p := fmt.Sprintf("%d%s", i, long)
			for j := range maxValues + 4 {
				r, d := unauthorizedRecord(p, long, fmt.Sprintf("%d%s", j, long), fmt.Sprintf("%d%s", j, long), "", "")
				g.add(r, d)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%d groups: %.1f MB", len(g.m), float64(used)/1e6)
		if used > 13e6 {
			t.Fatalf("summary holds %.1f MB; want about 10 MB at most", float64(used)/1e6)
		}
		runtime.KeepAlive(g)
	})
}

package trino

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/rules/query"
)

// BenchmarkQueryVsCheck times the example allowlist's findings query on
// Trino (memory connector, one node) against `s3xguard check` (text
// output: the findings) on the same generated records, measured in the
// same run. Loading the tables is not timed. S3XGUARD_BENCH_RECORDS sets
// the tree's size (default 50000 records).
//
//	go test -run '^$' -bench QueryVsCheck -benchtime 3x ./test/trino
func BenchmarkQueryVsCheck(b *testing.B) {
	s, _ := trino(b)
	n := 50000
	if v := os.Getenv("S3XGUARD_BENCH_RECORDS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	tree := filepath.Join(dir, "tree")
	if out, err := exec.Command("go", "run", "../gen", "-out", tree, "-records", strconv.Itoa(n), "-files", "8", "-seed", "3").CombinedOutput(); err != nil {
		b.Fatalf("test/gen: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "s3xguard")
	if out, err := exec.Command("go", "build", "-o", bin, "../../lambda/cmd/s3xguard").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	raws, err := ReadRecords(tree)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	suffix := strconv.Itoa(n)
	athena, lake := "memory.default.bench_athena_"+suffix, "memory.default.bench_lake_"+suffix
	if _, err := s.Query(ctx, "SELECT 1 FROM "+athena+" LIMIT 1"); err != nil {
		start := time.Now()
		if err := Load(ctx, s, athena, lake, raws); err != nil {
			b.Fatal(err)
		}
		b.Logf("loaded %d records in %s", len(raws), time.Since(start).Round(time.Millisecond))
	}
	a, err := rules.Load("../../rules/allowlist.example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	q, err := query.Build(a, query.Options{Engine: query.Athena, Table: athena})
	if err != nil {
		b.Fatal(err)
	}
	example, _ := filepath.Abs("../../rules/allowlist.example.yaml")
	var trinoTime, checkTime time.Duration
	var rows int
	for b.Loop() {
		start := time.Now()
		res, err := s.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		trinoTime += time.Since(start)
		rows = len(res.Rows)
		start = time.Now()
		cmd := exec.Command(bin, "check", "--allowlist", example, tree)
		if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 1 {
			b.Fatalf("check: %v", err)
		}
		checkTime += time.Since(start)
	}
	b.ReportMetric(float64(trinoTime.Milliseconds())/float64(b.N), "trino-ms/op")
	b.ReportMetric(float64(checkTime.Milliseconds())/float64(b.N), "check-ms/op")
	b.ReportMetric(float64(len(raws)), "records")
	b.ReportMetric(float64(rows), "findings")
}

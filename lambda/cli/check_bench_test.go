package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCheckTree runs check --format json over the tree the bench
// command generates (go run ./test/bench, or go run ./test/gen), when it
// exists: the whole path, for go test -cpuprofile.
func BenchmarkCheckTree(b *testing.B) {
	tree := os.Getenv("S3XGUARD_BENCH_TREE")
	if tree == "" {
		tree = filepath.Join("..", "..", ".tools", "bench-tree-1GB-32")
	}
	var files []string
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json.gz") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		b.Skipf("no .json.gz files under %s (go run ./test/gen -out %s)", tree, tree)
	}
	files = files[:min(16, len(files))]
	args := append([]string{"--allowlist", "../../rules/allowlist.example.yaml", "--format", "json"}, files...)
	for b.Loop() {
		if code := runCheck(args, nil, io.Discard, io.Discard); code > 1 {
			b.Fatalf("exit %d", code)
		}
	}
}

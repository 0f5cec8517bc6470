package cloudtrail

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchTree returns the .json.gz files of the tree test/bench generates
// ($S3XGUARD_BENCH_TREE, else .tools/bench-tree-1GB-32), in walk order; it
// skips the benchmark when there are none.
func benchTree(b *testing.B) []string {
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
	return files
}

// BenchmarkStreamTree reads one file of the bench tree (benchTree),
// decompressed beforehand: the strict reader alone, for go test
// -cpuprofile.
func BenchmarkStreamTree(b *testing.B) {
	file := benchTree(b)[0]
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var r Record
	for b.Loop() {
		s, err := NewStream(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			it, ok := s.Next(&r)
			if !ok {
				break
			}
			if it.Err != nil && !it.Partial {
				b.Fatalf("%s: %v", file, it.Err)
			}
		}
		s.Close()
	}
}

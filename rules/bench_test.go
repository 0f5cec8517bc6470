package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// BenchmarkDecide times the decision on the fixture records beside decoding
// them alone, the baseline. `go run ./test/bench` gives the same comparison
// on generated traffic.
func BenchmarkDecide(b *testing.B) {
	a := loadExample(b)
	var raw [][]byte
	for _, tt := range decideTests {
		data, err := os.ReadFile(filepath.Join(fixtures, tt.fixture+".json"))
		if err != nil {
			b.Fatal(err)
		}
		raw = append(raw, data)
	}
	var dec cloudtrail.Decoder
	var rec cloudtrail.Record
	b.Run("decode-only", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dec.Decode(raw[i%len(raw)], &rec)
		}
	})
	b.Run("decode+decide", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if dec.Decode(raw[i%len(raw)], &rec) == nil {
				a.Decide(&rec)
			}
		}
	})
}

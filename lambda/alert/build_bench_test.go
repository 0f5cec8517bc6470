package alert

import "testing"

// BenchmarkBuild renders a typical alert (email, SMS, document): the
// per-alert cost on the event path, after the decision.
func BenchmarkBuild(b *testing.B) {
	a := sample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Build(); err != nil {
			b.Fatal(err)
		}
	}
}

package suggest

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func randomPrefix(r *rand.Rand) netip.Prefix {
	var a netip.Addr
	if r.IntN(2) == 0 {
		a = netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
	} else {
		a = netip.AddrFrom16([16]byte{0x26, 0x00, 0x1f, 0x18, 0, byte(r.IntN(4)), 0, byte(r.IntN(256)), 15: byte(r.IntN(256))})
	}
	p, _ := a.Prefix(a.BitLen() - r.IntN(12))
	return p
}

func covered(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TestAggregate: merging covers exactly the same addresses; fitting covers
// at least them, within the bound.
func TestAggregate(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		var in []netip.Prefix
		for range 1 + r.IntN(300) {
			in = append(in, randomPrefix(r))
		}
		merged := merge(append([]netip.Prefix(nil), in...))
		max := 1 + r.IntN(20)
		fitted, _, _ := aggregate(append([]netip.Prefix(nil), in...), max)
		n4, n6 := 0, 0
		for _, p := range fitted {
			if p.Addr().Is4() {
				n4++
			} else {
				n6++
			}
		}
		if n4 > max || n6 > max {
			t.Fatalf("seed %d: %d IPv4 and %d IPv6 prefixes; want at most %d", seed, n4, n6, max)
		}
		for range 2000 {
			a := randomPrefix(r).Addr()
			if got, want := covered(merged, a), covered(in, a); got != want {
				t.Fatalf("seed %d: %s covered by merge = %v; by the input = %v", seed, a, got, want)
			}
			if covered(in, a) && !covered(fitted, a) {
				t.Fatalf("seed %d: %s lost by widening", seed, a)
			}
		}
		for _, p := range in {
			if !covered(fitted, p.Addr()) {
				t.Fatalf("seed %d: %s lost", seed, p)
			}
		}
	}
}

package suggest

import (
	"net/netip"
	"slices"
)

// aggregate returns the fewest prefixes covering exactly the same
// addresses (contained prefixes dropped, sibling halves merged), then, if
// more than max remain in a family, widens that family's prefixes to the
// longest common length that leaves at most max, and merges again. It
// reports the lengths it widened to (-1: not widened) for the comment.
func aggregate(ps []netip.Prefix, max int) (out []netip.Prefix, widened4, widened6 int) {
	var v4, v6 []netip.Prefix
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	v4, widened4 = fit(merge(v4), max)
	v6, widened6 = fit(merge(v6), max)
	return append(v4, v6...), widened4, widened6
}

// fit widens ps (one family, merged) to the longest length at which at most
// max distinct prefixes remain.
func fit(ps []netip.Prefix, max int) ([]netip.Prefix, int) {
	if len(ps) <= max {
		return ps, -1
	}
	for bits := ps[0].Addr().BitLen(); bits >= 0; bits-- {
		seen := map[netip.Prefix]bool{}
		var out []netip.Prefix
		for _, p := range ps {
			if p.Bits() > bits {
				p, _ = p.Addr().Prefix(bits)
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
		if out = merge(out); len(out) <= max {
			return out, bits
		}
	}
	return ps, -1 // unreachable: at length 0 one prefix remains
}

// merge drops prefixes inside others and joins sibling halves, until
// nothing changes. The addresses covered stay exactly the same.
func merge(ps []netip.Prefix) []netip.Prefix {
	for {
		slices.SortFunc(ps, func(a, b netip.Prefix) int {
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c
			}
			return a.Bits() - b.Bits()
		})
		var out []netip.Prefix
		for _, p := range ps {
			if n := len(out); n > 0 && out[n-1].Overlaps(p) && out[n-1].Bits() <= p.Bits() {
				continue // inside the previous one
			}
			out = append(out, p)
		}
		changed := len(out) != len(ps)
		ps = out[:0:0]
		for i := 0; i < len(out); i++ {
			p := out[i]
			if i+1 < len(out) && p.Bits() > 0 && p.Bits() == out[i+1].Bits() {
				parent, _ := p.Addr().Prefix(p.Bits() - 1)
				if other, _ := out[i+1].Addr().Prefix(p.Bits() - 1); other == parent {
					ps = append(ps, parent)
					i++
					changed = true
					continue
				}
			}
			ps = append(ps, p)
		}
		if !changed {
			return ps
		}
	}
}

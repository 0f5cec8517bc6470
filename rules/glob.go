package rules

import "strings"

// glob is a compiled pattern where '*' matches any run of characters
// (including none) and '?' exactly one byte. There is no escaping: none of
// the fields globs apply to (ARNs, bucket names, event names) contain '*'
// or '?' legitimately.
type glob struct {
	src    string
	kind   globKind
	prefix string // globPrefix: src without its trailing '*'
}

type globKind uint8

const (
	globExact  globKind = iota // no wildcard: string equality
	globAny                    // "*": everything
	globPrefix                 // "abc*": prefix test
	globFull                   // anything else: general matcher
)

func compileGlob(s string) glob {
	g := glob{src: s}
	switch i := strings.IndexAny(s, "*?"); {
	case i < 0:
		g.kind = globExact
	case s == "*":
		g.kind = globAny
	case i == len(s)-1 && s[i] == '*':
		g.kind = globPrefix
		g.prefix = s[:i]
	default:
		g.kind = globFull
	}
	return g
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

func (g glob) match(s string) bool {
	switch g.kind {
	case globExact:
		return s == g.src
	case globAny:
		return true
	case globPrefix:
		return strings.HasPrefix(s, g.prefix)
	}
	return matchGlob(g.src, s)
}

// matchGlob is the classic linear-time wildcard matcher: on a mismatch it
// backtracks only to the most recent '*', so it never explodes on patterns
// like "*a*a*a*b".
func matchGlob(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// globSet is a list of globs; it matches when any of them does. Exact
// entries go to a map so long lists stay O(1) per lookup.
type globSet struct {
	exact map[string]struct{}
	globs []glob
	src   []string
}

func compileGlobSet(srcs []string) globSet {
	gs := globSet{src: srcs}
	for _, s := range srcs {
		g := compileGlob(s)
		if g.kind == globExact {
			if gs.exact == nil {
				gs.exact = make(map[string]struct{}, len(srcs))
			}
			gs.exact[s] = struct{}{}
			continue
		}
		gs.globs = append(gs.globs, g)
	}
	return gs
}

func (gs *globSet) match(s string) bool {
	if _, ok := gs.exact[s]; ok {
		return true
	}
	for i := range gs.globs {
		if gs.globs[i].match(s) {
			return true
		}
	}
	return false
}

// Package printable escapes text a caller wrote (object keys, user agents,
// raw input, record text) for a line that on-call reads: in a page, a chat
// message or `s3xguard quarantine list`. A newline, a carriage return, an
// escape sequence, a line or paragraph separator or a bidi override would
// let that text forge lines or reorder what is read.
package printable

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every rune that breaks or reorders a line written
// as an escape: C0 controls, DEL and bytes that are not UTF-8 as \xNN; C1
// controls, U+2028/9 and the bidi formatting characters (Unicode UAX #9:
// ALM, LRM, RLM, LRE..RLO, LRI..PDI) as \u{NNNN}. A backslash is doubled,
// so an escape cannot be faked either. Text that needs none is returned as
// it is, without allocating.
func Escape(s string) string {
	if strings.IndexFunc(s, unsafe) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u{%04X}`, r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// All escapes each of ss (nil stays nil).
func All(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Escape(s)
	}
	return out
}

// unsafe reports whether r must be escaped (see Escape).
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == '\\':
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // embeddings, overrides, isolates
		return true
	}
	return false
}

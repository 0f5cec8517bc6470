package alert

import (
	"fmt"
	"strings"
)

// escape makes one free-text value safe to print in a line of the email,
// the SMS or chat: object keys, user agents and raw input are written by
// the caller, and a newline, a carriage return, an escape sequence, a line
// or paragraph separator (U+2028/9) or a bidi override would let them
// forge lines or reorder what on-call reads. Such runes (C0, DEL, C1,
// U+2028/9, bidi embeddings, overrides, isolates and marks) are written as
// \xNN or \u{NNNN}; a backslash is doubled so that an escape cannot be
// faked either.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u{%04X}`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r == '\\' || r < 0x20 || r == 0x7f || unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune reports whether r, above ASCII, breaks or reorders a line:
// C1 controls, U+2028/9, and the bidi formatting characters (Unicode
// UAX #9: LRM, RLM, ALM, LRE..RLO, LRI..PDI). Invalid UTF-8 decodes to
// U+FFFD and is printed as such.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	case r == 0x200e || r == 0x200f || r == 0x061c:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func escapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = escape(s)
	}
	return out
}

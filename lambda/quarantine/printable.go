package quarantine

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape makes s safe to print on a terminal: a record's text comes from
// the state table and from CloudTrail, and either may carry what an
// attacker wrote. C0 controls (tab and newline too: they would break the
// table), DEL, C1 controls, the line and paragraph separators U+2028/9,
// bidirectional controls (which reorder what the reader sees) and invalid
// UTF-8 are written as Go escapes; a backslash is doubled, so an escape
// in the output is never one the input spelled out.
func Escape(s string) string {
	i := strings.IndexFunc(s, needsEscape)
	if i < 0 && utf8.ValidString(s) {
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
		case r < 0x80 && needsEscape(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

func needsEscape(r rune) bool {
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

// Printable returns entries with every text of theirs and of their
// records escaped (see Escape), for `s3xguard quarantine list`.
func Printable(entries []Entry) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		e.Principal = Escape(e.Principal)
		if e.Record != nil {
			r := *e.Record
			r.Principal, r.Reason, r.EventID, r.Entity = Escape(r.Principal), Escape(r.Reason), Escape(r.EventID), Escape(r.Entity)
			r.LastError, r.Note, r.Gone = Escape(r.LastError), Escape(r.Note), Escape(r.Gone)
			r.Pending, r.Dropped = escapeAll(r.Pending), escapeAll(r.Dropped)
			e.Record = &r
		}
		out[i] = e
	}
	return out
}

func escapeAll(s []string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = Escape(v)
	}
	return out
}

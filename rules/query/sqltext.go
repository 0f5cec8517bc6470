package query

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Quote writes s as a Trino string literal. Anything but printable ASCII is
// written as a Unicode escape, so no value can end the literal early or
// hide a character from a reader.
func Quote(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteString("U&'")
	for _, r := range s {
		switch {
		case r == '\'':
			b.WriteString("''")
		case r == '\\':
			b.WriteString(`\\`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\%04X`, r)
		default:
			fmt.Fprintf(&b, `\+%06X`, r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// sanitizeComment makes s safe inside a -- comment.
func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// glob writes the rules package's glob (`*` any run of bytes, `?` exactly
// one byte, no escape) as a condition on expr, which is never NULL.
//
//   - no wildcard: equality;
//   - only `*`: LIKE, with `%`, `_` and the escape character escaped. On
//     valid UTF-8 a literal can only match at a character boundary, so `%`
//     over characters is `*` over bytes;
//   - any `?`: `?` is one byte, which LIKE's `_` (one character) is not on
//     non-ASCII text, so the match runs on the hexadecimal UTF-8 bytes:
//     `?` is two hex digits, `*` any number of pairs, anchored at both ends.
func glob(expr, g string) string {
	switch {
	case !strings.ContainsAny(g, "*?"):
		return expr + " = " + Quote(g)
	case strings.Trim(g, "*") == "":
		return "TRUE"
	case !strings.Contains(g, "?"):
		var b strings.Builder
		for i := 0; i < len(g); i++ {
			switch c := g[i]; c {
			case '*':
				b.WriteByte('%')
			case '%', '_', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
		return expr + " LIKE " + Quote(b.String()) + ` ESCAPE '\'`
	}
	var b strings.Builder
	b.WriteByte('^')
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			b.WriteString("(?:..)*")
		case '?':
			b.WriteString("..")
		default:
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	b.WriteByte('$')
	return "regexp_like(to_hex(to_utf8(" + expr + ")), " + Quote(b.String()) + ")"
}

// ipSyntax is the text net/netip.ParseAddr accepts as an address without a
// zone: a dotted quad without leading zeros, or an IPv6 address in the
// forms of RFC 3986 (section 3.2.2), an IPv4 tail included. Trino's CAST to
// IPADDRESS is more lenient (it drops a zone, for one), so the query casts
// only what matches this; anything else is "not an IP" and never matches
// `sources`, as in rules.Decide. TestIPSyntax holds it to netip.
const ipSyntax = `^(?:` + ipv4 + `|` + ipv6 + `)$`

const (
	octet = `(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`
	ipv4  = octet + `\.` + octet + `\.` + octet + `\.` + octet
	h16   = `[0-9A-Fa-f]{1,4}`
	ls32  = `(?:` + h16 + `:` + h16 + `|` + ipv4 + `)`
	ipv6  = `(?:` +
		`(?:` + h16 + `:){6}` + ls32 +
		`|::(?:` + h16 + `:){5}` + ls32 +
		`|(?:` + h16 + `)?::(?:` + h16 + `:){4}` + ls32 +
		`|(?:(?:` + h16 + `:){0,1}` + h16 + `)?::(?:` + h16 + `:){3}` + ls32 +
		`|(?:(?:` + h16 + `:){0,2}` + h16 + `)?::(?:` + h16 + `:){2}` + ls32 +
		`|(?:(?:` + h16 + `:){0,3}` + h16 + `)?::` + h16 + `:` + ls32 +
		`|(?:(?:` + h16 + `:){0,4}` + h16 + `)?::` + ls32 +
		`|(?:(?:` + h16 + `:){0,5}` + h16 + `)?::` + h16 +
		`|(?:(?:` + h16 + `:){0,6}` + h16 + `)?::` +
		`)`
)

package cli

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// location is FILE:LINE for top-level values, FILE:LINE#INDEX for elements
// of an array (0-based, as jq counts: jq '.Records[INDEX]') and
// FILE:LINE#INDEX/body for the body of an SQS message.
func appendLocation(b []byte, name string, it cloudtrail.Item) []byte {
	return it.AppendLocation(b, name)
}

// reasons returns why a record is not allowed, including a read error.
func reasons(it cloudtrail.Item, d rules.Decision) []string {
	if it.Err != nil {
		return []string{it.Err.Error()}
	}
	return d.Reasons
}

// appendJSON writes one JSON line. It is written by hand because check
// writes one line per record of multi-gigabyte trails. qname is the file
// name as a JSON string (appendJSONString), escaped once per file.
func appendJSON(b []byte, qname []byte, it cloudtrail.Item, r *cloudtrail.Record, d rules.Decision, s *session.Session) []byte {
	if r == nil {
		r = &cloudtrail.Record{}
	}
	// The record's own strings: as they are when the reader saw that
	// they need no escaping (it.Plain), else escaped.
	str := appendJSONString
	if it.Plain {
		str = appendQuoted
	}
	b = append(b, `{"eventID":`...)
	b = str(b, r.EventID)
	b = append(b, `,"verdict":`...)
	b = appendJSONString(b, d.Verdict.String())
	if d.Rule != "" {
		b = append(b, `,"rule":`...)
		b = appendJSONString(b, d.Rule)
	}
	if rs := reasons(it, d); len(rs) > 0 {
		b = append(b, `,"reasons":[`...)
		for i, s := range rs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	if it.Partial {
		// The fields below come from a record the strict reader
		// refused: enough to find it, not to trust.
		b = append(b, `,"fromInvalidRecord":true`...)
	}
	b = appendMembers(b, str, []member{
		{`,"eventTime":`, r.EventTime},
		{`,"eventSource":`, r.EventSource},
		{`,"eventName":`, r.EventName},
		{`,"bucket":`, r.Bucket},
		{`,"accessPoint":`, r.AccessPoint},
	})
	// Derived by rules, not read: always escaped.
	b = appendMembers(b, appendJSONString, []member{{`,"principal":`, d.Principal.Normalized}})
	b = appendMembers(b, str, []member{
		{`,"arn":`, r.UserIdentity.ARN},
		{`,"identityType":`, r.UserIdentity.Type},
		{`,"accountId":`, r.UserIdentity.AccountID},
		{`,"sourceIPAddress":`, r.SourceIPAddress},
		{`,"vpcEndpointId":`, r.VPCEndpointID},
		{`,"errorCode":`, r.ErrorCode},
	})
	if s != nil {
		b = appendSessionJSON(b, s)
	}
	// The location is the file name, escaped, then the line and index.
	b = append(b, `,"location":`...)
	b = append(b, qname...)
	b = it.AppendLocation(b[:len(b)-1], "")
	return append(b, '"', '}', '\n')
}

// appendSessionJSON writes the "session" member: the CreateSession that
// minted the credentials of the call.
func appendSessionJSON(b []byte, s *session.Session) []byte {
	b = append(b, `,"session":{"eventID":`...)
	b = appendJSONString(b, s.EventID)
	b = appendMembers(b, appendJSONString, []member{
		{`,"issuer":`, s.Issuer},
		{`,"eventTime":`, s.EventTime},
		{`,"sourceIPAddress":`, s.SourceIP},
		{`,"vpcEndpointId":`, s.VPCEndpointID},
		{`,"mode":`, s.Mode},
	})
	return append(b, '}')
}

// member is a JSON member: its name (with the comma before it) and value.
type member struct{ k, v string }

// appendMembers appends the members whose value is not empty, each value
// written by str.
func appendMembers(b []byte, str func([]byte, string) []byte, ms []member) []byte {
	for _, m := range ms {
		if m.v == "" {
			continue
		}
		b = append(b, m.k...)
		b = str(b, m.v)
	}
	return b
}

// appendQuoted appends s, text that needs no escaping, as a JSON string.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Most values are plain ASCII: pass eight bytes at a time.
		for i+8 <= len(s) && plain8(s, i) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			var ok bool
			if b, ok = appendShortEscape(b, c); !ok {
				b = appendU4(b, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case !unicode.IsPrint(r):
			// C1 controls, bidi overrides, separators, invisible format
			// characters: the same value, but safe to print on a terminal.
			b = append(b, s[start:i]...)
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				b = appendU4(appendU4(b, r1), r2)
			} else {
				b = appendU4(b, r)
			}
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether the eight bytes of s at i are printable ASCII
// other than a quote and a backslash: bytes appendJSONString copies as
// they are. Each test finds whether any byte of the word is in a class
// (haszero, hasless: "Bit Twiddling Hacks", S. E. Anderson); a borrow can
// only flag a word that has such a byte anyway.
func plain8(s string, i int) bool {
	_ = s[i+7]
	x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
	quote := x ^ ('"' * ones)
	bslash := x ^ ('\\' * ones)
	del := x ^ (0x7f * ones)
	bad := x | // >= 0x80: not ASCII
		(x-0x20*ones)&^x | // < 0x20: control
		(quote-ones)&^quote |
		(bslash-ones)&^bslash |
		(del-ones)&^del
	return bad&highs == 0
}

// appendShortEscape appends the two-character escape of a quote,
// backslash, newline, return or tab; ok is false for any other byte.
func appendShortEscape(b []byte, c byte) (_ []byte, ok bool) {
	switch c {
	case '"', '\\':
		return append(b, '\\', c), true
	case '\n':
		return append(b, '\\', 'n'), true
	case '\r':
		return append(b, '\\', 'r'), true
	case '\t':
		return append(b, '\\', 't'), true
	}
	return b, false
}

func appendU4(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// appendText writes a finding as one line a person scans, then what
// explains it indented below it, ending with the why lines given. Every
// value is escaped (see appendEscaped): records, file names and reasons
// quoting them are attacker-chosen text. With colour, the verdict is
// coloured, around its escaped text.
func appendText(b []byte, st textStyle, name string, it cloudtrail.Item, r *cloudtrail.Record, d rules.Decision, s *session.Session, why []string) []byte {
	if r == nil {
		r = &cloudtrail.Record{}
	}
	cols := [...]struct {
		v     string
		width int
	}{
		{d.Verdict.String(), 13},
		{orDash(r.EventName), 24},
		{orDash(r.Bucket), 36},
		{orDash(d.Principal.Normalized), 52},
		{orDash(r.SourceIPAddress), 16},
	}
	for i, c := range cols {
		color := st.color && i == 0 && int(d.Verdict) < len(verdictSGR)
		if color {
			b = append(b, verdictSGR[d.Verdict]...)
		}
		start := len(b)
		b = appendEscaped(b, c.v)
		n := utf8.RuneCount(b[start:])
		if color {
			b = append(b, sgrReset...)
		}
		for ; n < c.width; n++ {
			b = append(b, ' ')
		}
		b = append(b, ' ')
	}
	b = appendLocation(b, escapeText(name), it)
	b = append(b, '\n')
	if it.Partial {
		b = append(b, "    eventID: "...)
		b = appendEscaped(b, orDash(r.EventID))
		b = append(b, " (read from an invalid record)\n"...)
	}
	if r.AccessPoint != "" {
		b = append(b, "    access point: "...)
		b = appendEscaped(b, r.AccessPoint)
		b = append(b, '\n')
	}
	if s != nil {
		b = append(b, "    session: "...)
		b = appendEscaped(b, s.EventID)
		b = append(b, " by "...)
		b = appendEscaped(b, orDash(s.Issuer))
		b = append(b, " from "...)
		b = appendEscaped(b, orDash(s.SourceIP))
		if s.VPCEndpointID != "" {
			b = append(b, " via "...)
			b = appendEscaped(b, s.VPCEndpointID)
		}
		b = append(b, " at "...)
		b = appendEscaped(b, s.EventTime)
		if s.Mode != "" {
			b = append(b, ", "...)
			b = appendEscaped(b, s.Mode)
		}
		b = append(b, '\n')
	}
	if d.Rule != "" {
		b = append(b, "    rule: "...)
		b = appendEscaped(b, d.Rule)
		b = append(b, '\n')
	}
	for _, s := range why {
		b = append(b, "    why: "...)
		b = appendEscaped(b, s)
		b = append(b, '\n')
	}
	return b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped appends s for a terminal: printable characters as they are,
// everything else visibly escaped, so a value can neither drive the
// terminal (ESC, CSI: C0 and C1 controls) nor hide or reorder what is shown
// (bidi overrides and isolates, U+200E/U+200F, U+061C, line and paragraph
// separators, zero-width and other format characters, invalid UTF-8).
// Control bytes become \x1b, other code points \u202e or \U000e0041,
// invalid bytes \xff; a backslash is doubled, so the escaping is unambiguous.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			var ok bool
			if b, ok = appendShortEscape(b, c); !ok {
				b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
		case unicode.IsPrint(r):
			b = append(b, s[i:i+size]...)
		case r > 0xFFFF:
			b = append(b, '\\', 'U')
			for shift := 28; shift >= 0; shift -= 4 {
				b = append(b, hexDigits[r>>shift&0xF])
			}
		default:
			b = appendU4(b, r)
		}
		i += size
	}
	return b
}

// escapeText is appendEscaped for a string.
func escapeText(s string) string { return string(appendEscaped(nil, s)) }

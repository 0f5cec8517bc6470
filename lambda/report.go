package main

import (
	"strings"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
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
// writes one line per record of multi-gigabyte trails.
func appendJSON(b []byte, name string, it cloudtrail.Item, r *cloudtrail.Record, d rules.Decision) []byte {
	if r == nil {
		r = &cloudtrail.Record{}
	}
	b = append(b, `{"eventID":`...)
	b = appendJSONString(b, r.EventID)
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
	for _, f := range [...]struct{ k, v string }{
		{"eventTime", r.EventTime},
		{"eventSource", r.EventSource},
		{"eventName", r.EventName},
		{"bucket", r.Bucket},
		{"principal", d.Principal.Normalized},
		{"arn", r.UserIdentity.ARN},
		{"identityType", r.UserIdentity.Type},
		{"accountId", r.UserIdentity.AccountID},
		{"sourceIPAddress", r.SourceIPAddress},
		{"vpcEndpointId", r.VPCEndpointID},
		{"errorCode", r.ErrorCode},
	} {
		if f.v == "" {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, f.k...)
		b = append(b, '"', ':')
		b = appendJSONString(b, f.v)
	}
	// The location is the file name, escaped, then the line and index.
	b = append(b, `,"location":`...)
	b = appendJSONString(b, name)
	b = it.AppendLocation(b[:len(b)-1], "")
	return append(b, '"', '}', '\n')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendText writes a finding as one line a person scans, then its reasons
// indented below it.
func appendText(b []byte, name string, it cloudtrail.Item, r *cloudtrail.Record, d rules.Decision) []byte {
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
	for _, c := range cols {
		b = append(b, sanitize(c.v)...)
		for n := utf8.RuneCountInString(c.v); n < c.width; n++ {
			b = append(b, ' ')
		}
		b = append(b, ' ')
	}
	b = appendLocation(b, sanitize(name), it)
	b = append(b, '\n')
	if d.Rule != "" {
		b = append(b, "    rule: "...)
		b = append(b, d.Rule...)
		b = append(b, '\n')
	}
	for _, s := range reasons(it, d) {
		b = append(b, "    why: "...)
		b = append(b, sanitize(s)...)
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

// sanitize keeps control characters from a record out of a terminal.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

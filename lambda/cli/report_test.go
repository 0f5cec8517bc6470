package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// hostile are values an attacker chooses (session names, user agents, object
// keys, file names in a synced log tree), with how text output must show
// them: every code point a terminal acts on, or that hides or reorders
// text, escaped visibly.
var hostile = []struct {
	name, in, want string
}{
	{"plain", "arn:aws:sts::111122223333:assumed-role/app/s1", "arn:aws:sts::111122223333:assumed-role/app/s1"},
	{"escape sequence", "a\x1b[2Jb", `a\x1b[2Jb`},
	{"C0 and DEL", "\x00\x07\x08\x7f", `\x00\x07\x08\x7f`},
	{"tab newline return", "a\tb\nc\rd", `a\tb\nc\rd`},
	{"backslash stays unambiguous", `a\x1b`, `a\\x1b`},
	{"C1 CSI", "a\u009b2Jb", `a\u009b2Jb`},
	{"C1 NEL and first", "\u0080\u0085\u009f", `\u0080\u0085\u009f`},
	{"bidi override", "evil\u202egpj.exe", `evil\u202egpj.exe`},
	{"bidi embeddings", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
	{"bidi isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
	{"marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
	{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
	{"zero width and BOM", "a\u200bb\ufeffc", `a\u200bb\ufeffc`},
	{"tag characters", "x\U000E0041y", `x\U000e0041y`},
	{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
	{"surrogate encoded in UTF-8", "\xed\xa0\x80", `\xed\xa0\x80`},
	{"printable non-ASCII kept", "café 東京 ü", "café 東京 ü"},
	{"no-break space", "a\u00a0b", `a\u00a0b`},
}

func TestEscapeText(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendEscaped(nil, tt.in)); got != tt.want {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// TestTextFieldsEscaped: every field the text format prints goes through
// the escaping, and the columns still line up.
func TestTextFieldsEscaped(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			r := &cloudtrail.Record{
				EventName:       "Get" + tt.in,
				Bucket:          "b" + tt.in,
				SourceIPAddress: tt.in,
				UserIdentity:    cloudtrail.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/r/" + tt.in},
			}
			d := rules.Decision{
				Verdict:   rules.Unauthorized,
				Rule:      "rule" + tt.in,
				Reasons:   []string{"why " + tt.in},
				Principal: rules.Principal{Normalized: "p" + tt.in},
			}
			out := string(appendText(nil, textStyle{}, "logs/"+tt.in+".json", cloudtrail.Item{Line: 3, Index: -1}, r, d, nil, d.Reasons))
			checkTerminalSafe(t, out)
			for _, want := range []string{"Get" + tt.want, "b" + tt.want, "p" + tt.want, "logs/" + tt.want + ".json:3", "rule: rule" + tt.want, "why: why " + tt.want} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			// A read error quotes the input: escaped too.
			out = string(appendText(nil, textStyle{}, "f.json", cloudtrail.Item{Line: 1, Index: -1, Err: &cloudtrail.FieldError{Field: "eventName", Msg: tt.in}}, nil, rules.Decision{Verdict: rules.Invalid}, nil, []string{(&cloudtrail.FieldError{Field: "eventName", Msg: tt.in}).Error()}))
			checkTerminalSafe(t, out)
		})
	}
}

// checkTerminalSafe fails if out has anything but printable runes, spaces
// and the newlines that end lines.
func checkTerminalSafe(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output is not valid UTF-8: %q", out)
	}
	for _, r := range out {
		if r != '\n' && !unicode.IsPrint(r) {
			t.Fatalf("output has %U: %q", r, out)
		}
	}
}

func TestTextColumnsAlign(t *testing.T) {
	r := &cloudtrail.Record{EventName: "Get\x1b[2J", Bucket: "b"}
	out := string(appendText(nil, textStyle{}, "f", cloudtrail.Item{Line: 1, Index: -1}, r, rules.Decision{Verdict: rules.Unauthorized}, nil, nil))
	// verdict 13 + 1, event name padded to 24 + 1: the bucket starts at 39.
	if !strings.HasPrefix(out[39:], "b ") {
		t.Fatalf("bucket column misplaced:\n%q", out)
	}
}

// TestJSONEscapesInvisible: JSON output stays valid JSON with the same
// values, and carries C1, bidi and other invisible code points as \u
// escapes, so a JSON line printed on a terminal is safe too.
func TestJSONEscapesInvisible(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			b := appendJSONString(nil, tt.in)
			checkTerminalSafe(t, string(b))
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", b, err)
			}
			if want := strings.ToValidUTF8(tt.in, "\ufffd"); utf8.ValidString(tt.in) && got != want {
				t.Fatalf("round trip: got %q; want %q", got, want)
			}
		})
	}
}

// appendJSONStringRef is appendJSONString as it was before its ASCII fast
// path: one byte at a time. The fast path must not change a byte.
func appendJSONStringRef(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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

// TestJSONStringSameBytes compares appendJSONString with the byte-at-a-time
// reference on every single byte and every pair of bytes at each offset of
// a word, and on the hostile values at every offset.
func TestJSONStringSameBytes(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := appendJSONString(nil, s), appendJSONStringRef(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s; want %s", s, got, want)
		}
	}
	pad := strings.Repeat("a", 17)
	for c := range 256 {
		for off := range 9 {
			check(pad[:off] + string([]byte{byte(c)}) + pad[:off])
			for d := 0; d < 256; d += 7 {
				check(pad[:off] + string([]byte{byte(c), byte(d)}) + pad[:16-off])
			}
		}
	}
	for _, tt := range hostile {
		for off := range 9 {
			check(pad[:off] + tt.in + pad[:off])
			check(pad[:off] + tt.in + tt.in + pad[:16-off])
		}
	}
}

func FuzzJSONStringSameBytes(f *testing.F) {
	for _, tt := range hostile {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendJSONString(nil, s), appendJSONStringRef(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s; want %s", s, got, want)
		}
	})
}

// TestTextColor: with colour, the verdict is wrapped in our SGR codes and
// the columns still align; hostile values are escaped inside, so once our
// own codes are taken out the line is as safe as without colour.
func TestTextColor(t *testing.T) {
	r := &cloudtrail.Record{EventName: "Get\x1b[2J", Bucket: "b\u202e"}
	d := rules.Decision{Verdict: rules.Unauthorized, Reasons: []string{"x\x1b[31m"}}
	plain := string(appendText(nil, textStyle{}, "f", cloudtrail.Item{Line: 1, Index: -1}, r, d, nil, d.Reasons))
	colored := string(appendText(nil, textStyle{color: true}, "f", cloudtrail.Item{Line: 1, Index: -1}, r, d, nil, d.Reasons))
	if !strings.HasPrefix(colored, sgrRed+"unauthorized"+sgrReset+"  ") {
		t.Fatalf("verdict not coloured: %q", colored)
	}
	if got := strings.NewReplacer(sgrRed, "", sgrReset, "").Replace(colored); got != plain {
		t.Fatalf("without its colour codes\n got %q\nwant %q", got, plain)
	}
	checkTerminalSafe(t, plain)
	for _, v := range []rules.Verdict{rules.Invalid, rules.Allowed, rules.Ignored} {
		d := rules.Decision{Verdict: v}
		out := string(appendText(nil, textStyle{color: true}, "f", cloudtrail.Item{Line: 1, Index: -1}, r, d, nil, nil))
		if !strings.HasPrefix(out, verdictSGR[v]+v.String()+sgrReset) {
			t.Errorf("%s not coloured: %q", v, out)
		}
	}
}

package printable

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var escapes = []struct{ in, want string }{
	{"plain text/key.json", "plain text/key.json"},
	{"ünïcödé 日本", "ünïcödé 日本"},
	{"a\nb", `a\x0ab`}, {"a\rb", `a\x0db`}, {"\x1b[2J", `\x1b[2J`}, {"\x7f", `\x7f`},
	{"\u009b31m", `\u{009B}31m`}, {"line\u2028para\u2029", `line\u{2028}para\u{2029}`},
	{"evil\u202egnp.exe", `evil\u{202E}gnp.exe`}, {"iso\u2066x\u2069 \u200f\u200e\u061c", `iso\u{2066}x\u{2069} \u{200F}\u{200E}\u{061C}`},
	{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`}, {"a\tb", `a\x09b`},
	{`\x0a`, `\\x0a`}, {"bad\xffbyte", `bad\xffbyte`},
}

func TestEscape(t *testing.T) {
	for _, tt := range escapes {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzEscape: whatever the input, the output is valid UTF-8 with no rune
// that breaks or reorders a line, and nothing is lost (distinct inputs stay
// distinct because a backslash is doubled).
func FuzzEscape(f *testing.F) {
	for _, tt := range escapes {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Escape(%q) = %q: not UTF-8", s, got)
		}
		if i := strings.IndexFunc(got, func(r rune) bool { return r != '\\' && unsafe(r) }); i >= 0 {
			t.Fatalf("Escape(%q) = %q: unsafe rune at %d", s, got, i)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafe) && got != s {
			t.Fatalf("Escape(%q) = %q: changed safe text", s, got)
		}
	})
}

func TestEscapeSafeTextAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Escape("analytics--use1-az4--x-s3/key.json") }); n != 0 {
		t.Errorf("Escape of safe text: %v allocations; want 0", n)
	}
}

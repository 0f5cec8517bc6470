package rules

import (
	"regexp"
	"strings"
	"testing"
)

var globTests = []struct {
	pattern, s string
	want       bool
}{
	{"", "", true},
	{"", "a", false},
	{"*", "", true},
	{"*", "anything", true},
	{"abc", "abc", true},
	{"abc", "abd", false},
	{"a*", "abc", true},
	{"a*", "ba", false},
	{"*c", "abc", true},
	{"a*c", "ac", true},
	{"a*c", "abbbc", true},
	{"a*c", "abbbd", false},
	{"a?c", "abc", true},
	{"a?c", "ac", false},
	{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false},
	{"logs-*--x-s3", "logs-app--use1-az4--x-s3", true},
	{"logs-*--x-s3", "logs-app--use1-az4--x-s4", false},
	{"Put*", "PutObject", true},
	{"*Bucket*", "PutBucketPolicy", true},
	{"**", "x", true},
	{"?*", "", false},
}

func TestGlob(t *testing.T) {
	for _, tt := range globTests {
		if got := compileGlob(tt.pattern).match(tt.s); got != tt.want {
			t.Errorf("glob %q match %q = %v; want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// globRef is the slow reference: the glob translated to a regexp.
func globRef(p, s string) bool {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String()).MatchString(s)
}

func FuzzGlob(f *testing.F) {
	for _, tt := range globTests {
		f.Add(tt.pattern, tt.s)
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		// '?' matches one byte and the reference one rune: compare on ASCII.
		for i := 0; i < len(p); i++ {
			if p[i] >= 0x80 {
				return
			}
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return
			}
		}
		if got, want := compileGlob(p).match(s), globRef(p, s); got != want {
			t.Fatalf("glob %q match %q = %v; reference says %v", p, s, got, want)
		}
	})
}

func TestGlobSet(t *testing.T) {
	gs := compileGlobSet([]string{"GetObject", "Put*", "HeadObject"})
	for s, want := range map[string]bool{"GetObject": true, "PutObject": true, "HeadObject": true, "DeleteObject": false, "": false} {
		if got := gs.match(s); got != want {
			t.Errorf("match(%q) = %v; want %v", s, got, want)
		}
	}
}

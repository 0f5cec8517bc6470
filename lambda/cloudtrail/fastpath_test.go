package cloudtrail

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// The string fast path (special8, plainRun, and the quote test the hot
// callers make after it) must read exactly what a byte-at-a-time reader
// does. These tests drive strings through it and through the tail of the
// data, where words do not fit and bytes are read one by one.

func isSpecial(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }

// checkSpecial8 compares special8's lowest flag with the first byte of x
// that needs a look.
func checkSpecial8(t *testing.T, x uint64) {
	t.Helper()
	want := 8
	for k := range 8 {
		if isSpecial(byte(x >> (8 * k))) {
			want = k
			break
		}
	}
	if got := bits.TrailingZeros64(special8(x)) >> 3; got != want {
		t.Fatalf("special8(%016x): lowest flag at byte %d; want %d", x, got, want)
	}
}

// TestSpecial8 checks every pair of byte values at every pair of places in
// a word of plain bytes (the edges of the plain range as filler, where a
// borrow would show), then words at random.
func TestSpecial8(t *testing.T) {
	for _, fill := range []byte{0x20, 0x21, 0x23, 0x7f} {
		base := uint64(fill) * lsb
		for p := range 8 {
			for q := p; q < 8; q++ {
				for a := range 256 {
					for b := range 256 {
						x := base&^(0xff<<(8*p)) | uint64(a)<<(8*p)
						x = x&^(0xff<<(8*q)) | uint64(b)<<(8*q)
						checkSpecial8(t, x)
					}
				}
			}
		}
	}
	edges := []byte{0x00, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var w [8]byte
		for k := range w {
			if rng.IntN(2) == 0 {
				w[k] = edges[rng.IntN(len(edges))]
			} else {
				w[k] = byte(rng.IntN(256))
			}
		}
		checkSpecial8(t, binary.LittleEndian.Uint64(w[:]))
	}
}

// refString reads the valid string at d[i] byte by byte: the index after
// it and what it holds.
func refString(d []byte, i int) (int, strKind) {
	var kind strKind
	for i++; ; {
		switch c := d[i]; {
		case c == '"':
			return i + 1, kind
		case c == '\\':
			kind |= strEscaped
			if d[i+1] == 'u' {
				i += 6
			} else {
				i += 2
			}
		case c >= utf8.RuneSelf:
			kind |= strNonASCII
			_, n := utf8.DecodeRune(d[i:])
			i += n
		default:
			i++
		}
	}
}

// fastPathStrings are string contents (without quotes) of every length
// around the word sizes, with what needs a look at every place: escapes,
// non-ASCII, DEL (plain to JSON), the bytes at the edges of the plain
// range, and what is invalid (control characters, broken UTF-8 and
// escapes, lone surrogates).
func fastPathStrings() []string {
	specials := []string{"", `\n`, `\"`, `\\`, `\/`, `\u00e9`, `\ud83d\ude00`, "é", "\u2028", "😀", "\x7f", " ", "!", "#", "[", "]", "~",
		"\x00", "\x1f", "\t", "\xff", "\xc3", "\xe2\x80", `\x`, `\u12`, `\ud800`, `\udc00x`, `\ud800\u0041`, `\`}
	var out []string
	for n := range 34 {
		plain := strings.Repeat("abcdefgh", 5)[:n]
		for _, sp := range specials {
			for _, at := range []int{0, n / 2, n} {
				out = append(out, plain[:at]+sp+plain[at:])
			}
		}
	}
	return out
}

// TestStringFastPath reads each string as a member name, as a value the
// decoder keeps (eventName), as a value it skips, and bare, with the data
// ending at every distance from the string's end (so that it ends on,
// before and after 8- and 16-byte boundaries, and in the tail read byte by
// byte). Each must be read as jsontext reads it; valid strings must end
// where the byte-at-a-time reader says, with the same kind; every prefix of
// a valid input, with more to come, must ask for more, not fail, and one of
// an invalid input fail as the whole does or ask for more; the record must
// decode, and stream, as the differential reference reads it.
func TestStringFastPath(t *testing.T) {
	for _, c := range fastPathStrings() {
		q := `"` + c + `"`
		for _, in := range []string{
			`{` + q + `:1}`,
			`{"eventName":` + q + `}`,
			`{"a":0,"requestID":` + q + `,"eventName":"x"}`,
			q,
		} {
			for pad := range 18 {
				checkFastPath(t, []byte(in+strings.Repeat(" ", pad)))
			}
			if in[0] == '{' {
				// The stream reads it one byte at a time too.
				differential(t, []byte(in))
			}
		}
	}
}

func checkFastPath(t *testing.T, in []byte) {
	t.Helper()
	valid := jsontext.Value(in).IsValid()
	var s scanner
	s.reset(in, true, 0)
	end := s.value(0)
	if (end >= 0) != valid {
		t.Fatalf("%q: scanner ends at %d (%s); jsontext says valid=%v", in, end, s.errMsg, valid)
	}
	if valid {
		// Each string in it: where it ends and what it holds.
		for i := 0; i < len(in); {
			if in[i] != '"' {
				i++
				continue
			}
			want, wantKind := refString(in, i)
			s.reset(in, true, 0)
			got, kind := s.str(i)
			if got != want || kind != wantKind {
				t.Fatalf("%q: string at %d ends at %d, kind %d; want %d, kind %d", in, i, got, kind, want, wantKind)
			}
			i = want
		}
		for cut := range len(in) - 1 {
			prefix := in[:cut+1]
			if len(strings.TrimRight(string(prefix), " ")) == len(strings.TrimRight(string(in), " ")) {
				break // the value is whole
			}
			s.reset(prefix, false, 0)
			if end := s.value(0); end >= 0 || !s.short || s.errMsg != "" {
				t.Fatalf("%q, more to come: ends at %d, short=%v, error %q; want short", prefix, end, s.short, s.errMsg)
			}
		}
	} else {
		// With more to come, a prefix fails where the whole does, or asks
		// for more.
		s.reset(in, true, 0)
		s.value(0)
		at, msg := s.errAt, s.errMsg
		for cut := range len(in) {
			s.reset(in[:cut+1], false, 0)
			if s.value(0) < 0 && !s.short && (s.errAt != at || s.errMsg != msg) {
				t.Fatalf("%q, more to come: error at %d (%s); the whole input fails at %d (%s)", in[:cut+1], s.errAt, s.errMsg, at, msg)
			}
		}
	}
}

// TestPlainDEL: DEL is plain to JSON and to the scanner, so Plain must
// find it itself, wherever the string ends.
func TestPlainDEL(t *testing.T) {
	for n := range 20 {
		for _, c := range []string{"\x7f", "~", "é", `\u0041`} {
			v := strings.Repeat("a", n) + c
			var d Decoder
			var r Record
			in := fmt.Sprintf(`{"eventName":"x","userAgent":"%s"}`, v)
			if err := d.Decode([]byte(in), &r); err != nil {
				t.Fatal(err)
			}
			if want := c == "~"; d.Plain() != want {
				t.Fatalf("%q: Plain() = %v; want %v", in, d.Plain(), want)
			}
		}
	}
}

// TestDuplicateNames: a repeated name is found whatever its length (the
// summary hashes the first and last 8 bytes, or fewer), however many names
// come between, whether written with escapes or not, and in objects past
// smallObject (sorted at the end).
func TestDuplicateNames(t *testing.T) {
	for n := range 26 {
		name := strings.Repeat("eventNameX", 3)[:n]
		esc := name
		if n > 0 {
			esc = `\u00` + fmt.Sprintf("%02x", name[0]) + name[1:]
		}
		for _, between := range []int{0, 1, 5, smallObject + 3} {
			var b strings.Builder
			b.WriteString(`{"` + name + `":0`)
			for k := range between {
				fmt.Fprintf(&b, `,"%s%d":0`, name, k)
			}
			for _, second := range []string{name, esc} {
				in := b.String() + `,"` + second + `":1}`
				var s scanner
				s.reset([]byte(in), true, 0)
				if end := s.value(0); end >= 0 || !strings.HasPrefix(s.errMsg, "duplicate name") {
					t.Fatalf("%s: ends at %d, error %q; want a duplicate name", in, end, s.errMsg)
				}
				if jsontext.Value(in).IsValid() {
					t.Fatalf("%s: jsontext reads it", in)
				}
			}
			// The same names once each are fine.
			if in := b.String() + `}`; !jsontext.Value(in).IsValid() {
				t.Fatalf("%s: jsontext rejects it", in)
			} else {
				var s scanner
				s.reset([]byte(in), true, 0)
				if s.value(0) != len(in) {
					t.Fatalf("%s: %s", in, s.errMsg)
				}
			}
		}
	}
}

// TestStreamAllocatesOneStringPerRecord: a valid record costs one
// allocation, its strings; reading twice the records costs twice that
// many more, nothing else per record.
func TestStreamAllocatesOneStringPerRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations")
	}
	file := func(n int) []byte {
		return []byte(`{"Records":[` + strings.Repeat(recA+",", n-1) + recA + `]}`)
	}
	count := func(in []byte) float64 {
		return testing.AllocsPerRun(20, func() {
			s, err := NewStream(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			var r Record
			for {
				it, ok := s.Next(&r)
				if !ok {
					break
				}
				if it.Err != nil {
					t.Fatal(it.Err)
				}
			}
			s.Close()
		})
	}
	const n = 200
	// A little above 1 for what the race detector's runtime allocates
	// now and then; a second allocation per record makes it 2.
	if perRecord := (count(file(2*n)) - count(file(n))) / n; perRecord > 1.25 {
		t.Fatalf("%.2f allocations per record; want 1 (the record's strings)", perRecord)
	}
}

// TestEscapedFieldsKeepTheirBytes: fields with escapes are decoded into
// the decoder's buffer, which grows as later ones are; the earlier ones
// (an ARN the bucket and account are cut from) must keep their bytes.
func TestEscapedFieldsKeepTheirBytes(t *testing.T) {
	long := strings.Repeat(`\u0041`, 400)
	in := `{"resources":[{"type":"AWS::S3Express::Direct\u006fryBucket","ARN":"arn:aws:s3express:r:12\u0033:bucket\/b\u0031"}],` +
		`"eventName":"Get\u004fbject","userAgent":"` + long + `","eventSource":"s3express.amazonaws.com"}`
	r, err := DecodeEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Bucket != "b1" || r.BucketAccount != "123" || r.EventName != "GetObject" || r.UserAgent != strings.Repeat("A", 400) {
		t.Fatalf("got bucket %q, account %q, eventName %q, userAgent %d bytes", r.Bucket, r.BucketAccount, r.EventName, len(r.UserAgent))
	}
	differential(t, []byte(in))
}

package cloudtrail

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// This file is the strict JSON reader under the decoders: RFC 8259 with
// RFC 7493 (I-JSON), as github.com/go-json-experiment/json/jsontext reads it
// by default. Names must be unique in every object, strings valid UTF-8 with
// valid escapes and paired surrogates, numbers as the grammar has them, and
// nesting at most maxDepth deep. It validates and skips in one pass; the
// record decoder (decode.go) drives it and picks out the fields it needs.
//
// Speed without a byte less checked: a string is read 8 bytes at a time
// (special8 flags, exactly at the lowest one, a quote, backslash, control
// or non-ASCII byte), and its callers take the common case, plain ASCII up
// to the closing quote, without more; anything else (escapes, UTF-8, the
// last 7 bytes of the data, read one by one) goes the general way, strRest.
// TestSpecial8 checks special8 on every pair of bytes; TestStringFastPath
// reads strings of every length around the word sizes, ending everywhere
// relative to the end of the data, against jsontext and a byte-at-a-time
// reader. The duplicate-name summary only spares comparisons: a name whose
// bit is set is compared with every earlier one.

// maxDepth is jsontext's nesting limit, so both readers accept the same
// values.
const maxDepth = 10000

// SyntaxError is input that is not strict JSON: what is wrong and where.
type SyntaxError struct {
	Offset int64 // byte offset in the (decompressed) input, 0-based
	Line   int   // line of Offset, 1-based
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at line %d, byte %d: %s", e.Line, e.Offset, e.Msg)
}

// scanner reads one value from data. Its methods take the index of what they
// read and return the index after it, or -1 when the value is broken (errAt
// and errMsg say where and why) or data ends before it does (short; only
// when more input may follow, that is, unless final).
type scanner struct {
	data  []byte
	final bool
	depth int

	short  bool
	errAt  int
	errMsg string

	// Names of the objects being read, innermost last, for the duplicate
	// check; escaped names are decoded into arena.
	keys  []keyRef
	arena []byte
}

// keyRef is one member name: n bytes at off in data (its quote at off-1),
// or, when n < 0, -n-1 bytes at off in arena. 8 bytes: an object of a
// million names costs 8 MB while it is read.
type keyRef struct {
	off, n int32
}

func (k keyRef) len() int {
	if k.n < 0 {
		return int(-k.n - 1)
	}
	return int(k.n)
}

func (s *scanner) reset(data []byte, final bool, depth int) {
	s.data, s.final, s.depth = data, final, depth
	s.short, s.errAt, s.errMsg = false, 0, ""
	s.keys, s.arena = s.keys[:0], s.arena[:0]
}

func (s *scanner) failed() bool { return s.short || s.errMsg != "" }

func (s *scanner) fail(i int, format string, args ...any) int {
	if !s.failed() {
		s.errAt, s.errMsg = i, fmt.Sprintf(format, args...)
	}
	return -1
}

// need reports that the value goes on past the end of data.
func (s *scanner) need(i int) int {
	if s.final {
		return s.fail(i, "input ends inside a value (truncated?)")
	}
	if !s.failed() {
		s.short = true
	}
	return -1
}

// ws skips whitespace. CloudTrail writes compact JSON: one comparison
// settles the common case of none.
func (s *scanner) ws(i int) int {
	for i < len(s.data) && s.data[i] <= ' ' {
		switch s.data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// value validates and skips any value.
func (s *scanner) value(i int) int {
	if i >= len(s.data) {
		return s.need(i)
	}
	switch c := s.data[i]; c {
	case '"':
		if j := plainRun(s.data, i+1); j < len(s.data) && s.data[j] == '"' {
			return j + 1
		} else {
			j, _ = s.strRest(j)
			return j
		}
	case '{':
		return s.object(i)
	case '[':
		return s.array(i)
	case 't':
		return s.literal(i, "true")
	case 'f':
		return s.literal(i, "false")
	case 'n':
		return s.literal(i, "null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return s.number(i)
		}
		return s.fail(i, "invalid character %s at the start of a value", quoteByte(c))
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// kindAt names the JSON type of the value starting at i, for messages.
func (s *scanner) kindAt(i int) string {
	switch s.data[i] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func (s *scanner) literal(i int, word string) int {
	for k := 0; k < len(word); k++ {
		if i+k >= len(s.data) {
			return s.need(i + k)
		}
		if s.data[i+k] != word[k] {
			return s.fail(i, "invalid literal (want %s)", word)
		}
	}
	return i + len(word)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. It stops where
// the grammar does; what follows is the caller's business (at top level,
// "01" is two values, as jsontext reads it).
func (s *scanner) number(i int) int {
	d := s.data
	j := i
	if d[j] == '-' {
		j++
	}
	switch {
	case j >= len(d):
		return s.need(j)
	case d[j] == '0':
		j++
	case isDigit(d[j]):
		j = s.digits(i, j)
	default:
		return s.fail(i, "malformed number")
	}
	if j < len(d) && d[j] == '.' {
		if j = s.digits(i, j+1); j < 0 {
			return -1
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		if j = s.digits(i, j); j < 0 {
			return -1
		}
	}
	if j >= len(d) && !s.final {
		return s.need(j) // more digits may follow
	}
	return j
}

// digits reads the one or more digits at j of the number at i.
func (s *scanner) digits(i, j int) int {
	if j >= len(s.data) {
		return s.need(j)
	}
	if !isDigit(s.data[j]) {
		return s.fail(i, "malformed number")
	}
	for j < len(s.data) && isDigit(s.data[j]) {
		j++
	}
	return j
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 flags, in the high bit of each byte, the bytes of 8 (read little
// endian) that need a look in a string: a quote, backslash, control
// character or non-ASCII byte. Flipping bit 1 moves the quote (0x22) to
// 0x20 and keeps 0x00-0x1f below 0x20, while every other printable byte
// lands on 0x21 or above: one subtraction of 0x21 borrows at both. A
// subtraction borrows out of a byte only at a hit, so a byte below the
// lowest hit is plain ASCII, none of whose differences reaches 0x80: the
// lowest flag is exact (bytes after it may be flagged falsely). A byte of
// 0x80 or more is flagged through "| x" (the usual "&^ x" of each term is
// not needed then).
func special8(x uint64) uint64 {
	qc := x ^ (lsb * 0x02)
	b := x ^ (lsb * '\\')
	return ((qc - lsb*0x21) | (b - lsb) | x) & msb
}

// What str saw in a string, besides printable ASCII: what its writer
// (lambda/cli) would otherwise look for again.
type strKind uint8

const (
	strEscaped  strKind = 1 << iota // backslash escapes
	strNonASCII                     // bytes >= 0x80
)

// plainRun returns the index of the first byte at or after i that
// special8 flags, or one of the last 7 of d, where words end.
func plainRun(d []byte, i int) int {
	// Two words a turn: most strings end within the first few. Slicing
	// the rest once spares a bounds check per word.
	for rest := d[i:]; len(rest) >= 16; rest = rest[16:] {
		if m := special8(binary.LittleEndian.Uint64(rest)); m != 0 {
			return len(d) - len(rest) + bits.TrailingZeros64(m)>>3
		}
		if m := special8(binary.LittleEndian.Uint64(rest[8:])); m != 0 {
			return len(d) - len(rest) + 8 + bits.TrailingZeros64(m)>>3
		}
		i += 16
	}
	if i+8 <= len(d) {
		if m := special8(binary.LittleEndian.Uint64(d[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// str validates the string whose opening quote is at i and returns the
// index after its closing quote and what it holds besides plain ASCII
// (0: only bytes 0x20-0x7f other than quote and backslash). The hot
// callers (member, value, Decoder.str) have its first step written out
// (plainRun, then a closing quote or strRest): a call less per string.
func (s *scanner) str(i int) (int, strKind) {
	return s.strRest(i + 1)
}

// strRest validates a string from i, inside it (every byte before i
// validated), to its end.
func (s *scanner) strRest(i int) (int, strKind) {
	d := s.data
	var kind strKind
	for {
		i = plainRun(d, i)
		if i >= len(d) {
			return s.need(i), 0
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, kind
		case c == '\\':
			kind |= strEscaped
			if i+1 >= len(d) {
				return s.need(i + 1), 0
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i = s.uescape(i); i < 0 {
					return -1, 0
				}
			default:
				return s.fail(i, "invalid escape %s in string", quoteByte(d[i+1])), 0
			}
		case c < 0x20:
			return s.fail(i, "control character 0x%02x in string (escape it)", c), 0
		case c < utf8.RuneSelf:
			i++
		default:
			kind |= strNonASCII
			if !utf8.FullRune(d[i:]) && !s.final {
				return s.need(i), 0
			}
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n == 1 {
				return s.fail(i, "invalid UTF-8 in string"), 0
			}
			i += n
		}
	}
}

// uescape reads \uXXXX at i (and the low half of a surrogate pair).
func (s *scanner) uescape(i int) int {
	r, ok := s.hex4(i)
	if !ok {
		return -1
	}
	switch {
	case r >= 0xdc00 && r <= 0xdfff:
		return s.fail(i, "lone surrogate \\u%04x in string", r)
	case r >= 0xd800 && r <= 0xdbff:
		if i+6 >= len(s.data) {
			return s.need(i + 6)
		}
		if s.data[i+6] != '\\' {
			return s.fail(i, "lone surrogate \\u%04x in string", r)
		}
		if i+7 >= len(s.data) {
			return s.need(i + 7)
		}
		if s.data[i+7] != 'u' {
			return s.fail(i, "lone surrogate \\u%04x in string", r)
		}
		lo, ok := s.hex4(i + 6)
		if !ok {
			return -1
		}
		if lo < 0xdc00 || lo > 0xdfff {
			return s.fail(i, "lone surrogate \\u%04x in string", r)
		}
		return i + 12
	}
	return i + 6
}

// hex4 reads the four hex digits of \uXXXX at i.
func (s *scanner) hex4(i int) (rune, bool) {
	var r rune
	for k := i + 2; k < i+6; k++ {
		if k >= len(s.data) {
			s.need(k)
			return 0, false
		}
		c := s.data[k]
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			s.fail(i, "invalid escape \\u: want four hex digits")
			return 0, false
		}
	}
	return r, true
}

// unescape appends the decoded content of a valid string (raw, between its
// quotes) to dst.
func unescape(dst, raw []byte) []byte {
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:k]...)
		c := raw[k+1]
		raw = raw[k+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexRune(raw)
			raw = raw[4:]
			if r >= 0xd800 && r <= 0xdbff {
				lo := hexRune(raw[2:])
				raw = raw[6:]
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ /
			dst = append(dst, c)
		}
	}
	return dst
}

func hexRune(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		default:
			r = r<<4 | rune(c-'A'+10)
		}
	}
	return r
}

// object is an object being read: where its names start in keys, and a
// 64-bit summary of them (a bit per name, by length and end bytes) that
// spares most names the comparison with the others.
type object struct {
	k0   int
	seen uint64
}

// open enters the object or array at i.
func (s *scanner) open(i int) (int, object) {
	if s.depth++; s.depth > maxDepth {
		return s.fail(i, "nesting deeper than %d", maxDepth), object{}
	}
	return i + 1, object{k0: len(s.keys)}
}

// member moves to the next member of object o (i is just inside it, or
// after a member's value). It returns the index of the member's value and
// its decoded name, or ok=false and the index after the closing brace.
func (s *scanner) member(i int, o *object) (next int, name []byte, ok bool) {
	d := s.data
	k0 := o.k0
	if i = s.ws(i); i >= len(d) {
		return s.need(i), nil, false
	}
	if len(s.keys) > k0 {
		switch d[i] {
		case ',':
			if i = s.ws(i + 1); i >= len(d) {
				return s.need(i), nil, false
			}
			if d[i] == '}' {
				return s.fail(i, "trailing comma before '}'"), nil, false
			}
		case '}':
			return s.closeObject(i, k0), nil, false
		default:
			return s.fail(i, "invalid character %s after an object member (want ',' or '}')", quoteByte(d[i])), nil, false
		}
	} else if d[i] == '}' {
		return s.closeObject(i, k0), nil, false
	}
	if d[i] != '"' {
		return s.fail(i, "invalid character %s where a member name should start", quoteByte(d[i])), nil, false
	}
	j := plainRun(d, i+1)
	var kind strKind
	if j < len(d) && d[j] == '"' {
		j++
	} else if j, kind = s.strRest(j); j < 0 {
		return -1, nil, false
	}
	name = d[i+1 : j-1]
	ref := keyRef{off: int32(i + 1), n: int32(len(name))}
	if kind&strEscaped != 0 {
		ref.off = int32(len(s.arena))
		s.arena = unescape(s.arena, name)
		name = s.arena[ref.off:]
		ref.n = -int32(len(name)) - 1
	}
	// Few names: compare as they come (those the summary says may repeat
	// one). Many: sort once at the end.
	bit := nameBit(name)
	if n := len(s.keys) - k0; n < smallObject && o.seen&bit != 0 {
		for _, k := range s.keys[k0:] {
			if k.len() == len(name) && bytes.Equal(s.name(k), name) {
				return s.fail(i, "duplicate name %q in object", name), nil, false
			}
		}
	}
	o.seen |= bit
	s.keys = append(s.keys, ref)
	if i = s.ws(j); i >= len(d) {
		return s.need(i), nil, false
	}
	if d[i] != ':' {
		return s.fail(i, "invalid character %s after a member name (want ':')", quoteByte(d[i])), nil, false
	}
	if i = s.ws(i + 1); i >= len(d) {
		return s.need(i), nil, false
	}
	return i, name, true
}

const smallObject = 32

// nameBit is a name's bit in an object's summary, from its length and its
// first and last 8 bytes, mixed: CloudTrail's names share their ends and
// lengths (eventName, eventTime, eventType), and each shared bit costs a
// comparison with every earlier name.
func nameBit(name []byte) uint64 {
	n := len(name)
	var a, b uint64
	if n >= 8 {
		a = binary.LittleEndian.Uint64(name)
		b = binary.LittleEndian.Uint64(name[n-8:])
	} else {
		for k, c := range name {
			a |= uint64(c) << (8 * k)
		}
	}
	h := ((a+uint64(n))*0x9e3779b97f4a7c15 ^ b) * 0xc2b2ae3d27d4eb4f
	return 1 << (h >> 58)
}

func (s *scanner) name(k keyRef) []byte {
	if k.n < 0 {
		return s.arena[k.off : k.off-k.n-1]
	}
	return s.data[k.off : k.off+k.n]
}

func (s *scanner) closeObject(i, k0 int) int {
	if keys := s.keys[k0:]; len(keys) > smallObject {
		slices.SortFunc(keys, func(a, b keyRef) int { return bytes.Compare(s.name(a), s.name(b)) })
		for k := 1; k < len(keys); k++ {
			if bytes.Equal(s.name(keys[k-1]), s.name(keys[k])) {
				// At the later name, if it is in data; else at the brace.
				at := i
				if keys[k-1].n >= 0 && keys[k].n >= 0 {
					at = int(max(keys[k-1].off, keys[k].off)) - 1
				}
				return s.fail(at, "duplicate name %q in object", s.name(keys[k]))
			}
		}
	}
	s.keys = s.keys[:k0]
	s.depth--
	return i + 1
}

// element moves to element n of the array being read (i is just inside it,
// or after element n-1). It returns the element's index, or ok=false and
// the index after the closing bracket.
func (s *scanner) element(i, n int) (next int, ok bool) {
	d := s.data
	if i = s.ws(i); i >= len(d) {
		return s.need(i), false
	}
	if n > 0 {
		switch d[i] {
		case ',':
			if i = s.ws(i + 1); i >= len(d) {
				return s.need(i), false
			}
			if d[i] == ']' {
				return s.fail(i, "trailing comma before ']'"), false
			}
			return i, true
		case ']':
			s.depth--
			return i + 1, false
		default:
			return s.fail(i, "invalid character %s after an array element (want ',' or ']')", quoteByte(d[i])), false
		}
	}
	if d[i] == ']' {
		s.depth--
		return i + 1, false
	}
	return i, true
}

func (s *scanner) object(i int) int {
	i, o := s.open(i)
	for i >= 0 {
		var ok bool
		if i, _, ok = s.member(i, &o); !ok {
			return i
		}
		i = s.value(i)
	}
	return -1
}

func (s *scanner) array(i int) int {
	i, _ = s.open(i)
	for n := 0; i >= 0; n++ {
		var ok bool
		if i, ok = s.element(i, n); !ok {
			return i
		}
		i = s.value(i)
	}
	return -1
}

package cloudtrail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// MaxValue bounds the size of one JSON value (an event or record). CloudTrail
// records and EventBridge events are far smaller (an EventBridge event is at
// most 256 KB); the bound keeps memory flat on hostile input.
const MaxValue = 8 << 20

// Item locates one value read by a Stream, and says why it is not a record
// when it is not.
type Item struct {
	// Line is the line on which the value starts (1-based).
	Line int
	// Index is the value's position in the enclosing array (a JSON array,
	// or the Records array of a trail log file), or -1 at top level.
	Index int
	// Err is set when the value is not a usable record; the Record passed
	// to Next is then not filled.
	Err error
}

// Stream reads records from one input, whatever its layout: an EventBridge
// event or a bare record, a trail log file ({"Records": [...]}), a JSON array
// of either, or JSON lines mixing them; gzip-compressed or not (told by the
// magic bytes). It reads incrementally: memory stays bounded by the largest
// single value, never by the input's size.
type Stream struct {
	src  io.Reader
	gz   *gzip.Reader
	buf  []byte
	pos  int // next unread byte in buf
	end  int // end of valid data in buf
	line int // line number at pos
	eof  bool
	rerr error
	read int64 // bytes read from the (decompressed) input

	inArray   bool
	inRecords bool // the array is the Records array of a log file
	index     int
	needComma bool
	done      bool

	dec Decoder
}

// NewStream starts reading r.
func NewStream(r io.Reader) (*Stream, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	s := &Stream{src: br, buf: make([]byte, 256<<10), line: 1}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		s.src, s.gz = gz, gz
	}
	return s, nil
}

// Close releases the decompressor, if any. It does not close the source.
func (s *Stream) Close() error {
	if s.gz != nil {
		return s.gz.Close()
	}
	return nil
}

// BytesRead is how many bytes of (decompressed) input the stream has read.
func (s *Stream) BytesRead() int64 { return s.read }

// more reads more input, keeping buf[pos:end]. It reports whether any bytes
// were added.
func (s *Stream) more() bool {
	if s.eof {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.pos, s.end = 0, n
	}
	if s.end == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.src.Read(s.buf[s.end:])
		s.end += n
		s.read += int64(n)
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// skipSpace moves past whitespace (and a UTF-8 byte order mark) and returns
// the next byte.
func (s *Stream) skipSpace() (byte, bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case '\n':
				s.line++
				s.pos++
			case ' ', '\t', '\r':
				s.pos++
			case 0xEF:
				for s.end-s.pos < 3 && s.more() {
				}
				if s.end-s.pos >= 3 && s.buf[s.pos+1] == 0xBB && s.buf[s.pos+2] == 0xBF {
					s.pos += 3
					continue
				}
				return c, true
			default:
				return c, true
			}
		}
		if !s.more() {
			return 0, false
		}
	}
}

var (
	errTruncated = errors.New("malformed JSON: value ends before it is complete (truncated input?)")
	recordsKey   = []byte(`"Records"`)
)

// Next reads the next value into r. It returns false at the end of input.
// An Item with Err set is a value that could not be used as a record; the
// caller reports it and goes on. After a read or gzip error, or a syntax
// error that leaves no safe place to resume, Next returns that error once
// and then false.
func (s *Stream) Next(r *Record) (Item, bool) {
	for !s.done {
		c, ok := s.skipSpace()
		if !ok {
			s.done = true
			switch {
			case s.rerr != nil:
				return s.item(fmt.Errorf("read: %w", s.rerr)), true
			case s.inArray:
				return s.item(errors.New("malformed JSON: input ends inside an array")), true
			}
			return Item{}, false
		}
		if s.inArray {
			switch {
			case c == ']':
				s.pos++
				s.inArray = false
				if s.inRecords {
					s.inRecords = false
					if c, ok := s.skipSpace(); !ok || c != '}' {
						s.done = true
						return s.item(errors.New(`malformed JSON: want "}" after the Records array`)), true
					}
					s.pos++
				}
				continue
			case s.needComma && c == ',':
				s.pos++
				s.needComma = false
				continue
			case s.needComma:
				s.done = true
				return s.item(fmt.Errorf("malformed JSON: unexpected %q after array element", c)), true
			}
			it := s.item(nil)
			s.index++
			s.needComma = true
			val, err := s.value(false)
			if err != nil {
				s.done = true
				it.Err = err
				return it, true
			}
			it.Err = s.dec.Decode(val, r)
			return it, true
		}
		switch c {
		case '[':
			s.pos++
			s.inArray, s.index, s.needComma = true, 0, false
			continue
		case '{':
			if s.enterRecords() {
				s.inArray, s.inRecords, s.index, s.needComma = true, true, 0, false
				continue
			}
			it := s.item(nil)
			val, err := s.value(true)
			if err != nil {
				it.Err = err
				return it, true
			}
			it.Err = s.dec.Decode(val, r)
			return it, true
		default:
			// Garbage between values: report the line and resume on the next.
			it := s.item(fmt.Errorf("malformed JSON: unexpected %q where a value should start", c))
			s.skipLine()
			return it, true
		}
	}
	return Item{}, false
}

func (s *Stream) item(err error) Item {
	it := Item{Line: s.line, Index: -1, Err: err}
	if s.inArray {
		it.Index = s.index
	}
	return it
}

func (s *Stream) skipLine() {
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			s.pos++
			if c == '\n' {
				s.line++
				return
			}
		}
		if !s.more() {
			return
		}
	}
}

// enterRecords reports whether the object at pos opens with a "Records"
// array, as a trail log file does, and if so consumes up to the '['. Log
// files are streamed record by record instead of parsed whole.
func (s *Stream) enterRecords() bool {
	for s.end-s.pos < 64 && s.more() {
	}
	b := s.buf[s.pos:s.end]
	i := skipWS(b, 1)
	if len(b)-i < len(recordsKey) || string(b[i:i+len(recordsKey)]) != string(recordsKey) {
		return false
	}
	i = skipWS(b, i+len(recordsKey))
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipWS(b, i+1)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	for _, c := range b[:i+1] {
		if c == '\n' {
			s.line++
		}
	}
	s.pos += i + 1
	return true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

var newline = []byte{'\n'}

// trailingBackslashes reports whether b ends in an odd run of backslashes,
// counting a run carried over from before b (carry), that is, whether the
// byte after b is escaped.
func trailingBackslashes(b []byte, carry bool) bool {
	odd := carry
	i := len(b) - 1
	for ; i >= 0 && b[i] == '\\'; i-- {
		odd = !odd
	}
	if i >= 0 {
		// A non-backslash byte ends the run: the carry no longer applies.
		odd = (len(b)-1-i)%2 == 1
	}
	return odd
}

// value scans one JSON value starting at pos and returns its bytes, which
// stay valid until the next call. It finds the value's end by tracking
// strings and nesting only; the decoder validates the rest.
//
// At top level, a '{' at the start of a line while an object is still open
// means the previous value was cut short (a truncated JSON line): the value
// is reported as truncated and reading resumes at that line, so one bad line
// never swallows the records after it.
func (s *Stream) value(top bool) ([]byte, error) {
	n := 0 // bytes of the value scanned so far, from pos
	depth, lines := 0, 0
	inStr, esc, prevNL, oversize := false, false, false, false
	c0 := s.buf[s.pos]
	scalar := c0 != '{' && c0 != '[' && c0 != '"'
	finish := func(err error) ([]byte, error) {
		val := s.buf[s.pos : s.pos+n]
		s.pos += n
		s.line += lines
		if oversize || n > MaxValue {
			return nil, fmt.Errorf("value larger than %d MiB", MaxValue>>20)
		}
		return val, err
	}
	for {
		for s.pos+n < s.end {
			if inStr {
				// Most of a record is string bytes: jump to the next quote.
				rest := s.buf[s.pos+n : s.end]
				j := bytes.IndexByte(rest, '"')
				if j < 0 {
					lines += bytes.Count(rest, newline)
					esc = trailingBackslashes(rest, esc)
					n += len(rest)
					continue
				}
				lines += bytes.Count(rest[:j], newline)
				if trailingBackslashes(rest[:j], esc) {
					// An escaped quote: part of the string.
					esc = false
					n += j + 1
					continue
				}
				esc, inStr = false, false
				n += j + 1
				if depth == 0 {
					return finish(nil)
				}
				continue
			}
			c := s.buf[s.pos+n]
			if scalar {
				switch c {
				case ' ', '\t', '\r', '\n', ',', ']', '}':
					return finish(nil)
				}
				n++
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				if c == '{' && top && prevNL && depth > 0 {
					_, _ = finish(nil)
					return nil, errTruncated
				}
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					n++
					return finish(nil)
				}
			case '\n':
				lines++
			}
			prevNL = c == '\n'
			n++
		}
		if n > MaxValue {
			// Keep scanning to find the end, but stop buffering.
			oversize = true
			s.pos += n
			s.line += lines
			n, lines = 0, 0
		}
		if !s.more() {
			if scalar && s.rerr == nil {
				return finish(nil)
			}
			_, _ = finish(nil)
			if s.rerr != nil {
				return nil, fmt.Errorf("read: %w", s.rerr)
			}
			return nil, errTruncated
		}
	}
}

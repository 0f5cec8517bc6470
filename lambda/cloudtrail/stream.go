package cloudtrail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// MaxValue bounds the size of one JSON value (an event, a record, an
// element of an array). CloudTrail records and EventBridge events are far
// smaller (an EventBridge event is at most 256 KB); the bound keeps memory
// flat on hostile input. Reading a value never costs more than a buffer of
// this size and, per member name of the objects being read, 16 bytes.
const MaxValue = 8 << 20

// Item locates one value read by a Stream, and says why it is not a record
// when it is not.
type Item struct {
	// Line is the line on which the value starts (1-based).
	Line int
	// Index is the value's position in the enclosing array (a JSON array,
	// or the Records array of a trail log file or an SQS batch), or -1 at
	// top level.
	Index int
	// Body is set when the record is the body of the SQS message at Index.
	Body bool
	// Err is set when the value is not a usable record. The Record passed
	// to Next is then not filled, unless Partial is set.
	Err error
	// Partial: the value is invalid, yet the Record holds what could be
	// read of it (the whole record when only a field had the wrong type,
	// eventID and bucket read leniently up to a syntax error), so that
	// triage can find it.
	Partial bool
	// Plain: every string of the Record is printable ASCII without quotes
	// or backslashes (Decoder.Plain), so writers may copy it as it is.
	Plain bool
}

// AppendLocation appends where the item is in the input called name:
// name:LINE for a top-level value, name:LINE#INDEX for element INDEX
// (0-based, as jq counts: jq '.Records[INDEX]') of an array starting on or
// before LINE, and name:LINE#INDEX/body for the body of an SQS message.
func (it Item) AppendLocation(b []byte, name string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(it.Line), 10)
	if it.Index >= 0 {
		b = append(b, '#')
		b = strconv.AppendInt(b, int64(it.Index), 10)
	}
	if it.Body {
		b = append(b, "/body"...)
	}
	return b
}

// Where the stream is: between top-level values, in an array, or among the
// members of a container object ({"Records": [...], ...}).
type place int

const (
	atTop place = iota
	inArray
	inContainer
)

// Stream reads records from one input, whatever its layout: an EventBridge
// event or a bare record, a trail log file or an SQS batch ({"Records":
// [...]}, members in any order), a JSON array of events or records, or a
// sequence of them (JSON lines, or concatenated); gzip-compressed or not
// (told by the magic bytes). It reads incrementally: memory stays bounded by
// MaxValue, never by the input's size.
//
// Framing: a value ends where a strict JSON reader says it ends. A broken
// element of an array is one invalid item and reading goes on after it,
// when its end (brackets and strings counted leniently) is on the line where
// it broke. Any other broken value, or an element whose end is not there,
// is one invalid item and reading resumes, at top level, on the first later
// line (after the one it started on) whose first non-blank character is '{'
// or '['. A string cannot span lines, so a line start is never inside one.
type Stream struct {
	src  io.Reader
	gz   *gzip.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of valid data in buf
	base int64 // input offset of buf[0]
	line int   // line number at pos
	eof  bool
	rerr error
	read int64
	done bool

	place   place
	records bool // the array is a container's Records member
	index   int  // elements of the array read so far
	members int  // members of the container read so far
	sep     bool // an element or member was read: ',' or the closer comes next
	names   map[uint64]struct{}
	seed    maphash.Seed
	// recordField is the first record field among the container's
	// members ("" for none): reported when the container closes.
	recordField string
	opened      Item // where the container started

	dec  Decoder
	body []byte

	ahead *readAhead
	// chunk: buf is a read-ahead buffer, handed back when the stream
	// moves on; own is then the stream's own buffer, kept for reuse.
	chunk bool
	own   []byte
	// Kept for reuse (streams): the buffered reader and decompressor.
	br     *bufio.Reader
	gzr    *gzip.Reader
	closed bool
}

// NewStream starts reading r.
func NewStream(r io.Reader) (*Stream, error) { return NewStreamOptions(r, StreamOptions{}) }

// StreamOptions adjust how a Stream reads its input.
type StreamOptions struct {
	// ReadAhead decompresses in a goroutine of its own, a buffer ahead of
	// the decoder, so one stream keeps two cores busy.
	ReadAhead bool
}

// streams holds closed Streams for reuse: check opens one per trail file,
// and a fresh read buffer, decompressor and decoder for each of thousands
// of small files cost more than reading them.
var streams sync.Pool

// streamBuf is the read buffer's starting size; a buffer grown past it
// for a large value is not kept.
const streamBuf = 256 << 10

// NewStreamOptions starts reading r as o says.
func NewStreamOptions(r io.Reader, o StreamOptions) (*Stream, error) {
	s, _ := streams.Get().(*Stream)
	if s == nil {
		s = &Stream{br: bufio.NewReaderSize(r, 64<<10), buf: make([]byte, streamBuf), seed: maphash.MakeSeed()}
	} else {
		s.br.Reset(r)
	}
	s.src, s.line, s.closed = s.br, 1, false
	if magic, _ := s.br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		var err error
		if s.gzr == nil {
			s.gzr, err = gzip.NewReader(s.br)
		} else {
			err = s.gzr.Reset(s.br)
		}
		if err != nil {
			s.gzr = nil
			s.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		s.src, s.gz = s.gzr, s.gzr
		if o.ReadAhead {
			s.ahead = startReadAhead(s.gzr)
			s.src = s.ahead
		}
	}
	return s, nil
}

// Close releases the stream's memory for reuse; the stream must not be
// used after. It does not close the source.
func (s *Stream) Close() error {
	if s.closed {
		return nil // a second Close must not pool the stream twice
	}
	if s.ahead != nil {
		s.ahead.stop()
		s.ahead.recycle()
	}
	var err error
	if s.gz != nil {
		err = s.gz.Close()
	}
	buf := s.buf
	if s.chunk {
		putAhead(buf)
		buf = s.own
	}
	if len(buf) != streamBuf {
		buf = make([]byte, streamBuf)
	}
	names := s.names
	clear(names)
	*s = Stream{br: s.br, gzr: s.gzr, buf: buf, seed: s.seed, names: names, dec: s.dec, body: s.body[:0], closed: true}
	s.br.Reset(nil)
	streams.Put(s)
	return err
}

// readAhead reads its source in a goroutine, a few buffers ahead. Each
// buffer leaves aheadReserve bytes free before its data, where the stream
// moves the part of a value that the buffer before it ended in: the stream
// then reads the buffer in place (fill), and the decompressed bytes are
// not copied once more.
type readAhead struct {
	full chan aheadBuf
	free chan []byte
	done chan struct{}
	gone chan struct{} // closed when the goroutine has returned
	// For Read (a value longer than aheadReserve): the buffer being
	// copied out, and where.
	cur aheadBuf
	off int
	err error
}

// aheadBuf is a buffer the goroutine filled: data in b[aheadReserve:].
type aheadBuf struct {
	b   []byte
	err error
}

const (
	aheadSize    = 256 << 10
	aheadReserve = 64 << 10
	// aheadBufs: one the stream reads in place, one being filled, two
	// waiting.
	aheadBufs = 4
)

// aheadPool holds read-ahead buffers between streams: check starts one
// read-ahead per compressed file, and a tree holds thousands of small ones.
var aheadPool = sync.Pool{New: func() any { return new([aheadReserve + aheadSize]byte) }}

func getAhead() []byte  { return aheadPool.Get().(*[aheadReserve + aheadSize]byte)[:] }
func putAhead(b []byte) { aheadPool.Put((*[aheadReserve + aheadSize]byte)(b[:cap(b)])) }

func startReadAhead(r io.Reader) *readAhead {
	a := &readAhead{full: make(chan aheadBuf, aheadBufs), free: make(chan []byte, aheadBufs), done: make(chan struct{}), gone: make(chan struct{})}
	for range aheadBufs {
		a.free <- getAhead()
	}
	go func() {
		defer close(a.gone)
		for {
			var b []byte
			select {
			case b = <-a.free:
			case <-a.done:
				return
			}
			// Not io.ReadFull: it turns a source's EOF after some
			// bytes into ErrUnexpectedEOF, and a truncated gzip member's
			// ErrUnexpectedEOF must stay an error.
			n := aheadReserve
			var err error
			for n < len(b) && err == nil {
				var k int
				k, err = r.Read(b[n:])
				n += k
			}
			select {
			case a.full <- aheadBuf{b[:n], err}:
			case <-a.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return a
}

// exhausted reports whether Read has handed out all of its current buffer,
// so the next buffer may be read in place.
func (a *readAhead) exhausted() bool { return a.off == len(a.cur.b) }

// next returns the next filled buffer; the caller hands it back with
// release. Read's buffer, all handed out, goes back first.
func (a *readAhead) next() aheadBuf {
	if a.cur.b != nil {
		a.release(a.cur.b)
		a.cur, a.off = aheadBuf{}, 0
	}
	return <-a.full
}

func (a *readAhead) release(b []byte) { a.free <- b[:cap(b)] }

// Read copies out what the goroutine read, for a value that does not fit
// in the reserve of the next buffer.
func (a *readAhead) Read(p []byte) (int, error) {
	for a.exhausted() {
		if a.err != nil {
			return 0, a.err
		}
		a.cur = a.next()
		a.off, a.err = aheadReserve, a.cur.err
	}
	n := copy(p, a.cur.b[a.off:])
	a.off += n
	return n, nil
}

// stop ends the goroutine and waits for it: the source is not read once
// stop returns, so the caller may release it.
func (a *readAhead) stop() {
	close(a.done)
	<-a.gone
}

// recycle puts the buffers that came back in the pool, once stopped; a
// buffer the stream still reads is handed back by the stream.
func (a *readAhead) recycle() {
	for {
		select {
		case b := <-a.free:
			putAhead(b)
		case f := <-a.full:
			putAhead(f.b)
		default:
			if a.cur.b != nil {
				putAhead(a.cur.b)
			}
			return
		}
	}
}

// Offset is the input offset (decompressed) of the next unread byte.
func (s *Stream) Offset() int64 { return s.base + int64(s.pos) }

// BytesRead is how many bytes of (decompressed) input the stream has read.
func (s *Stream) BytesRead() int64 { return s.read }

// fill reads more input, keeping buf[pos:end] (moved to the front, the
// buffer doubled when full, up to MaxValue). It reads until the buffer is
// full, so that a value is rescanned at most once per doubling. It reports
// whether room was made.
func (s *Stream) fill() bool {
	if s.eof {
		return false
	}
	if s.ahead != nil && s.end-s.pos <= aheadReserve && s.ahead.exhausted() {
		s.fillInPlace()
		return true
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.pos, s.end = 0, n
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= MaxValue {
			return false
		}
		nb := make([]byte, min(2*len(s.buf), MaxValue))
		copy(nb, s.buf[:s.end])
		s.releaseChunk()
		s.buf = nb
	}
	for s.end < len(s.buf) {
		n, err := s.src.Read(s.buf[s.end:])
		s.end += n
		s.read += int64(n)
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
			break
		}
	}
	return true
}

// fillInPlace moves on to the read-ahead's next buffer: the unread bytes
// of buf go into its reserve, just before its data, and the stream reads it
// where the goroutine decompressed it.
func (s *Stream) fillInPlace() {
	next := s.ahead.next()
	left := s.end - s.pos
	at := aheadReserve - left
	copy(next.b[at:], s.buf[s.pos:s.end])
	s.base += int64(s.pos - at)
	s.releaseChunk()
	s.buf, s.chunk = next.b, true
	s.pos, s.end = at, len(next.b)
	s.read += int64(len(next.b) - aheadReserve)
	if next.err != nil {
		// The goroutine has returned: nothing more comes.
		s.eof = true
		if next.err != io.EOF {
			s.rerr = next.err
		}
	}
}

// releaseChunk hands buf back to the read-ahead if it is one of its
// buffers, keeping the stream's own buffer aside.
func (s *Stream) releaseChunk() {
	if s.chunk {
		s.ahead.release(s.buf)
		s.chunk = false
		return
	}
	if s.own == nil {
		s.own = s.buf
	}
}

// skipSpace moves past whitespace (and a UTF-8 byte order mark at the
// start of the input) and returns the next byte.
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
				if s.base+int64(s.pos) != 0 {
					return c, true
				}
				for s.end-s.pos < 3 && s.fill() {
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
		if !s.fill() {
			return 0, false
		}
	}
}

// consume moves past n bytes of buf[pos:].
func (s *Stream) consume(n int) {
	s.line += countLines(s.buf[s.pos : s.pos+n])
	s.pos += n
}

func countLines(b []byte) int { return bytes.Count(b, newline) }

var newline = []byte{'\n'}

var errOversize = fmt.Errorf("value larger than %d MiB", MaxValue>>20)

// decode reads the value at pos (not consuming it), reading more input
// while the value is incomplete. kind is short when it does not fit in
// MaxValue.
func (s *Stream) decode(r *Record, depth int, containers bool) (end int, kind valueKind, err error) {
	for {
		s.dec.s.reset(s.buf[s.pos:s.end], s.eof, depth)
		end, kind, err = s.dec.decodeValue(0, r, containers)
		if kind != short || !s.fill() {
			return end, kind, err
		}
	}
}

// syntaxError is the decoder's last syntax error, placed in the input.
func (s *Stream) syntaxError() *SyntaxError {
	return s.dec.syntaxError(s.base+int64(s.pos), s.line, s.buf[s.pos:s.end])
}

// Next reads the next value into r. It returns false at the end of input.
// An Item with Err set is a value that could not be used as a record; the
// caller reports it and goes on. A read or gzip error is reported once, as
// the last item.
func (s *Stream) Next(r *Record) (Item, bool) {
	for !s.done {
		c, ok := s.skipSpace()
		if !ok {
			s.done = true
			it := Item{Line: s.line, Index: -1}
			switch {
			case s.rerr != nil:
				it.Err = fmt.Errorf("read: %w", s.rerr)
			case s.place == inArray:
				it.Index, it.Err = s.index, s.errorHere("input ends inside an array (truncated?)")
			case s.place == inContainer:
				it.Err = s.errorHere("input ends inside an object (truncated?)")
			default:
				return Item{}, false
			}
			return it, true
		}
		var it Item
		switch s.place {
		case atTop:
			if c == '[' {
				s.pos++
				s.place, s.records, s.index, s.sep = inArray, false, 0, false
				continue
			}
			it, ok = s.topValue(r)
		case inArray:
			it, ok = s.arrayStep(c, r)
		case inContainer:
			it, ok = s.containerStep(c)
		}
		if ok {
			it.Plain = it.Err == nil && s.dec.Plain()
			return it, true
		}
	}
	return Item{}, false
}

// topValue reads a top-level value, or enters a container object.
func (s *Stream) topValue(r *Record) (Item, bool) {
	it := Item{Line: s.line, Index: -1}
	end, kind, err := s.decode(r, 0, true)
	switch kind {
	case container:
		s.pos++ // the '{'
		s.place, s.members, s.sep = inContainer, 0, false
		s.recordField, s.opened = "", it
		if s.dec.recordFields {
			s.recordField = "read before its Records array"
		}
		clear(s.names)
		return it, false
	case syntaxErr:
		serr := s.syntaxError()
		it.Err, it.Partial = serr, s.salvage(r, serr.Offset)
		s.resync()
	case short:
		it.Err = errOversize
		s.resync()
	default:
		it.Err = err
		it.Partial = isFieldError(err)
		s.consume(end)
		if err == nil && r.EventSource == sqsSource {
			s.sqsBody(&it, r)
		}
	}
	return it, true
}

// sqsBody replaces r, an SQS message (in a batch or on its own, as a
// dead-letter queue dump holds them), with the record in its body.
func (s *Stream) sqsBody(it *Item, r *Record) {
	it.Body = true
	if !s.dec.hasBody {
		it.Err = errors.New("SQS message without a body")
		return
	}
	s.body = append(s.body[:0], s.dec.body...)
	it.Err = s.dec.Decode(s.body, r)
	it.Partial = isFieldError(it.Err)
}

func isFieldError(err error) bool {
	if err == nil {
		return false // most records: errors.As's target would cost an allocation each
	}
	var fe *FieldError
	return errors.As(err, &fe)
}

// salvage reads, leniently, the eventID and the bucket name of the broken
// value at pos, from its bytes before errAt (the input offset of the
// syntax error: past it, the bytes may belong to the next value), and
// reports whether it found either.
func (s *Stream) salvage(r *Record, errAt int64) bool {
	end := min(int(errAt-s.base), s.end)
	if end <= s.pos {
		return false
	}
	raw := s.buf[s.pos:end]
	*r = Record{EventID: lenientString(raw, `"eventID"`), Bucket: lenientString(raw, `"bucketName"`)}
	return r.EventID != "" || r.Bucket != ""
}

// lenientString returns the value of the first member name in raw whose
// value is a string without escapes, of at most 256 bytes, or "".
func lenientString(raw []byte, name string) string {
	k := bytes.Index(raw, []byte(name))
	if k < 0 {
		return ""
	}
	rest := bytes.TrimLeft(raw[k+len(name):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	rest = rest[1:]
	q := bytes.IndexAny(rest, "\"\\\n")
	if q <= 0 || q > 256 || rest[q] != '"' {
		return ""
	}
	return string(rest[:q])
}

// arrayStep reads what comes next in an array: an element, a separator, or
// the closing bracket.
func (s *Stream) arrayStep(c byte, r *Record) (Item, bool) {
	switch {
	case c == ']' && (s.sep || s.index == 0):
		s.pos++
		s.place, s.sep = atTop, false
		if s.records {
			s.place, s.sep = inContainer, true
		}
		return Item{}, false
	case s.sep && c == ',':
		s.pos++
		s.sep = false
		return Item{}, false
	case c == ']': // after a comma
		it := Item{Line: s.line, Index: s.index, Err: s.errorHere("trailing comma before ']'")}
		s.sep = true
		return it, true
	case s.sep:
		// Two elements without a comma: the second is a broken element.
		it := Item{Line: s.line, Index: s.index,
			Err: s.errorHere(fmt.Sprintf("invalid character %s after an array element (want ',' or ']')", quoteByte(c)))}
		s.index++
		s.recoverElement(s.base + int64(s.pos))
		return it, true
	}
	it := Item{Line: s.line, Index: s.index}
	s.index++
	s.sep = true
	depth := 1
	if s.records {
		depth = 2
	}
	end, kind, err := s.decode(r, depth, false)
	switch kind {
	case syntaxErr:
		serr := s.syntaxError()
		it.Err, it.Partial = serr, s.salvage(r, serr.Offset)
		s.recoverElement(serr.Offset)
		return it, true
	case short:
		it.Err = errOversize
		s.resync()
		return it, true
	}
	s.consume(end)
	it.Err, it.Partial = err, isFieldError(err)
	if err == nil && r.EventSource == sqsSource {
		s.sqsBody(&it, r)
	}
	return it, true
}

// maxMembers bounds the members of a container, whose names are remembered
// while its Records are streamed: a trail log file or an SQS batch has one.
const maxMembers = 10000

// sqsSource is the eventSource of an SQS message in a batch the function
// receives (and a dead-letter queue holds).
const sqsSource = "aws:sqs"

func (s *Stream) errorHere(msg string) error {
	return &SyntaxError{Offset: s.base + int64(s.pos), Line: s.line, Msg: msg}
}

// containerStep reads what comes next among a container's members: a
// member (its Records array is streamed, the others validated and skipped),
// a separator or the closing brace.
func (s *Stream) containerStep(c byte) (Item, bool) {
	switch {
	case c == '}' && (s.sep || s.members == 0):
		s.pos++
		s.place, s.sep = atTop, false
		if s.recordField != "" {
			// A record hiding in the container itself: no trail file
			// or SQS batch has these, and its fields were not read.
			it := s.opened
			it.Err = fmt.Errorf("an object with a Records array and a record's own fields (%s): neither a trail log file nor a record", s.recordField)
			return it, true
		}
		return Item{}, false
	case s.sep && c == ',':
		s.pos++
		s.sep = false
		return Item{}, false
	}
	it := Item{Line: s.line, Index: -1}
	if s.sep {
		it.Err = s.errorHere(fmt.Sprintf("invalid character %s after an object member (want ',' or '}')", quoteByte(c)))
		s.resync()
		return it, true
	}
	if c == '}' {
		it.Err = s.errorHere("trailing comma before '}'")
		s.pos++
		s.place = atTop
		return it, true
	}
	if s.members >= maxMembers {
		it.Err = s.errorHere(fmt.Sprintf("more than %d members in a {\"Records\": [...]} object", maxMembers))
		s.resync()
		return it, true
	}
	for {
		sc := &s.dec.s
		sc.reset(s.buf[s.pos:s.end], s.eof, 1)
		i, name, ok := s.memberName(sc)
		records := ok && string(name) == "Records" && s.buf[s.pos+i] == '['
		if ok && !records {
			i = sc.value(i)
		}
		switch {
		case i >= 0 && !s.newName(name):
			it.Err = &SyntaxError{Offset: s.base + int64(s.pos), Line: s.line, Msg: fmt.Sprintf("duplicate name %q in object", name)}
		case records:
			s.consume(i + 1)
			s.place, s.records, s.index, s.sep = inArray, true, 0, false
			s.members++
			return it, false
		case i >= 0:
			if s.recordField == "" && IsRecordField(string(name)) {
				s.recordField = string(name)
			}
			s.consume(i)
			s.sep = true
			s.members++
			return it, false
		case sc.short && s.fill():
			continue
		case sc.short:
			it.Err = errOversize
		default:
			it.Err = s.syntaxError()
		}
		s.resync()
		return it, true
	}
}

// memberName reads a container member's name and the ':' after it, and
// returns the index of the member's value.
func (s *Stream) memberName(sc *scanner) (int, []byte, bool) {
	if sc.data[0] != '"' {
		sc.fail(0, "invalid character %s where a member name should start", quoteByte(sc.data[0]))
		return -1, nil, false
	}
	j, kind := sc.str(0)
	if j < 0 {
		return -1, nil, false
	}
	name := unescapeOrCopy(sc.arena[:0], sc.data[1:j-1], kind&strEscaped != 0)
	sc.arena = name
	i := sc.ws(j)
	if i >= len(sc.data) {
		return sc.need(i), nil, false
	}
	if sc.data[i] != ':' {
		return sc.fail(i, "invalid character %s after a member name (want ':')", quoteByte(sc.data[i])), nil, false
	}
	if i = sc.ws(i + 1); i >= len(sc.data) {
		return sc.need(i), nil, false
	}
	return i, name, true
}

// newName remembers a container's member name and reports whether it is
// new. Names are kept as hashes: a container may have any number of
// members, and a false duplicate needs a 64-bit collision.
func (s *Stream) newName(name []byte) bool {
	h := maphash.Bytes(s.seed, name)
	if _, dup := s.names[h]; dup {
		return false
	}
	if s.names == nil {
		s.names = make(map[uint64]struct{})
	}
	s.names[h] = struct{}{}
	return true
}

// recoverElement moves past a broken array element at pos (broken at input
// offset errAt): to its lenient end if that is on the line where it broke,
// else to the next line that starts a value, at top level.
func (s *Stream) recoverElement(errAt int64) {
	depth, inStr, esc := 0, false, false
	for i := 0; ; i++ {
		if s.pos+i >= s.end {
			if !s.fill() {
				s.resync()
				return
			}
		}
		c := s.buf[s.pos+i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
				if depth == 0 {
					s.consume(i + 1)
					return
				}
			}
			if c != '\n' {
				continue
			}
			inStr, esc = false, false
		}
		switch c {
		case '\n':
			if depth == 0 && i > 0 {
				s.consume(i)
				return
			}
			if s.base+int64(s.pos+i) >= errAt {
				s.resync()
				return
			}
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				// The enclosing array's end (or a stray closer, which is
				// then the broken element itself).
				s.consume(max(i, 1))
				return
			}
			if depth--; depth == 0 {
				s.consume(i + 1)
				return
			}
		case ',', ' ', '\t', '\r':
			if depth == 0 && i > 0 {
				s.consume(i)
				return
			}
		}
	}
}

// resync moves from the start of a broken value to the first later line
// whose first non-blank character is '{' or '[', and back to top level.
func (s *Stream) resync() {
	s.place, s.sep = atTop, false
	for s.skipLine() {
		for {
			if s.pos == s.end && !s.fill() {
				return
			}
			c := s.buf[s.pos]
			if c == '{' || c == '[' {
				return
			}
			if c != ' ' && c != '\t' && c != '\r' {
				break
			}
			s.pos++
		}
	}
}

// skipLine moves past the next newline; false at the end of input.
func (s *Stream) skipLine() bool {
	for {
		if s.pos == s.end && !s.fill() {
			return false
		}
		if k := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); k >= 0 {
			s.pos += k + 1
			s.line++
			return true
		}
		s.pos = s.end
	}
}

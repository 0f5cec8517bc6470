package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

const recA = `{"eventVersion":"1.09","eventID":"a","eventSource":"s3express.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/r/s","accountId":"111122223333"},"requestParameters":{"bucketName":"b--use1-az4--x-s3","key":"k"}}`
const recB = `{"eventID":"b","eventSource":"s3.amazonaws.com","eventName":"GetObject"}`
const envC = `{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.s3express","detail":{"eventID":"c","eventSource":"s3express.amazonaws.com","eventName":"PutObject"}}`

// got is what a stream yields, one string per value: "ID@LOC" or "!ERR@LOC".
func readAll(t *testing.T, r io.Reader) []string {
	t.Helper()
	cr := &countingReader{r: r}
	s, err := NewStream(cr)
	if err != nil {
		return []string{"!" + err.Error()}
	}
	defer s.Close()
	var out []string
	var rec Record
	for i := 0; ; i++ {
		it, ok := s.Next(&rec)
		if !ok {
			return out
		}
		// A value takes at least a byte ("0000" is four), and a byte of
		// deflate data expands to at most 1032: a stream yielding more
		// items than that is stuck.
		limit := cr.n.Load()
		if cr.gzip.Load() {
			limit *= 1032
		}
		if i > 1000+int(limit) {
			t.Fatal("stream does not end")
		}
		loc := string(it.AppendLocation(nil, ""))
		if it.Err != nil {
			out = append(out, "!"+it.Err.Error()+"@"+loc)
		} else {
			out = append(out, rec.EventID+"@"+loc)
		}
	}
}

// countingReader counts the bytes read through it (by the read-ahead's
// goroutine too) and tells gzip input by its first two.
type countingReader struct {
	r    io.Reader
	n    atomic.Int64
	head []byte // read by Read only
	gzip atomic.Bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if len(c.head) < 2 {
		c.head = append(c.head, p[:min(n, 2-len(c.head))]...)
		c.gzip.Store(len(c.head) == 2 && c.head[0] == 0x1f && c.head[1] == 0x8b)
	}
	c.n.Add(int64(n))
	return n, err
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

var streamTests = []struct {
	name, in string
	want     []string
}{
	{"empty", "", nil},
	{"whitespace", " \n\t\n", nil},
	{"one record", recA, []string{"a@:1"}},
	{"one envelope", envC, []string{"c@:1"}},
	{"pretty record", "{\n  \"eventID\": \"p\",\n  \"eventSource\": \"s3express.amazonaws.com\"\n}\n", []string{"p@:1"}},
	{"log file", `{"Records":[` + recA + "," + recB + "]}", []string{"a@:1#0", "b@:1#1"}},
	{"log file spaced", "{ \"Records\" :\n [\n" + recA + ",\n" + recB + "\n]\n}\n", []string{"a@:3#0", "b@:4#1"}},
	{"empty log file", `{"Records":[]}`, nil},
	{"array", "[" + recA + "," + envC + "]", []string{"a@:1#0", "c@:1#1"}},
	{"json lines", recA + "\n" + recB + "\n" + envC + "\n", []string{"a@:1", "b@:2", "c@:3"}},
	{"json lines crlf and blanks", recA + "\r\n\r\n" + envC + "\r\n", []string{"a@:1", "c@:3"}},
	{"concatenated", recA + envC + "[" + recB + "]" + recA, []string{"a@:1", "c@:1", "b@:1#0", "a@:1"}},
	{"bom", "\xef\xbb\xbf" + recA, []string{"a@:1"}},
	{"garbage line resumes", recA + "\nnot json\n" + recB + "\n", []string{"a@:1", "!invalid literal@:2", "b@:3"}},
	{"truncated line resumes", recA + "\n" + `{"eventID":"x","eventSource":` + "\n" + recB + "\n", []string{"a@:1", "!input ends inside a value@:2", "b@:3"}},
	{"broken object", `{"eventID":"x",,}` + "\n" + recB, []string{"!line 1, byte 15: invalid character ',' where a member name should start@:1", "b@:2"}},
	{"not an object", "[1]", []string{"!want a JSON object, got number@:1#0"}},
	{"wrong type", `{"eventSource":"s3express.amazonaws.com","eventName":7}`, []string{"!eventName: want a string, got number@:1"}},
	{"wrong identity type", `{"eventSource":"s3express.amazonaws.com","userIdentity":"x"}`, []string{"!userIdentity: want an object, got string@:1"}},
	{"detail not object", `{"detail-type":"x","detail":"y"}`, []string{"!detail: want an object, got string@:1"}},
	{"unterminated array", "[" + recA + ",", []string{"a@:1#0", "!input ends inside an array@:1#1"}},
	{"missing comma", "[" + recA + " " + recB + "]", []string{"a@:1#0", "!after an array element (want ',' or ']')@:1#1"}},
	{"truncated log file", `{"Records":[` + recA + "," + recB[:20], []string{"a@:1#0", "!input ends inside a value@:1#1"}},
	{"escaped backslash before quote", `{"eventID":"x\\\\","eventSource":"s3express.amazonaws.com"}` + "\n" + recB, []string{`x\\@:1`, "b@:2"}},
	{"escaped quote run", `{"eventID":"q\\\\\"}","eventSource":"s3express.amazonaws.com"}` + "\n" + recB, []string{`q\\"}@:1`, "b@:2"}},
	{"braces in strings", `{"eventID":"{[\"}","eventSource":"s3express.amazonaws.com"}` + "\n" + recB, []string{`{["}@:1`, "b@:2"}},
}

func TestStream(t *testing.T) {
	for _, tt := range streamTests {
		t.Run(tt.name, func(t *testing.T) { checkStream(t, tt.in, tt.want) })
	}
}

// checkStream reads in whole, one byte at a time and gzip-compressed.
func checkStream(t *testing.T, in string, want []string) {
	t.Helper()
	for _, how := range []struct {
		name string
		r    io.Reader
	}{
		{"plain", strings.NewReader(in)},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(in))},
		{"gzip", bytes.NewReader(gz(in))},
	} {
		if got := readAll(t, how.r); !matchItems(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", how.name, got, want)
		}
	}
}

// matchItems compares what a stream yields with a table's want: a record
// "ID@LOC" exactly, an error "!MSG@LOC" by location and a part of its text.
func matchItems(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(want[i], "!") {
			if got[i] != want[i] {
				return false
			}
			continue
		}
		g, w := strings.LastIndex(got[i], "@"), strings.LastIndex(want[i], "@")
		if !strings.HasPrefix(got[i], "!") || got[i][g:] != want[i][w:] || !strings.Contains(got[i][:g], want[i][1:w]) {
			return false
		}
	}
	return true
}

func TestStreamGzipErrors(t *testing.T) {
	z := gz(recA + "\n" + recB + "\n")
	bad := append([]byte{}, z...)
	bad[len(bad)-5] ^= 0xff // corrupt the CRC/size trailer
	got := readAll(t, bytes.NewReader(bad))
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "!read: gzip: invalid checksum") {
		t.Errorf("corrupt trailer: got %q", got)
	}
	got = readAll(t, bytes.NewReader(z[:len(z)/2]))
	if len(got) == 0 || !strings.Contains(got[len(got)-1], "unexpected EOF") {
		t.Errorf("truncated gzip: got %q", got)
	}
	got = readAll(t, bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}))
	if len(got) != 1 || !strings.HasPrefix(got[0], "!gzip:") {
		t.Errorf("bad header: got %q", got)
	}
}

func TestStreamReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(recA+"\n"), iotest.ErrReader(errors.New("disk on fire")))
	got := readAll(t, r)
	want := []string{"a@:1", "!read: disk on fire@:2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestStreamOversize(t *testing.T) {
	big := `{"eventID":"big","pad":"` + strings.Repeat("x", MaxValue+10) + `"}` + "\n" + recB + "\n"
	got := readAll(t, strings.NewReader(big))
	want := []string{"!value larger than 8 MiB@:1", "b@:2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestDecodeFields(t *testing.T) {
	data, err := os.ReadFile("../../test/testdata/records/createsession-etl-issuer-path.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{
		EventVersion: "1.09", EventID: "00000000-0000-4000-8000-000000000002", EventTime: "2026-11-20T10:15:30Z",
		EventSource: EventSource, EventName: "CreateSession", EventType: "AwsApiCall", EventCategory: "Data",
		AWSRegion: "us-east-1", SourceIPAddress: "10.1.2.3",
		UserAgent:          "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24 md/GOOS#linux md/GOARCH#arm64 api/s3#1.79.2",
		ReadOnly:           true,
		RecipientAccountID: "111122223333",
		UserIdentity: Identity{
			Type: "AssumedRole", PrincipalID: "AROAEXAMPLEID:job-42",
			ARN: "arn:aws:sts::111122223333:assumed-role/etl-loader/job-42", AccountID: "111122223333",
			AccessKeyID: "ASIAEXAMPLEIAM00001", SessionIssuerARN: "arn:aws:iam::111122223333:role/pipelines/etl-loader",
		},
		Bucket: "analytics--use1-az4--x-s3", BucketAccount: "111122223333", SessionMode: "ReadWrite", AvailabilityZone: "use1-az4", SessionModeApplied: "ReadWrite",
		SessionAccessKeyID: "ASIAEXAMPLEZONAL0001",
		HasUserIdentity:    true,
	}
	if *r != want {
		t.Errorf("got  %+v\nwant %+v", *r, want)
	}
}

// FuzzStream: whatever the input, the stream never panics, always ends,
// and yields the same values however the input is split into reads.
func FuzzStream(f *testing.F) {
	for _, tt := range streamTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := readAll(t, bytes.NewReader(in))
		// Plain input only: gzip input expands ("0000..." in 13 bytes).
		if len(whole) > len(in)+2 && !bytes.HasPrefix(in, []byte{0x1f, 0x8b}) {
			t.Fatalf("more values (%d) than input bytes (%d)", len(whole), len(in))
		}
		split := readAll(t, iotest.OneByteReader(bytes.NewReader(in)))
		if strings.Join(whole, "\n") != strings.Join(split, "\n") {
			t.Fatalf("split reads differ:\nwhole %q\nsplit %q", whole, split)
		}
	})
}

// FuzzDecode: the decoder never panics and, on success, agrees with itself
// when the record is wrapped in an EventBridge envelope.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{recA, recB, envC, `{}`, `{"userIdentity":null}`, `{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:r:1:bucket/x"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeEvent(in)
		if err != nil {
			return
		}
		if bytes.Contains(in, []byte("detail")) {
			return // already an envelope, or a record with such a field
		}
		wrapped := append(append([]byte(`{"detail-type":"x","detail":`), in...), '}')
		w, err := DecodeEvent(wrapped)
		if err != nil {
			t.Fatalf("record decodes but its envelope does not: %v", err)
		}
		if w.Envelope != (Envelope{DetailType: "x"}) || !w.FromEventBridge {
			t.Fatalf("envelope not recorded: %+v", *w)
		}
		w.Envelope, w.FromEventBridge = Envelope{}, false
		if *w != *r {
			t.Fatalf("envelope changes the record:\n%+v\n%+v", *w, *r)
		}
	})
}

func TestNamesFromARN(t *testing.T) {
	for _, tt := range []struct {
		arn, bucket, accessPoint string
	}{
		{"arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3", "b--use1-az4--x-s3", ""},
		{"arn:aws:s3express:us-east-1:111122223333:b--use1-az4--x-s3", "b--use1-az4--x-s3", ""},
		{"arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3/k", "", ""},
		{"arn:aws:s3:::plain", "", ""},
		{"not-an-arn", "", ""},
		{"arn:aws:s3express:x", "", ""},
		{"arn:aws:s3express:us-east-1:111122223333:accesspoint/reports--use1-az4--xa-s3", "", "reports--use1-az4--xa-s3"},
		{"arn:aws-cn:s3express:r:1:accesspoint/a", "", "a"},
		{"arn:aws:s3express:r:1:accesspoint/", "", ""},
		{"arn:aws:s3express:r:1:accesspoint/a/b", "", ""},
		{"arn:aws:s3:r:1:accesspoint/a", "", ""},
		{"arn:aws:s3express:r:accesspoint/a", "", ""},
	} {
		if got := BucketFromARN(tt.arn); got != tt.bucket {
			t.Errorf("BucketFromARN(%q) = %q; want %q", tt.arn, got, tt.bucket)
		}
		if got := AccessPointFromARN(tt.arn); got != tt.accessPoint {
			t.Errorf("AccessPointFromARN(%q) = %q; want %q", tt.arn, got, tt.accessPoint)
		}
	}
}

// TestStreamReadAhead: decompressing a buffer ahead in a goroutine reads
// the same items, a corrupt tail included, and a stream closed halfway
// stops its goroutine (Close returns only once it has: the race detector
// would see the reuse of the decompressor otherwise).
func TestStreamReadAhead(t *testing.T) {
	var in strings.Builder
	in.WriteString(`{"Records":[`)
	for i := range 20000 { // some 4 MB: many read-ahead buffers
		if i > 0 {
			in.WriteString(",\n")
		}
		in.WriteString(strings.Replace(recA, `"eventID":"a"`, `"eventID":"a`+strings.Repeat("x", i%7)+`"`, 1))
	}
	in.WriteString("]}\n")
	data := gz(in.String())
	broken := append(bytes.Clone(data[:len(data)-40]), make([]byte, 40)...)
	for _, input := range [][]byte{data, broken} {
		plain, ahead := readItems(t, input, false, -1), readItems(t, input, true, -1)
		if len(plain) < 1000 || strings.Join(plain, "\n") != strings.Join(ahead, "\n") {
			t.Fatalf("read ahead: %d items, want the %d read without", len(ahead), len(plain))
		}
	}
	for range 3 {
		readItems(t, data, true, 10)
	}
}

// readItems reads up to n items (all when n < 0) of data and closes the
// stream: each item's location, error (offsets included), eventID and
// user agent length (-1 unless one letter repeated, as the tests write
// them); after all items, the bytes read.
func readItems(t *testing.T, data []byte, ahead bool, n int) []string {
	t.Helper()
	s, err := NewStreamOptions(bytes.NewReader(data), StreamOptions{ReadAhead: ahead})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []string
	var r Record
	for n < 0 || len(out) < n {
		it, ok := s.Next(&r)
		if !ok {
			return append(out, fmt.Sprint("read ", s.BytesRead()))
		}
		ua := len(r.UserAgent)
		if ua > 0 && strings.Count(r.UserAgent, r.UserAgent[:1]) != ua {
			ua = -1
		}
		out = append(out, fmt.Sprintf("%d#%d %v %s ua=%d", it.Line, it.Index, it.Err, r.EventID, ua))
	}
	return out
}

// TestStreamCloseTwice: a second Close does not hand the stream out twice
// (two streams sharing one buffer would read each other's input).
func TestStreamCloseTwice(t *testing.T) {
	s, err := NewStream(strings.NewReader(recA))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	a, _ := NewStream(strings.NewReader(recA))
	b, _ := NewStream(strings.NewReader(recB))
	defer a.Close()
	defer b.Close()
	if a == b {
		t.Fatal("two open streams are one")
	}
	var ra, rb Record
	a.Next(&ra)
	b.Next(&rb)
	if ra.EventID != "a" || rb.EventID != "b" {
		t.Fatalf("got %q and %q; want a and b", ra.EventID, rb.EventID)
	}
}

// TestStreamReadAheadInPlace: the read-ahead's buffers are read in place,
// the end of a value moved into the next buffer's reserve; a value longer
// than the reserve is copied out instead, and reading in place resumes
// after it. Values of every size around the reserve and the buffer, each
// with its content checked, read the same as without read-ahead.
func TestStreamReadAheadInPlace(t *testing.T) {
	var in strings.Builder
	in.WriteString(`{"Records":[`)
	sizes := []int{10, aheadReserve - 300, aheadReserve + 1, 3 * aheadReserve, aheadSize + 7, 2*aheadSize + aheadReserve, 1 << 20}
	for i := range 400 {
		if i > 0 {
			in.WriteString(",\n")
		}
		ua := strings.Repeat(string(rune('a'+i%26)), 20+i*37%300)
		if i%9 == 4 {
			ua = strings.Repeat(string(rune('a'+i%26)), sizes[i/9%len(sizes)])
		}
		in.WriteString(strings.Replace(recA, `"eventID":"a"`, fmt.Sprintf(`"eventID":"a%d","userAgent":%q`, i, ua), 1))
	}
	in.WriteString("]}\n")
	data := gz(in.String())
	broken := append(bytes.Clone(data[:len(data)-40]), make([]byte, 40)...)
	for _, input := range [][]byte{data, broken} {
		compareReadAhead(t, input, 300)
	}
}

// compareReadAhead reads input with and without read-ahead (readItems) and
// fails on the first item that differs.
func compareReadAhead(t *testing.T, input []byte, atLeast int) {
	t.Helper()
	plain, ahead := readItems(t, input, false, -1), readItems(t, input, true, -1)
	if len(plain) < atLeast {
		t.Fatalf("%d items read without read-ahead, want at least %d", len(plain), atLeast)
	}
	for i := range max(len(plain), len(ahead)) {
		if i >= len(plain) || i >= len(ahead) || plain[i] != ahead[i] {
			t.Fatalf("item %d differs with read-ahead (%d items, want %d):\n%s\nwant\n%s", i, len(ahead), len(plain),
				strings.Join(ahead[max(0, i-1):min(len(ahead), i+2)], "\n"), strings.Join(plain[max(0, i-1):min(len(plain), i+2)], "\n"))
		}
	}
}

// TestStreamReadAheadRandom: random trails (values of every size up to
// twice a read-ahead buffer, broken values among them, newlines between
// elements) read the same with and without read-ahead: framing, recovery,
// error offsets and lines, contents.
func TestStreamReadAheadRandom(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 17))
		var in strings.Builder
		in.WriteString(`{"Records":[`)
		for i := range 300 {
			if i > 0 {
				in.WriteString(",")
				if rng.IntN(3) == 0 {
					in.WriteString("\n")
				}
			}
			n := rng.IntN(200)
			switch rng.IntN(8) {
			case 0:
				n = aheadReserve - 200 + rng.IntN(400)
			case 1:
				n = rng.IntN(2 * aheadSize)
			}
			rec := strings.Replace(recA, `"eventID":"a"`,
				fmt.Sprintf(`"eventID":"r%d","userAgent":%q`, i, strings.Repeat(string(rune('a'+i%26)), n)), 1)
			if rng.IntN(15) == 0 {
				// A control byte in a string, somewhere in the record.
				k := rng.IntN(len(rec)-2) + 1
				rec = rec[:k] + "\x01" + rec[k:]
			}
			in.WriteString(rec)
		}
		in.WriteString("]}\n")
		compareReadAhead(t, gz(in.String()), 250)
	}
}

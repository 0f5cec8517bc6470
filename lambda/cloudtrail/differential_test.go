package cloudtrail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/go-json-experiment/json/jsontext"
)

// The differential proof: the decoder and the stream read bytes exactly as
// a strict reference reader does (jsontext, which rejects duplicate names,
// invalid UTF-8 and lone surrogates by default): the same values, at the
// same places, with the same fields, and the same accept/reject. The
// reference's record extraction (refRecord) is written from the rules, on a
// tree, without any of the decoder's code.

// node is a JSON value as the reference reads it.
type node struct {
	kind  jsontext.Kind // '{', '[', '"', '0', 't', 'f', 'n'
	str   string
	names []string
	elems []*node // members' values (objects) or elements (arrays)
	start int64   // input offset of the value
}

func (n *node) get(name string) *node {
	for i, k := range n.names {
		if k == name {
			return n.elems[i]
		}
	}
	return nil
}

// readNode reads one value of in from a jsontext decoder.
func readNode(d *jsontext.Decoder, in []byte) (*node, error) {
	// The value starts after any whitespace: peek, then read.
	if d.PeekKind() == 0 {
		_, err := d.ReadToken()
		if err == nil {
			err = errors.New("no value")
		}
		return nil, err
	}
	// InputOffset is where the last token ended: skip to this one.
	pos := d.InputOffset()
	for pos < int64(len(in)) && strings.IndexByte(" \t\r\n,:", in[pos]) >= 0 {
		pos++
	}
	tok, err := d.ReadToken()
	if err != nil {
		return nil, err
	}
	n := &node{kind: tok.Kind(), start: pos}
	switch n.kind {
	case '{':
		for d.PeekKind() != '}' {
			name, err := d.ReadToken()
			if err != nil {
				return nil, err
			}
			n.names = append(n.names, name.String())
			v, err := readNode(d, in)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, v)
		}
		_, err = d.ReadToken()
	case '[':
		for d.PeekKind() != ']' {
			v, err := readNode(d, in)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, v)
		}
		_, err = d.ReadToken()
	case '"':
		n.str = tok.String()
	}
	return n, err
}

// refRead reads all top-level values of in. ok reports whether the whole
// input is valid; values holds those read before any error.
func refRead(in []byte) (values []*node, ok bool) {
	d := jsontext.NewDecoder(bytes.NewReader(in))
	for {
		if d.PeekKind() == 0 {
			_, err := d.ReadToken()
			return values, err == io.EOF
		}
		v, err := readNode(d, in)
		if err != nil {
			return values, false
		}
		values = append(values, v)
	}
}

// refValue reads in as exactly one value.
func refValue(in []byte) (*node, bool) {
	vs, ok := refRead(in)
	if !ok || len(vs) != 1 {
		return nil, false
	}
	return vs[0], true
}

// refRecord extracts a record from an envelope or a bare record, by the
// rules: a field s3xguard reads, of the wrong type, is an error; null is
// absent.
func refRecord(v *node) (Record, string) {
	if v.kind != '{' {
		return Record{}, "not an object"
	}
	if dt, det := v.get("detail-type"), v.get("detail"); dt != nil && dt.kind != 'n' && det != nil && det.kind != 'n' {
		if dt.kind != '"' || det.kind != '{' {
			return Record{}, "field"
		}
		env := Envelope{DetailType: dt.str}
		for name, dst := range map[string]*string{"source": &env.Source, "account": &env.Account, "region": &env.Region} {
			if f := v.get(name); f != nil && f.kind != 'n' {
				if f.kind != '"' {
					return Record{}, "field"
				}
				*dst = f.str
			}
		}
		r, e := refFields(det)
		r.Envelope, r.FromEventBridge = env, true
		return r, e
	}
	if dt := v.get("detail-type"); dt != nil && dt.kind != 'n' && dt.kind != '"' {
		return Record{}, "field"
	}
	return refFields(v)
}

func refFields(v *node) (Record, string) {
	var r Record
	bad := false
	str := func(v *node, name string, dst *string) {
		f := v.get(name)
		switch {
		case f == nil || f.kind == 'n':
		case f.kind == '"':
			*dst = f.str
		default:
			bad = true
		}
	}
	obj := func(v *node, name string) *node {
		f := v.get(name)
		switch {
		case f == nil || f.kind == 'n':
			return nil
		case f.kind == '{':
			return f
		}
		bad = true
		return nil
	}
	boolean := func(name string, dst *bool) {
		f := v.get(name)
		switch {
		case f == nil || f.kind == 'n' || f.kind == 'f':
		case f.kind == 't':
			*dst = true
		default:
			bad = true
		}
	}
	for name, dst := range map[string]*string{
		"eventVersion": &r.EventVersion, "eventID": &r.EventID, "eventTime": &r.EventTime, "eventSource": &r.EventSource,
		"eventName": &r.EventName, "eventType": &r.EventType, "eventCategory": &r.EventCategory, "awsRegion": &r.AWSRegion,
		"sourceIPAddress": &r.SourceIPAddress, "userAgent": &r.UserAgent, "errorCode": &r.ErrorCode, "errorMessage": &r.ErrorMessage,
		"recipientAccountId": &r.RecipientAccountID, "sharedEventID": &r.SharedEventID, "vpcEndpointId": &r.VPCEndpointID,
		"vpcEndpointAccountId": &r.VPCEndpointAccountID,
	} {
		str(v, name, dst)
	}
	boolean("readOnly", &r.ReadOnly)
	boolean("managementEvent", &r.ManagementEvent)
	if u := obj(v, "userIdentity"); u != nil {
		r.HasUserIdentity = true
		id := &r.UserIdentity
		for name, dst := range map[string]*string{
			"type": &id.Type, "principalId": &id.PrincipalID, "arn": &id.ARN, "accountId": &id.AccountID,
			"accessKeyId": &id.AccessKeyID, "userName": &id.UserName, "invokedBy": &id.InvokedBy,
		} {
			str(u, name, dst)
		}
		if sc := obj(u, "sessionContext"); sc != nil {
			if si := obj(sc, "sessionIssuer"); si != nil {
				str(si, "arn", &id.SessionIssuerARN)
			}
		}
	}
	if p := obj(v, "requestParameters"); p != nil {
		str(p, "bucketName", &r.Bucket)
		str(p, "key", &r.Key)
		str(p, "x-amz-create-session-mode", &r.SessionMode)
	}
	if re := obj(v, "responseElements"); re != nil {
		if c := obj(re, "credentials"); c != nil {
			str(c, "accessKeyId", &r.SessionAccessKeyID)
		}
	}
	if a := obj(v, "additionalEventData"); a != nil {
		str(a, "availabilityZone", &r.AvailabilityZone)
		str(a, "sessionModeApplied", &r.SessionModeApplied)
	}
	var resBucket string
	switch res := v.get("resources"); {
	case res == nil || res.kind == 'n':
	case res.kind != '[':
		bad = true
	default:
		for _, e := range res.elems {
			if e.kind != '{' {
				bad = true
				continue
			}
			var typ, arn string
			str(e, "type", &typ)
			str(e, "ARN", &arn)
			if e.get("type") == nil || e.get("ARN") == nil {
				continue
			}
			switch typ {
			case "AWS::S3Express::DirectoryBucket":
				if resBucket == "" {
					resBucket = BucketFromARN(arn)
				}
				if r.BucketAccount == "" {
					r.BucketAccount = BucketAccountFromARN(arn)
				}
			case "AWS::S3::AccessPoint":
				if r.AccessPoint == "" {
					r.AccessPoint = AccessPointFromARN(arn)
				}
			}
		}
	}
	if r.Bucket == "" || strings.HasSuffix(r.Bucket, "--xa-s3") || strings.Contains(r.Bucket, ":accesspoint/") {
		r.Bucket = resBucket
	}
	if bad {
		return Record{}, "field"
	}
	return r, ""
}

// refItems is what a stream must yield for complete top-level values.
func refItems(in []byte, values []*node) []string {
	var out []string
	line := func(off int64) int { return 1 + bytes.Count(in[:off], newline) }
	// An SQS message is read for its body wherever it stands: in a
	// batch, in an array, or on its own (a dead-letter queue dump).
	one := func(loc string, v *node) {
		r, e := refRecord(v)
		if e == "" && r.EventSource == sqsSource {
			loc += "/body"
			body := v.get("body")
			if body == nil || body.kind != '"' {
				e = "no body"
			} else if bv, ok := refValue([]byte(body.str)); !ok {
				e = "syntax"
			} else {
				r, e = refRecord(bv)
			}
		}
		out = append(out, describe(loc, r, e))
	}
	for _, v := range values {
		var elems []*node
		switch {
		case v.kind == '[':
			elems = v.elems
		case v.kind == '{' && v.get("Records") != nil && v.get("Records").kind == '[':
			elems = v.get("Records").elems
		default:
			one(":"+strconv.Itoa(line(v.start)), v)
			continue
		}
		for i, e := range elems {
			one(fmt.Sprintf(":%d#%d", line(e.start), i), e)
		}
	}
	return out
}

func describe(loc string, r Record, e string) string {
	if e != "" {
		return loc + " !" + e
	}
	return fmt.Sprintf("%s %+v", loc, r)
}

// streamItems is what the stream yields, described as refItems describes
// it, up to its first syntax error (broken is then set).
func streamItems(t *testing.T, r io.Reader) (out []string, broken bool) {
	s, err := NewStream(r)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	for n := 0; ; n++ {
		it, ok := s.Next(&rec)
		if !ok {
			return out, false
		}
		if n > 1e6 {
			t.Fatal("stream does not end")
		}
		loc := string(it.AppendLocation(nil, ""))
		var syn *SyntaxError
		switch {
		case it.Err == nil:
			out = append(out, describe(loc, rec, ""))
		case errors.As(it.Err, &syn) && it.Body:
			out = append(out, describe(loc, rec, "syntax"))
		case errors.As(it.Err, &syn) || it.Err == errOversize:
			return out, true
		case strings.HasPrefix(it.Err.Error(), "want a JSON object"):
			out = append(out, describe(loc, rec, "not an object"))
		case strings.HasPrefix(it.Err.Error(), "SQS message without a body"):
			out = append(out, describe(loc, rec, "no body"))
		default:
			var fe *FieldError
			if !errors.As(it.Err, &fe) {
				t.Fatalf("unexpected error %T: %v", it.Err, it.Err)
			}
			out = append(out, describe(loc, rec, "field"))
		}
	}
}

// differential checks one input both ways: as one value (Decode) and as a
// stream.
func differential(t *testing.T, in []byte) {
	if len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b {
		return // read as gzip
	}
	// One value.
	r, err := DecodeEvent(in)
	var syn *SyntaxError
	if v, ok := refValue(in); !ok {
		if !errors.As(err, &syn) {
			t.Fatalf("Decode accepts what the reference rejects: %q (record %+v, error %v)", in, r, err)
		}
	} else {
		want, e := refRecord(v)
		switch {
		case errors.As(err, &syn):
			t.Fatalf("Decode rejects what the reference accepts: %q: %v", in, err)
		case e != "" && err == nil:
			t.Fatalf("Decode reads %+v where the reference finds a %s error: %q", *r, e, in)
		case e == "" && err != nil:
			t.Fatalf("Decode fails (%v) where the reference reads %+v: %q", err, want, in)
		case e == "" && *r != want:
			t.Fatalf("Decode reads\n %+v\nthe reference\n %+v\nin %q", *r, want, in)
		}
	}
	// A stream. A byte order mark is allowed at the start; jsontext
	// rejects it.
	refIn := bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))
	values, ok := refRead(refIn)
	want := refItems(refIn, values)
	for _, how := range []struct {
		name string
		r    io.Reader
	}{{"whole", bytes.NewReader(in)}, {"one byte at a time", iotest.OneByteReader(bytes.NewReader(in))}} {
		got, broken := streamItems(t, how.r)
		switch {
		case ok && broken:
			t.Fatalf("%s: the stream finds a syntax error where the reference reads all of %q\n got %q\nwant %q", how.name, in, got, want)
		case !ok && !broken:
			t.Fatalf("%s: the stream finds no syntax error in %q\n got %q\nwant a prefix %q", how.name, in, got, want)
		case ok && strings.Join(got, "\n") != strings.Join(want, "\n"):
			t.Fatalf("%s: %q:\n got %q\nwant %q", how.name, in, got, want)
		case !ok && (len(got) < len(want) || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n")):
			t.Fatalf("%s: before the error in %q:\n got %q\nwant %q", how.name, in, got, want)
		}
	}
}

// seeds are every case of the tests above.
func seeds() [][]byte {
	var out [][]byte
	for _, tt := range streamTests {
		out = append(out, []byte(tt.in))
	}
	for _, tt := range framingTests {
		if len(tt.in) < 10000 { // not the container past maxMembers
			out = append(out, []byte(tt.in))
		}
	}
	for _, tt := range strictTests {
		if len(tt.in) < 1000 {
			out = append(out, []byte(tt.in))
		}
	}
	for _, s := range []string{recA, recB, envC, recD, indent0, `{}`, `[]`, `{"userIdentity":null}`, `{"Records":[]}`,
		`{"eventName":"CreateSession","userIdentity":{"sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/p/r"}}},"requestParameters":{"x-amz-create-session-mode":"ReadOnly"},"responseElements":{"credentials":{"accessKeyId":"ASIA1","expiration":"x"}}}`,
		`{"responseElements":null} {"responseElements":{"credentials":null}} {"responseElements":{"credentials":{"accessKeyId":null}}} {"responseElements":{"credentials":{"accessKeyId":1}}} {"responseElements":[]}`,
		`{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:r:1:bucket/x"},{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:r:1:accesspoint/a--use1-az4--xa-s3"}]}`,
		`{"requestParameters":{"bucketName":"a--use1-az4--xa-s3"},"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:r:1:bucket/x"},{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:r:1:accesspoint/a--use1-az4--xa-s3"}]}`,
		`"\ud83d\ude00" "\u00e9" "é" "\/\b\f\n\r\t"`, `-0.5e+10 1E-2 0 true false null`, "\xef\xbb\xbf[1]"} {
		out = append(out, []byte(s))
	}
	return out
}

func FuzzDifferential(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(differential)
}

// TestDifferential is the property test: the seeds and, from them, inputs
// cut, spliced and mutated at random (deterministically), toward the
// places where readers differ.
func TestDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	seeds := seeds()
	tokens := []string{`"`, `\`, `\u`, `\ud800`, `\udc00`, `{`, `}`, `[`, `]`, `,`, `:`, "\n", " ", `null`, `0`, `-`, `.`, `e`,
		`"eventSource"`, `"s3express.amazonaws.com"`, `"aws:sqs"`, `"body"`, `"Records"`, `"detail"`, `"detail-type"`,
		`"userIdentity"`, `"arn"`, `"responseElements"`, `"credentials"`, `"accessKeyId"`, `"resources"`, `"requestParameters"`, `"bucketName"`, "\xff", "\xc3\xa9", "\t", "\x00"}
	n := 5000
	if testing.Short() {
		n = 1000
	}
	for i := range n {
		in := append([]byte(nil), seeds[rng.IntN(len(seeds))]...)
		for range 1 + rng.IntN(3) {
			at := 0
			if len(in) > 0 {
				at = rng.IntN(len(in) + 1)
			}
			switch rng.IntN(5) {
			case 0: // insert a token
				in = append(in[:at], append([]byte(tokens[rng.IntN(len(tokens))]), in[at:]...)...)
			case 1: // delete a few bytes
				in = append(in[:at], in[min(len(in), at+1+rng.IntN(4)):]...)
			case 2: // cut
				in = in[:at]
			case 3: // splice another seed in
				other := seeds[rng.IntN(len(seeds))]
				in = append(in[:at], append(append([]byte(nil), other...), in[at:]...)...)
			case 4: // duplicate a stretch
				end := min(len(in), at+rng.IntN(40))
				in = append(in[:end], append(append([]byte(nil), in[at:end]...), in[end:]...)...)
			}
		}
		if !t.Run(strconv.Itoa(i), func(t *testing.T) { differential(t, in) }) {
			t.Fatalf("input %q", in)
		}
	}
}

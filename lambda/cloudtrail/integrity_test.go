package cloudtrail

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Issue 7's observations, each as it was reported, and what the reader
// must yield instead. Every case is read whole, one byte at a time and
// gzip-compressed.

const recD = `{"eventID":"d","eventSource":"s3express.amazonaws.com","eventName":"PutObject"}`

// indent0 is {"Records":[recA-like, recB-like]} as Python's json.dumps(...,
// indent=0) writes it (Go's json.MarshalIndent with an empty indent too).
const indent0 = "{\n\"Records\": [\n{\n\"eventID\": \"a\",\n\"n\": {\n\"x\": [\n1,\n{\n\"y\": 2\n}\n]\n}\n},\n{\n\"eventID\": \"b\"\n}\n]\n}"

var framingTests = []struct {
	name, in string
	want     []string
}{
	// A line cut inside a string made every following line disappear
	// until the next escaped quote.
	{"line cut inside a string", `{"eventID":"x","eventName":"Get` + "\n" + recB + "\n" + recD + "\n" + `{"eventID":"e\"q"}`,
		[]string{"!control character 0x0a in string@:1", "b@:2", "d@:3", `e"q@:4`}},
	// A broken element inside a Records array dropped the rest of the file.
	{"broken element in Records", `{"Records":[` + recA + `,{"eventID":"x","n":1.2.3},` + recB + "]}",
		[]string{"a@:1#0", "!line 1, byte 317: invalid character '.' after an object member@:1#1", "b@:1#2"}},
	{"broken element in an array", "[" + recA + `,{"eventID":"x","s":"\q"},` + recB + "]\n" + recD,
		[]string{"a@:1#0", `!invalid escape 'q' in string@:1#1`, "b@:1#2", "d@:2"}},
	{"broken scalar element", `[1.2.3,` + recB + `,tru,` + recD + "]",
		// As a strict reader reads it: 1.2, then a broken element .3
		[]string{"!want a JSON object, got number@:1#0", "!after an array element@:1#1", "b@:1#2", "!invalid literal (want true)@:1#3", "d@:1#4"}},
	{"trailing comma in Records", `{"Records":[` + recA + ",]}",
		[]string{"a@:1#0", "!trailing comma before ']'@:1#1"}},
	// Recovery assumed the next line started with '{': an indented line
	// was lost.
	{"indented line after a broken one", `{"eventID":"x","eventSource":` + "\n  " + recB + "\n\t" + recD,
		// The strict reader takes line 2 as the value of eventSource and
		// breaks on line 3; reading resumes on line 2.
		[]string{"!line 3, byte 106: invalid character '{' after an object member@:1", "b@:2", "d@:3"}},
	// Valid pretty-printed JSON (indent=0) was split into fragments.
	{"indent=0 log file", indent0, []string{"a@:3#0", "b@:14#1"}},
	{"indent=0 records", "{\n\"eventID\": \"a\",\n\"userIdentity\": {\n\"type\": \"Root\"\n}\n}\n{\n\"eventID\": \"b\"\n}\n",
		[]string{"a@:1", "b@:7"}},
	{"indent=0 record with resources", "{\n\"eventID\": \"a\",\n\"resources\": [\n{\n\"type\": \"AWS::S3Express::DirectoryBucket\",\n\"ARN\": \"arn:aws:s3express:r:1:bucket/b\"\n}\n]\n}\n" + recB,
		[]string{"a@:1", "b@:10"}},
	// A scalar before an object on the same line dropped the object.
	{"scalar before an object", `7 ` + recA + ` "s"` + recB + `null`,
		[]string{"!want a JSON object, got number@:1", "a@:1", "!want a JSON object, got string@:1", "b@:1", "!want a JSON object, got null@:1"}},
	// Records not the first key: one value, one invalid, no record read.
	{"Records not first", `{"note":1,"Records":[` + recA + "," + recB + `],"more":{"x":[1]}}`, []string{"a@:1#0", "b@:1#1"}},
	{"Records last of many", `{"a":{"Records":[1]},"b":"Records","Records":[` + recA + `]}` + "\n" + recD, []string{"a@:1#0", "d@:2"}},
	{"Records twice", `{"Records":[` + recA + `],"Records":[` + recB + "]}\n" + recD,
		[]string{"a@:1#0", `!duplicate name "Records"@:1`, "d@:2"}},
	// Found by FuzzDifferential: the Records array's count stood for the
	// container's, so an empty Records let a trailing comma through.
	{"trailing comma after empty Records", `{"Records":[],}` + "\n" + recD, []string{"!trailing comma before '}'@:1", "d@:2"}},
	{"trailing comma after Records", `{"Records":[` + recA + `],}`, []string{"a@:1#0", "!trailing comma before '}'@:1"}},
	{"too many members", `{"Records":[` + recA + "]," + manyNames(maxMembers) + "}\n" + recD,
		[]string{"a@:1#0", "!more than 10000 members@:1", "d@:2"}},
	{"Records not an array", `{"Records":{"eventID":"x"},"eventID":"r"}`, []string{"r@:1"}},
	{"container broken after Records", `{"Records":[` + recA + `],"x":01}` + "\n" + recD, []string{"a@:1#0", "!@:1", "d@:2"}},
	// FILE#INDEX could not tell two arrays in one file apart.
	{"two arrays on two lines", "[" + recA + "]\n" + `{"Records":[` + recB + "]}", []string{"a@:1#0", "b@:2#0"}},
	// A broken container member resumes at the next line that starts a
	// value, not inside the Records already read.
	{"broken value spanning lines", "{\"eventID\":\"x\",\n\"a\": tru,\n\"b\": 1\n}\n" + recB, []string{"!invalid literal@:1", "b@:5"}},
	{"garbage lines skipped to a value", recA + "\n}\n,\n\"x\"\n  [" + recB + "]", []string{"a@:1", "!@:2", "b@:5#0"}},
	{"stray closers", "]]" + recA + "\n" + recB, []string{"!@:1", "b@:2"}},
	// SQS batches (a DLQ dump) were ignored.
	{"SQS batch", sqsBatch(envC, `{"eventID":"bare","eventSource":"s3express.amazonaws.com"}`, `{"eventID":`),
		[]string{"c@:1#0/body", "bare@:1#1/body", "!malformed JSON at line 1, byte 11: input ends inside a value@:1#2/body"}},
	{"SQS message without body", `{"Records":[{"messageId":"m","eventSource":"aws:sqs"}]}`, []string{"!SQS message without a body@:1#0/body"}},
	{"SQS body of the wrong type", `{"Records":[{"messageId":"m","eventSource":"aws:sqs","body":{}}]}`, []string{"!SQS message without a body@:1#0/body"}},
}

// sqsBatch is an SQS event holding bodies, as the function receives it.
func sqsBatch(bodies ...string) string {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i, body := range bodies {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"messageId":"m` + strconv.Itoa(i) + `","receiptHandle":"h","body":` + strconv.Quote(body) +
			`,"attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{},"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:111122223333:q","awsRegion":"us-east-1"}`)
	}
	b.WriteString("]}")
	return b.String()
}

func TestFraming(t *testing.T) {
	for _, tt := range framingTests {
		t.Run(tt.name, func(t *testing.T) { checkStream(t, tt.in, tt.want) })
	}
}

// strictTests: values a strict reader rejects (RFC 8259, RFC 7493) are
// invalid, with the reason; fields of the wrong type too. Python and jq
// read duplicate names last-wins: a record they call unauthorized was
// allowed when its first bucketName or arn was an allowed one.
var strictTests = []struct{ name, in, want string }{
	{"duplicate eventSource", `{"eventSource":"s3.amazonaws.com","eventSource":"s3express.amazonaws.com"}`, `byte 34: duplicate name "eventSource"`},
	{"duplicate escaped name", `{"eventName":"a","event\u004eame":"b"}`, `duplicate name "eventName"`},
	{"duplicate detail", `{"detail-type":"x","detail":{"eventID":"a"},"detail":{"eventID":"b"}}`, `duplicate name "detail"`},
	{"duplicate userIdentity", `{"userIdentity":{"arn":"a"},"userIdentity":{"arn":"b"}}`, `duplicate name "userIdentity"`},
	{"duplicate userIdentity.arn", `{"userIdentity":{"arn":"a","type":"x","arn":"b"}}`, `duplicate name "arn"`},
	{"duplicate bucketName", `{"requestParameters":{"bucketName":"a","bucketName":"b"}}`, `duplicate name "bucketName"`},
	{"duplicate requestParameters", `{"requestParameters":{"bucketName":"a"},"requestParameters":{"bucketName":"b"}}`, `duplicate name "requestParameters"`},
	{"duplicate resources ARN", `{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:r:1:bucket/a","ARN":"arn:aws:s3express:r:1:bucket/b"}]}`, `duplicate name "ARN"`},
	{"duplicate deep", `{"x":[{"y":{"z":1,"z":2}}]}`, `duplicate name "z"`},
	{"duplicate in a large object", `{` + manyNames(100) + `,"k7":1}`, `duplicate name "k7"`},
	{"invalid escape", `{"eventName":"Get\qObject"}`, `invalid escape 'q'`},
	{"invalid escape in a skipped field", `{"x":"\x41"}`, `invalid escape 'x'`},
	{`short \u escape`, `{"x":"\u12"}`, `invalid escape \u`},
	{"raw control character", "{\"eventName\":\"Get\tObject\"}", `control character 0x09`},
	{"raw newline", "{\"eventName\":\"Get\nObject\"}", `control character 0x0a`},
	{"invalid UTF-8", "{\"eventName\":\"Get\xffObject\"}", `invalid UTF-8`},
	{"UTF-8 surrogate", "{\"x\":\"\xed\xa0\x80\"}", `invalid UTF-8`},
	{"overlong UTF-8", "{\"x\":\"\xc0\xaf\"}", `invalid UTF-8`},
	{"lone high surrogate", `{"eventName":"\ud800"}`, `lone surrogate \ud800`},
	{"lone low surrogate", `{"eventName":"\udc00x"}`, `lone surrogate \udc00`},
	{"reversed surrogates", `{"x":"\udc00\ud800"}`, `lone surrogate \udc00`},
	{"high surrogate then letter", `{"x":"\ud800\u0041"}`, `lone surrogate \ud800`},
	{"number 1.2.3", `{"x":1.2.3}`, `invalid character '.' after an object member`},
	{"number 0123", `{"x":0123}`, `invalid character '1' after an object member`},
	{"number NaN", `{"x":NaN}`, `invalid character 'N' at the start of a value`},
	{"number 1.", `{"x":1.}`, `malformed number`},
	{"number -", `{"x":-}`, `malformed number`},
	{"number +1", `{"x":+1}`, `invalid character '+'`},
	{"number .5", `{"x":.5}`, `invalid character '.'`},
	{"number 1e", `{"x":1e}`, `malformed number`},
	{"trailing comma in object", `{"eventID":"a",}`, `trailing comma before '}'`},
	{"trailing comma in array", `{"x":[1,]}`, `trailing comma before ']'`},
	{"single quotes", `{'eventID':'a'}`, `invalid character '\''`},
	{"comment", `{"eventID":"a"/*x*/}`, `invalid character '/'`},
	{"deep nesting", strings.Repeat(`{"x":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1), `nesting deeper than 10000`},
	{"data after the value", `{"eventID":"a"} x`, `invalid character 'x' after the value`},
	{"two values", `{"eventID":"a"}{}`, `invalid character '{' after the value`},
	// Fields of the wrong type.
	{"requestParameters a string", `{"requestParameters":"{\"bucketName\":\"b\"}"}`, `requestParameters: want an object, got string`},
	{"resources an object", `{"resources":{"type":"AWS::S3Express::DirectoryBucket"}}`, `resources: want an array, got object`},
	{"resources element a string", `{"resources":["arn:aws:s3express:r:1:bucket/b"]}`, `resources[0]: want an object, got string`},
	{"resources ARN a number", `{"resources":[{"type":"x"},{"ARN":7}]}`, `resources[1].ARN: want a string, got number`},
	{"readOnly a string", `{"readOnly":"true"}`, `readOnly: want a boolean, got string`},
	{"managementEvent a number", `{"managementEvent":0}`, `managementEvent: want a boolean, got number`},
	{"userIdentity an array", `{"userIdentity":[]}`, `userIdentity: want an object, got array`},
	{"userIdentity.arn an object", `{"userIdentity":{"arn":{"x":1}}}`, `userIdentity.arn: want a string, got object`},
	{"sessionContext a string", `{"userIdentity":{"sessionContext":"x"}}`, `userIdentity.sessionContext: want an object, got string`},
	{"sessionIssuer a number", `{"userIdentity":{"sessionContext":{"sessionIssuer":1}}}`, `userIdentity.sessionContext.sessionIssuer: want an object, got number`},
	{"sessionIssuer.arn a bool", `{"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":true}}}}`, `userIdentity.sessionContext.sessionIssuer.arn: want a string, got boolean`},
	{"additionalEventData an array", `{"additionalEventData":["use1-az4"]}`, `additionalEventData: want an object, got array`},
	{"availabilityZone a number", `{"additionalEventData":{"availabilityZone":4}}`, `additionalEventData.availabilityZone: want a string, got number`},
	{"bucketName an array", `{"requestParameters":{"bucketName":["a","b"]}}`, `requestParameters.bucketName: want a string, got array`},
	{"detail-type a number", `{"detail-type":1,"detail":{}}`, `detail-type: want a string, got number`},
	{"detail an array", `{"detail-type":"x","detail":[]}`, `detail: want an object, got array`},
	{"detail's field", `{"detail-type":"x","detail":{"eventName":1}}`, `eventName: want a string, got number`},
}

func manyNames(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":0`)
	}
	return b.String()
}

func TestStrict(t *testing.T) {
	for _, tt := range strictTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error with %q", err, tt.want)
			}
			if strings.Contains(tt.want, "after the value") {
				return // in a stream, more values may follow
			}
			// In a stream: the same error, and the next value still read.
			got := readAll(t, strings.NewReader(tt.in+"\n"+recB))
			want := "b@:" + strconv.Itoa(2+strings.Count(tt.in, "\n"))
			if len(got) != 2 || !strings.Contains(got[0], tt.want) || got[1] != want {
				t.Errorf("stream: got %q", got)
			}
		})
	}
}

// Null means absent; an envelope's own fields do not count.
func TestNullAndEnvelope(t *testing.T) {
	for in, want := range map[string]Record{
		`{"eventID":"n","userIdentity":null,"requestParameters":null,"resources":null,"readOnly":null,"eventName":null,"additionalEventData":null}`: {EventID: "n"},
		`{"userIdentity":{"sessionContext":null,"arn":null}}`:                                           {HasUserIdentity: true},
		`{"userIdentity":{"sessionContext":{"sessionIssuer":null}}}`:                                    {HasUserIdentity: true},
		`{"detail":null,"detail-type":"x","eventID":"top"}`:                                             {EventID: "top"},
		`{"detail":{"eventID":"in"},"detail-type":null,"eventID":"top"}`:                                {EventID: "top"},
		`{"detail":{"eventID":"in"},"eventID":"top"}`:                                                   {EventID: "top"},
		`{"resources":["x"],"detail":{"eventID":"in"},"version":"0","detail-type":"y"}`:                 {EventID: "in", Envelope: Envelope{DetailType: "y"}, FromEventBridge: true},
		`{"detail":{"eventID":"in","detail":{"eventID":"deeper"},"detail-type":"z"},"detail-type":"y"}`: {EventID: "in", Envelope: Envelope{DetailType: "y"}, FromEventBridge: true},
		`{"source":"aws.s3express","account":"1","region":"r","detail":{"eventID":"in","source":"x"},"detail-type":"y"}`: {
			EventID: "in", Envelope: Envelope{Source: "aws.s3express", Account: "1", Region: "r", DetailType: "y"}, FromEventBridge: true},
		`{"source":7,"eventID":"bare"}`: {EventID: "bare"},
	} {
		r, err := DecodeEvent([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if *r != want {
			t.Errorf("%s:\n got %+v\nwant %+v", in, *r, want)
		}
	}
}

func TestResources(t *testing.T) {
	const ap = `{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:us-east-1:111122223333:accesspoint/reports--use1-az4--xa-s3"}`
	const bucket = `{"accountId":"111122223333","type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3"}`
	const object = `{"type":"AWS::S3Express::Object","ARNPrefix":"arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3/k"}`
	for in, want := range map[string][2]string{
		`{"resources":[` + object + "," + bucket + "," + ap + `]}`:                                                                                                                {"b--use1-az4--x-s3", "reports--use1-az4--xa-s3"},
		`{"resources":[` + ap + `]}`:                                                                                                                                              {"", "reports--use1-az4--xa-s3"},
		`{"resources":[{"ARN":"arn:aws:s3express:r:1:bucket/x","type":"AWS::S3Express::DirectoryBucket"}]}`:                                                                       {"x", ""},
		`{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:r:1:bucket/x/y"},` + bucket + `]}`:                                                      {"b--use1-az4--x-s3", ""},
		`{"resources":[` + bucket + `],"requestParameters":{"bucketName":"named"}}`:                                                                                               {"named", ""},
		`{"requestParameters":{"bucketName":"named"},"resources":[` + bucket + `]}`:                                                                                               {"named", ""},
		`{"resources":[{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:r:1:accesspoint/"}]}`:                                                                              {"", ""},
		`{"resources":[{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3:r:1:accesspoint/x"}]}`:                                                                                    {"", ""},
		`{"resources":[{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:r:1:bucket/x"}]}`:                                                                                  {"", ""},
		`{"resources":[{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:r:1:accesspoint/a"},{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:r:1:accesspoint/b"}]}`: {"", "a"},
		// Through an access point, bucketName may name the access point:
		// the bucket reached (and quarantined) is the resources one.
		`{"requestParameters":{"bucketName":"reports--use1-az4--xa-s3"},"resources":[` + object + "," + bucket + "," + ap + `]}`:                                       {"b--use1-az4--x-s3", "reports--use1-az4--xa-s3"},
		`{"resources":[` + bucket + "," + ap + `],"requestParameters":{"bucketName":"arn:aws:s3express:us-east-1:111122223333:accesspoint/reports--use1-az4--xa-s3"}}`: {"b--use1-az4--x-s3", "reports--use1-az4--xa-s3"},
		// Without the bucket's entry, the bucket is unknown.
		`{"requestParameters":{"bucketName":"reports--use1-az4--xa-s3"},"resources":[` + ap + `]}`:          {"", "reports--use1-az4--xa-s3"},
		`{"requestParameters":{"bucketName":"reports--use1-az4--xa-s3"}}`:                                   {"", ""},
		`{"requestParameters":{"bucketName":"b--use1-az4--x-s3"},"resources":[` + ap + `]}`:                 {"b--use1-az4--x-s3", "reports--use1-az4--xa-s3"},
		`{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:r:1:b\u002fx"}]}`: {"", ""},
	} {
		r, err := DecodeEvent([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if r.Bucket != want[0] || r.AccessPoint != want[1] {
			t.Errorf("%s: bucket %q, access point %q; want %q, %q", in, r.Bucket, r.AccessPoint, want[0], want[1])
		}
	}
}

// A record of under 8 MiB made of many small values cost about 2 GB (its
// parse tree); now reading it allocates about nothing beyond the stream's
// buffer, and names cost 16 bytes each while their object is read.
func TestManySmallValuesMemory(t *testing.T) {
	for name, in := range map[string]string{
		"array of zeros": `{"eventID":"m","x":[` + strings.Repeat("0,", 3<<20) + `0]}`,
		"nested arrays":  `{"eventID":"m","x":[` + strings.Repeat("[],", 2<<20) + `[]]}`,
		"many names":     `{"eventID":"m",` + manyNames(500_000) + `}`,
	} {
		if len(in) >= MaxValue {
			t.Fatalf("%s: %d bytes, over MaxValue", name, len(in))
		}
		compressed := gz(in + "\n" + recB)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got := readAll(t, bytes.NewReader(compressed))
		runtime.ReadMemStats(&after)
		if strings.Join(got, "|") != "m@:1|b@:2" {
			t.Errorf("%s: got %q", name, got)
		}
		// The buffer doubles from 256 KiB to 8 MiB (16 MiB in all); names
		// take 16 bytes each, their slice growing by a quarter at a time
		// (40 MiB in all for 8 MiB at the end).
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: %d MiB allocated for %d KiB of gzip", name, alloc>>20, len(compressed)>>10)
		}
	}
}

// Two trail files concatenated as gzip members (cat a.json.gz b.json.gz):
// their records are told apart by line.
func TestGzipMembers(t *testing.T) {
	in := append(gz(`{"Records":[`+recA+","+recB+"]}\n"), gz(`{"Records":[`+recD+","+recB+"]}\n")...)
	got := readAll(t, bytes.NewReader(in))
	want := []string{"a@:1#0", "b@:1#1", "d@:2#0", "b@:2#1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q; want %q", got, want)
	}
}

// The envelope fields the function trusts (source, account, region) are read
// as strictly as the record: a wrong type or a duplicate is never decided on.
func TestEnvelopeStrict(t *testing.T) {
	for in, want := range map[string]string{
		`{"detail-type":"y","detail":{},"account":7}`:                    "account: want a string",
		`{"detail-type":"y","detail":{},"region":["us-east-1"]}`:         "region: want a string",
		`{"detail-type":"y","detail":{},"account":"1","account":"2"}`:    `duplicate name "account"`,
		`{"detail-type":"y","detail":{},"source":"a","\u0073ource":"b"}`: `duplicate name "source"`,
	} {
		_, err := DecodeEvent([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v; want an error containing %q", in, err, want)
		}
	}
}

package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// plainRecord is a trail log file of one record with v in every field
// --format json writes (the access point in its ARN), as encoding/json
// escapes it.
func plainRecord(t testing.TB, v string) string {
	quote := func(v string) string {
		var b strings.Builder
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	return fmt.Sprintf(`{"Records":[{"eventID":%[1]s,"eventTime":%[1]s,"eventSource":%[1]s,"eventName":%[1]s,`+
		`"sourceIPAddress":%[1]s,"vpcEndpointId":%[1]s,"errorCode":%[1]s,`+
		`"userIdentity":{"type":%[1]s,"arn":%[1]s,"accountId":%[1]s},"requestParameters":{"bucketName":%[1]s},`+
		`"resources":[{"type":"AWS::S3::AccessPoint","ARN":%[2]s}]}]}`,
		quote(v), quote("arn:aws:s3express:us-east-1:111122223333:accesspoint/"+v))
}

// checkPlain reads log and writes its record as --format json twice: as
// the reader says it may (Item.Plain), and escaping every string. It
// returns the first and whether the record was plain.
func checkPlain(t testing.TB, log string) (string, bool) {
	s, err := cloudtrail.NewStream(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var r cloudtrail.Record
	it, ok := s.Next(&r)
	if !ok || it.Err != nil {
		t.Fatalf("%s: %v", log, it.Err)
	}
	d := rules.Decision{Verdict: rules.Unauthorized}
	fast, plain := string(appendJSON(nil, []byte(`"f"`), it, &r, d, nil)), it.Plain
	it.Plain = false
	if slow := string(appendJSON(nil, []byte(`"f"`), it, &r, d, nil)); fast != slow {
		t.Fatalf("record %q: written as plain:\n%s\nescaped:\n%s", log, fast, slow)
	}
	return fast, plain
}

// TestPlainJSON: a record the reader calls plain is written byte for byte
// as one written escaping every string, and only ASCII text without
// quotes, backslashes, controls or DEL is plain.
func TestPlainJSON(t *testing.T) {
	for _, tc := range []struct {
		v     string
		plain bool
	}{
		{"arn:aws:sts::111122223333:assumed-role/etl-export/job", true},
		{"", true},
		{"a~ !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}", true},
		{"del\x7f", false},
		{"quote\"", false},
		{`back\slash`, false},
		{"nul\x00", false},
		{"tab\t", false},
		{"caf\u00e9", false},
		{"nel\u0085", false},
		{"evil\u202egpj.exe", false},
		{"pile\U0001F4A9", false},
	} {
		out, plain := checkPlain(t, plainRecord(t, tc.v))
		if tc.plain && !strings.Contains(out, `"accessPoint":"`+tc.v+`"`) && tc.v != "" && !strings.Contains(tc.v, "/") {
			t.Errorf("%q: no access point in %s", tc.v, out)
		}
		if plain != tc.plain {
			t.Errorf("%q: plain %v; want %v", tc.v, plain, tc.plain)
		}
	}
	// \u0041 is "A", but escaped in the input: the reader does not
	// decode escapes to find out.
	if _, plain := checkPlain(t, `{"eventID":"\u0041","eventName":"GetObject"}`); plain {
		t.Errorf(`"\u0041": plain; want not plain`)
	}
}

// FuzzPlainJSON writes records of any text both ways.
func FuzzPlainJSON(f *testing.F) {
	for _, v := range []string{"plain", "del\x7f", "caf\u00e9", "nel\u0085", "q\"b\\", "\xff"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		checkPlain(t, plainRecord(t, v))
	})
}

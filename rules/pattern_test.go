package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEventPatternArtifact fails when rules/eventpattern.json, the pattern
// checked in for people who deploy by other means, is stale. Regenerate with
// S3XGUARD_UPDATE=1 go test ./rules -run TestEventPatternArtifact.
func TestEventPatternArtifact(t *testing.T) {
	got, err := EventPattern(nil)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if os.Getenv("S3XGUARD_UPDATE") == "1" {
		if err := os.WriteFile("eventpattern.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("eventpattern.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("rules/eventpattern.json is stale; run S3XGUARD_UPDATE=1 go test ./rules -run TestEventPatternArtifact\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestEventPattern(t *testing.T) {
	for _, tt := range []struct {
		buckets []string
		want    string // detail, compact JSON
		err     string
	}{
		{nil, `{"eventSource":["s3express.amazonaws.com"]}`, ""},
		{[]string{"*"}, `{"eventSource":["s3express.amazonaws.com"]}`, ""},
		{[]string{"a--use1-az4--x-s3", "logs-*--x-s3"}, `{"eventSource":["s3express.amazonaws.com"],"$or":[{"requestParameters":{"bucketName":["a--use1-az4--x-s3",{"wildcard":"logs-*--x-s3"},"",{"suffix":"--xa-s3"}]}},{"requestParameters":{"bucketName":[{"exists":false}]}}]}`, ""},
		{[]string{"plain-bucket"}, "", `bucket "plain-bucket": not a directory bucket name`},
		{[]string{"a?--use1-az4--x-s3"}, "", "EventBridge wildcards take '*' only"},
	} {
		b, err := EventPattern(tt.buckets)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("EventPattern(%q) error = %v; want %q", tt.buckets, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Source     []string        `json:"source"`
			DetailType []string        `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Source, []string{"aws.s3express"}) || !reflect.DeepEqual(p.DetailType, []string{"AWS API Call via CloudTrail"}) {
			t.Errorf("envelope filters: %s", b)
		}
		var got, want any
		json.Unmarshal(p.Detail, &got)
		json.Unmarshal([]byte(tt.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EventPattern(%q) detail = %s; want %s", tt.buckets, p.Detail, tt.want)
		}
	}
}

// TestEventPatternSize: a pattern EventBridge would refuse (over 2,048
// characters) is an error that gives the count, the size and the limit,
// and suggests a wildcard; the largest list that fits is accepted.
func TestEventPatternSize(t *testing.T) {
	name := func(i int) string { // 63 characters, the longest bucket name
		return fmt.Sprintf("b%02d-%s--use1-az4--x-s3", i, strings.Repeat("x", 63-len("b00---use1-az4--x-s3")))
	}
	var buckets []string
	for i := 0; ; i++ {
		b, err := EventPattern(append(buckets, name(i)))
		if err != nil {
			msg := err.Error()
			for _, want := range []string{fmt.Sprintf("for %d buckets", len(buckets)+1), "limit of 2048", "wildcard"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			break
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			t.Fatal(err)
		}
		if compact.Len() > MaxPatternChars {
			t.Fatalf("%d buckets: accepted a %d-character pattern", i+1, compact.Len())
		}
		buckets = append(buckets, name(i))
	}
	if len(buckets) < 20 {
		t.Errorf("only %d buckets of 63 characters fit", len(buckets))
	}
	t.Logf("%d buckets of 63 characters fit in a pattern", len(buckets))
}

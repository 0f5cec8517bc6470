package rules

import (
	"encoding/json"
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
		{[]string{"a--use1-az4--x-s3", "logs-*--x-s3"}, `{"eventSource":["s3express.amazonaws.com"],"requestParameters":{"bucketName":["a--use1-az4--x-s3",{"wildcard":"logs-*--x-s3"}]}}`, ""},
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

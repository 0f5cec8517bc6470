package stack

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/doctor"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/eventruler/corpus"
)

// The selectors are evaluated by lambda/doctor's evaluator, written from
// the CloudTrail documentation of the operators (see its selectors.go),
// the same one `s3xguard doctor` runs on a live account's trails.

// TestTrailLogsEveryDataEvent: the selectors the stack writes log every S3
// Express data event of the corpus on a guarded bucket (CreateSession,
// bucket calls and both ARN forms included), and nothing else: no
// management event, no other service, no data event of an unguarded bucket.
func TestTrailLogsEveryDataEvent(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	events, err := corpus.Load(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	empty, err := rules.Parse("empty.yaml", []byte("version: 1\nallow: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := corpus.Classify(events, empty)
	for _, guarded := range [][]string{nil, corpus.Buckets[:1], corpus.Buckets[:2], corpus.Buckets} {
		raw, err := json.Marshal(dataEventSelectors("aws", corpus.Region, corpus.Account, guarded))
		if err != nil {
			t.Fatal(err)
		}
		var sels []doctor.Selector
		if err := json.Unmarshal(raw, &sels); err != nil {
			t.Fatal(err)
		}
		var must, logged, noObject int
		var missed, extra []string
		for _, c := range cases {
			var env struct{ Detail doctor.Record }
			if err := json.Unmarshal(c.JSON, &env); err != nil {
				continue // a field of the wrong type: CloudTrail never writes one
			}
			r := &env.Detail
			got := doctor.Logs(sels, r)
			// The bucket as the trail sees it: in the object's ARN.
			var bucket string
			hasObject := false
			for _, res := range r.Resources {
				if res.Type == "AWS::S3Express::Object" {
					hasObject = true
					bucket = objectBucket(res.ARN + res.ARNPrefix)
				}
			}
			onGuarded := guarded == nil || slices.Contains(guarded, bucket)
			// The trail sees records, not EventBridge envelopes.
			s3xData := r.EventSource == "s3express.amazonaws.com" && r.EventCategory == "Data"
			switch {
			case s3xData && !hasObject:
				// Generated shapes the decoder must survive; CloudTrail
				// selects data events by their resource, which these lack.
				noObject++
			case s3xData && onGuarded:
				must++
				if got {
					logged++
				} else {
					missed = append(missed, c.Name)
				}
			case got:
				extra = append(extra, c.Name)
			}
		}
		t.Logf("buckets %q: %d of %d data events on guarded buckets logged (%d without an object resource left aside)", guarded, logged, must, noObject)
		if must == 0 {
			t.Errorf("buckets %q: no data event to check", guarded)
		}
		if len(missed) > 0 {
			t.Errorf("buckets %q: %d data events not logged:\n\t%s", guarded, len(missed), strings.Join(head(missed), "\n\t"))
		}
		if len(extra) > 0 {
			t.Errorf("buckets %q: %d events logged that should not be:\n\t%s", guarded, len(extra), strings.Join(head(extra), "\n\t"))
		}
	}
}

// objectBucket is the bucket of an S3 Express object ARN, in either form:
// arn:P:s3express:R:A:bucket/NAME[/KEY] or arn:P:s3express:R:A:NAME[/KEY].
func objectBucket(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "bucket/"), "/")
	return name
}

func head(l []string) []string {
	if len(l) > 10 {
		return append(l[:10:10], fmt.Sprintf("... and %d more", len(l)-10))
	}
	return l
}

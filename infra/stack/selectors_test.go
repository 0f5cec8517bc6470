package stack

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/eventruler/corpus"
)

// This file evaluates the trail's advanced event selectors, written from
// the CloudTrail documentation (there is no CloudTrail to ask offline):
//
//   - CloudTrail API Reference, AdvancedFieldSelector: Equals, StartsWith
//     and EndsWith include events whose field matches the value exactly, by
//     its first or its last characters; NotEquals, NotStartsWith and
//     NotEndsWith exclude them.
//   - CloudTrail user guide, "Filtering data events by using advanced event
//     selectors" (FACTS §5): the include operators of one field OR together,
//     the exclude operators AND together; every field selector of a
//     selector must match (AND); an event is logged when any selector
//     matches (OR). resources.type and resources.ARN are matched against
//     the event's resources: a resource of the selected type whose ARN
//     passes the resources.ARN condition. The logs write an S3 Express
//     object's ARN as ARNPrefix, and as ARN in access point requests (S3
//     user guide, "Monitoring and logging access points for directory
//     buckets"): both are the resource's ARN here.

type fieldSelector struct {
	Field                                 string
	Equals, StartsWith, EndsWith          []string
	NotEquals, NotStartsWith, NotEndsWith []string
}

type eventSelector struct {
	Name           string
	FieldSelectors []fieldSelector
}

// matches reports whether v passes one field selector.
func (f *fieldSelector) matches(v string) bool {
	include := len(f.Equals)+len(f.StartsWith)+len(f.EndsWith) == 0
	for _, x := range f.Equals {
		include = include || v == x
	}
	for _, x := range f.StartsWith {
		include = include || strings.HasPrefix(v, x)
	}
	for _, x := range f.EndsWith {
		include = include || strings.HasSuffix(v, x)
	}
	if !include {
		return false
	}
	for _, x := range f.NotEquals {
		if v == x {
			return false
		}
	}
	for _, x := range f.NotStartsWith {
		if strings.HasPrefix(v, x) {
			return false
		}
	}
	for _, x := range f.NotEndsWith {
		if strings.HasSuffix(v, x) {
			return false
		}
	}
	return true
}

// trailRecord is what the selectors read of a CloudTrail record.
type trailRecord struct {
	EventCategory string `json:"eventCategory"`
	EventName     string `json:"eventName"`
	EventSource   string `json:"eventSource"`
	EventType     string `json:"eventType"`
	ReadOnly      bool   `json:"readOnly"`
	UserIdentity  struct {
		ARN string `json:"arn"`
	} `json:"userIdentity"`
	Resources []struct {
		Type      string `json:"type"`
		ARN       string `json:"ARN"`
		ARNPrefix string `json:"ARNPrefix"`
	} `json:"resources"`
}

// logs reports whether the selectors log the record.
func logs(sels []eventSelector, r *trailRecord) bool {
	for _, s := range sels {
		if selects(&s, r) {
			return true
		}
	}
	return false
}

func selects(s *eventSelector, r *trailRecord) bool {
	var types, arns *fieldSelector
	for i := range s.FieldSelectors {
		f := &s.FieldSelectors[i]
		var v string
		switch f.Field {
		case "resources.type":
			types = f
			continue
		case "resources.ARN":
			arns = f
			continue
		case "eventCategory":
			v = r.EventCategory
		case "eventName":
			v = r.EventName
		case "eventSource":
			v = r.EventSource
		case "eventType":
			v = r.EventType
		case "readOnly":
			v = fmt.Sprint(r.ReadOnly)
		case "userIdentity.arn":
			v = r.UserIdentity.ARN
		default:
			panic("selector field " + f.Field + " not modelled")
		}
		if !f.matches(v) {
			return false
		}
	}
	if types == nil {
		return arns == nil
	}
	for _, res := range r.Resources {
		arn := res.ARN
		if arn == "" {
			arn = res.ARNPrefix
		}
		if types.matches(res.Type) && (arns == nil || arns.matches(arn)) {
			return true
		}
	}
	return false
}

func TestFieldSelectorOperators(t *testing.T) {
	for _, tt := range []struct {
		f    fieldSelector
		v    string
		want bool
	}{
		{fieldSelector{Equals: []string{"a", "b"}}, "b", true},
		{fieldSelector{Equals: []string{"a"}}, "ab", false},
		{fieldSelector{StartsWith: []string{"ar"}}, "arn", true},
		{fieldSelector{EndsWith: []string{"rn"}}, "arn", true},
		{fieldSelector{EndsWith: []string{"ar"}}, "arn", false},
		{fieldSelector{Equals: []string{"x"}, StartsWith: []string{"a"}}, "abc", true}, // includes OR
		{fieldSelector{NotEquals: []string{"a"}}, "b", true},
		{fieldSelector{NotEquals: []string{"a"}}, "a", false},
		{fieldSelector{NotStartsWith: []string{"a"}, NotEndsWith: []string{"z"}}, "bcz", false}, // excludes AND
		{fieldSelector{NotStartsWith: []string{"a"}, NotEndsWith: []string{"z"}}, "bcd", true},
		{fieldSelector{StartsWith: []string{"a"}, NotEndsWith: []string{"z"}}, "abz", false},
	} {
		if got := tt.f.matches(tt.v); got != tt.want {
			t.Errorf("%+v matches %q = %v; want %v", tt.f, tt.v, got, tt.want)
		}
	}
}

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
		var sels []eventSelector
		if err := json.Unmarshal(raw, &sels); err != nil {
			t.Fatal(err)
		}
		var must, logged, noObject int
		var missed, extra []string
		for _, c := range cases {
			var env struct{ Detail trailRecord }
			if err := json.Unmarshal(c.JSON, &env); err != nil {
				continue // a field of the wrong type: CloudTrail never writes one
			}
			r := &env.Detail
			got := logs(sels, r)
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

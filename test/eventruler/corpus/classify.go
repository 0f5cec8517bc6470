package corpus

import (
	"encoding/json"
	"path"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// Case is an event with what the function would make of it.
type Case struct {
	Event
	// S3Express: source aws.s3express, detail-type "AWS API Call via
	// CloudTrail" and detail.eventSource s3express.amazonaws.com, as every
	// S3 Express CloudTrail event on EventBridge has (FACTS §1).
	S3Express bool
	// Alerted: the decision (rules Decide over the decoded record, as check
	// and the function do) is unauthorized or invalid under at least one of
	// the allowlists.
	Alerted bool
	// Verdicts: the verdict under each allowlist, in order.
	Verdicts []rules.Verdict
	// Buckets the event touches: the decoder's bucket, a string
	// requestParameters.bucketName and the DirectoryBucket resource's.
	// Empty when none is known (the function must see those too).
	Buckets []string
	// Data: eventCategory Data (a data event, logged only by a trail's data
	// event selectors).
	Data bool
}

// OnGuarded reports whether the event touches a guarded bucket or no known
// bucket at all. guarded holds bucket names and globs ('*' only), or is
// empty for every bucket.
func (c *Case) OnGuarded(guarded []string) bool {
	if len(guarded) == 0 || len(c.Buckets) == 0 {
		return true
	}
	for _, b := range c.Buckets {
		for _, g := range guarded {
			if ok, _ := path.Match(g, b); ok {
				return true
			}
		}
	}
	return false
}

// Classify decodes each event as the function does and decides it under
// each allowlist.
func Classify(events []Event, allowlists ...*rules.Allowlist) []Case {
	out := make([]Case, len(events))
	for i, e := range events {
		c := Case{Event: e}
		var env struct {
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
			Detail     struct {
				EventSource       any             `json:"eventSource"`
				EventCategory     any             `json:"eventCategory"`
				RequestParameters json.RawMessage `json:"requestParameters"`
				Resources         json.RawMessage `json:"resources"`
			} `json:"detail"`
		}
		json.Unmarshal(e.JSON, &env) // fields of the wrong type stay empty
		d := env.Detail
		c.S3Express = env.Source == source && env.DetailType == DetailType && d.EventSource == cloudtrail.EventSource
		c.Data = d.EventCategory == "Data"
		rec, err := cloudtrail.DecodeEvent(e.JSON)
		for _, a := range allowlists {
			v := rules.Invalid
			if err == nil {
				v = a.Decide(rec).Verdict
			}
			c.Verdicts = append(c.Verdicts, v)
			if v == rules.Unauthorized || v == rules.Invalid {
				c.Alerted = true
			}
		}
		add := func(b string) {
			if b == "" {
				return
			}
			for _, x := range c.Buckets {
				if x == b {
					return
				}
			}
			c.Buckets = append(c.Buckets, b)
		}
		if err == nil {
			add(rec.Bucket)
		}
		var rp map[string]any
		json.Unmarshal(d.RequestParameters, &rp)
		if s, ok := rp["bucketName"].(string); ok {
			add(s)
		}
		var res []map[string]any
		json.Unmarshal(d.Resources, &res)
		for _, r := range res {
			if r["type"] == "AWS::S3Express::DirectoryBucket" {
				s, _ := r["ARN"].(string)
				add(cloudtrail.BucketFromARN(s))
			}
		}
		out[i] = c
	}
	return out
}

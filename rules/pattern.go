package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// Values of the EventBridge envelope for CloudTrail events from S3 Express.
const (
	EventBridgeSource     = "aws.s3express"
	EventBridgeDetailType = "AWS API Call via CloudTrail"
)

var (
	directoryBucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*--[a-z0-9-]+--x-s3$`)
	bucketGlobEndRE   = regexp.MustCompile(`^[a-z0-9*][a-z0-9.*-]*(--x-s3|\*)$`)
)

// MaxPatternChars is EventBridge's default limit on the size of an event
// pattern (Amazon EventBridge quotas, "Event pattern": 2,048 characters,
// adjustable). EventPattern fails rather than produce a larger one, so a
// deployment fails at synth, not half-way through CloudFormation.
const MaxPatternChars = 2048

// EventPattern returns the EventBridge rule pattern that selects the S3
// Express CloudTrail events s3xguard must see: all of them when buckets is
// empty, else those naming one of the buckets (globs become EventBridge
// wildcard filters). The allowlist is deliberately not folded into the
// pattern: the function must see allowed traffic too, to report events that
// are unreadable rather than drop them, and EventBridge cannot express the
// allowlist's CIDR exclusions (anything-but takes no cidr).
//
// With buckets, the pattern filters on requestParameters.bucketName, and
// also lets through every event whose bucketName is absent or empty (the
// decoder then takes the bucket from resources, or there is none: an
// AccessDenied without request parameters, ListDirectoryBuckets, an invalid
// record) and every event whose bucketName is an access point name
// (NAME--ZONEID--xa-s3). A few events of other buckets get through and
// are alerted; matching the resources ARN instead would triple the pattern
// per bucket, and a missed event on a guarded bucket is the worse error.
// test/eventruler proves the pattern against event-ruler, EventBridge's
// matcher, over the project's event corpus.
func EventPattern(buckets []string) ([]byte, error) {
	detail := map[string]any{"eventSource": []string{cloudtrail.EventSource}}
	if len(buckets) > 0 {
		var names []any
		for _, b := range buckets {
			if strings.Contains(b, "?") {
				return nil, fmt.Errorf("bucket %q: EventBridge wildcards take '*' only, not '?'", b)
			}
			if b != "*" && !directoryBucketRE.MatchString(b) && !(hasWildcard(b) && bucketGlobEndRE.MatchString(b)) {
				return nil, fmt.Errorf("bucket %q: not a directory bucket name (want BASE--AZID--x-s3)", b)
			}
			if b == "*" {
				names = nil
				break
			}
			if hasWildcard(b) {
				names = append(names, map[string]string{"wildcard": b})
			} else {
				names = append(names, b)
			}
		}
		if names != nil {
			// exists goes in a branch of its own: $or is the documented way
			// to combine it with other conditions on a field (EventBridge
			// user guide, "Content filtering": exists matching, $or).
			names = append(names, "", map[string]string{"suffix": accessPointSuffix})
			detail["$or"] = []any{
				map[string]any{"requestParameters": map[string]any{"bucketName": names}},
				map[string]any{"requestParameters": map[string]any{"bucketName": []any{map[string]bool{"exists": false}}}},
			}
		}
	}
	pattern := map[string]any{
		"source":      []string{EventBridgeSource},
		"detail-type": []string{EventBridgeDetailType},
		"detail":      detail,
	}
	compact, err := json.Marshal(pattern)
	if err != nil {
		return nil, err
	}
	if n := utf8.RuneCount(compact); n > MaxPatternChars {
		return nil, fmt.Errorf("event pattern for %d buckets is %d characters, over EventBridge's limit of %d: name the buckets with a wildcard (logs-*--x-s3), or guard all (\"*\")", len(buckets), n, MaxPatternChars)
	}
	return json.MarshalIndent(pattern, "", "  ")
}

// accessPointSuffix ends the name of every access point for directory
// buckets (S3 user guide, "Access points for directory buckets": names are
// NAME--ZONEID--xa-s3).
const accessPointSuffix = "--xa-s3"

package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

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

// EventPattern returns the EventBridge rule pattern that selects the S3
// Express CloudTrail events s3xguard must see: all of them when buckets is
// empty, else those naming one of the buckets (globs become EventBridge
// wildcard filters). The allowlist is deliberately not folded into the
// pattern: the function must see allowed traffic too, to report events that
// are unreadable rather than drop them, and EventBridge cannot express the
// allowlist's CIDR exclusions (anything-but takes no cidr).
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
			detail["requestParameters"] = map[string]any{"bucketName": names}
		}
	}
	pattern := map[string]any{
		"source":      []string{EventBridgeSource},
		"detail-type": []string{EventBridgeDetailType},
		"detail":      detail,
	}
	return json.MarshalIndent(pattern, "", "  ")
}

package handler

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/s3xguard/s3xguard/lambda/ownrole"
)

// ownWrite turns a bucket-policy write by the function's own role into an
// unauthorized alert unless it wrote a document the function computed
// (quarantine.VerifyOwnWrite). Reads pass. Only these rare events pay the
// state read, and the second parse of the input for the logged document.
func (h *Handler) ownWrite(ctx context.Context, c *classified, data []byte, log *slog.Logger) {
	if c.rule != ownrole.Rule || c.own == nil || h.Quarantine == nil {
		return
	}
	rec := c.own.Record
	if rec.EventName != "PutBucketPolicy" && rec.EventName != "DeleteBucketPolicy" {
		return
	}
	var ev struct {
		Detail struct {
			RequestParameters struct {
				BucketPolicy json.RawMessage `json:"bucketPolicy"`
			} `json:"requestParameters"`
		} `json:"detail"`
	}
	// classify decoded the same bytes strictly: this cannot fail on them.
	_ = json.Unmarshal(data, &ev)
	why, err := h.Quarantine.VerifyOwnWrite(ctx, rec.Bucket, rec.EventName == "DeleteBucketPolicy", ev.Detail.RequestParameters.BucketPolicy)
	if err != nil {
		why = "the function's own role changed the bucket policy and the change could not be verified: " + err.Error()
	}
	if why == "" {
		return
	}
	log.WarnContext(ctx, "the function's own role wrote a policy it did not compute", "bucket", rec.Bucket, "eventName", rec.EventName, "reason", why)
	c.own.Decision.Reasons = append(c.own.Decision.Reasons, why)
	c.alert, c.rule, c.own = c.own, "", nil
}

package handler

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/ownrole"
	"github.com/s3xguard/s3xguard/rules"
)

const (
	routeEvent = iota
	routeSQS
	routeSweep
)

// route tells an SQS batch and the scheduled sweep from everything else,
// which is one event (or one invalid input), judged by classify. It reads
// the payload with the strict reader first: a payload that is not strict
// JSON (a duplicate name anywhere, invalid UTF-8) is one input, reported
// as invalid, and never a batch or a sweep. Names are matched exactly, so
// a name in another case ("Source", "records") steers nothing: classify
// ignores it too. sq is the batch, for routeSQS.
func route(payload []byte) (r int, sq events.SQSEvent) {
	rec, err := cloudtrail.DecodeEvent(payload)
	switch {
	case err != nil:
		return routeEvent, sq
	case rec.FromEventBridge:
		// A forged sweep request does nothing but upkeep.
		if rec.Envelope.Source == "aws.events" && rec.Envelope.DetailType == "Scheduled Event" {
			return routeSweep, sq
		}
		return routeEvent, sq
	}
	if sq, ok := sqsBatch(payload); ok {
		return routeSQS, sq
	}
	return routeEvent, sq
}

// sqsBatch reads a payload the strict reader accepted as an SQS batch:
// a top-level "Records" array of messages, each an object whose
// eventSource is "aws:sqs", with a string messageId and body. Members are
// looked up by their exact names (encoding/json's struct decoding would
// take "records" or "MessageId" too, and the last of several); ok is
// false for anything else, which is then judged as one input.
func sqsBatch(payload []byte) (sq events.SQSEvent, ok bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(payload, &top) != nil {
		return sq, false
	}
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(top["Records"], &msgs) != nil || len(msgs) == 0 {
		return sq, false
	}
	sq.Records = make([]events.SQSMessage, len(msgs))
	for i, m := range msgs {
		var source string
		r := &sq.Records[i]
		if str(m, "eventSource", &source) != nil || source != "aws:sqs" ||
			str(m, "messageId", &r.MessageId) != nil || str(m, "body", &r.Body) != nil || str(m, "eventSourceARN", &r.EventSourceARN) != nil {
			return events.SQSEvent{}, false
		}
		r.EventSource = source
	}
	return sq, true
}

// str reads the string member name of m into dst; absent leaves it empty.
func str(m map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// What EventBridge puts on every S3 Express CloudTrail event (FACTS 1).
const (
	wantSource     = "aws.s3express"
	wantDetailType = "AWS API Call via CloudTrail"
)

// maxRaw bounds how much of an undecodable input an alert quotes.
const maxRaw = 512

// classified is one input, judged: an alert to send (nil when allowed or
// ignored), the class its dedup key names, and the decision's rule.
type classified struct {
	alert   *alert.Alert
	class   string
	rule    string
	ignored bool
	// rec is set only for a record that passed the envelope gate and that
	// the allowlist allowed or not (never for the function's own calls):
	// the only records the session step reads or indexes. draft is its
	// alert, made ready: for an allowed call, sent only if its session
	// moved.
	rec   *cloudtrail.Record
	draft *alert.Alert
	// own is the alert for a call of the function's own role, sent if it
	// wrote a policy the function did not compute.
	own *alert.Alert
}

// classify decides one input. Only a full EventBridge envelope of an S3
// Express CloudTrail event from the function's own account and region is
// decided by the allowlist and may be acted on; anything else that reaches
// the function was sent by someone allowed to invoke it or to write to its
// queue, and is alerted as forged, never quarantined.
func (h *Handler) classify(data []byte, input string) classified {
	a := &alert.Alert{Keys: h.Config.ObjectKeys, Input: input, Record: &cloudtrail.Record{},
		Guarded: alert.Place{Account: h.Config.AccountID, Region: h.Config.Region},
		Ops:     alert.Ops{StateTable: h.Config.StateTable, DenyPolicyARN: h.Config.IAMDenyPolicyARN, Bus: h.Config.AlertBus}}
	invalid := func(class, reason string) classified {
		a.Kind, a.Severity = alert.KindInvalid, alert.Medium
		a.Raw = string(data[:min(len(data), maxRaw)])
		a.Decision = rules.Decision{Verdict: rules.Invalid, Reasons: []string{reason}}
		a.ID = inputID(a.Record, data)
		return classified{alert: a, class: class}
	}
	forged := func(class, reason string) classified {
		a.Kind, a.Severity = alert.KindForged, alert.High
		a.Decision = rules.Decision{Verdict: rules.Invalid, Reasons: []string{reason}, Principal: rules.PrincipalOf(a.Record.UserIdentity)}
		a.ID = inputID(a.Record, data)
		return classified{alert: a, class: class}
	}

	if len(bytes.TrimSpace(data)) == 0 {
		return invalid("empty", "empty input")
	}
	// One strict read (the decoder check uses): a duplicate name or a
	// field of the wrong type, in the envelope or the record, is invalid.
	rec, err := cloudtrail.DecodeEvent(data)
	if err != nil {
		var se *cloudtrail.SyntaxError
		var fe *cloudtrail.FieldError
		switch {
		case errors.As(err, &se):
			return invalid("not-json", "malformed JSON: "+err.Error())
		case errors.As(err, &fe):
			return invalid("field:"+fe.Field, "cannot decode event: "+err.Error())
		}
		return invalid("not-object", err.Error())
	}
	a.Record = rec
	if !rec.FromEventBridge {
		if rec.EventSource != "" {
			return forged("bare-record", "a bare CloudTrail record, not an EventBridge event: only EventBridge delivers events to the guard")
		}
		return invalid("not-event", "neither an EventBridge event nor a CloudTrail record")
	}
	env := rec.Envelope
	for _, c := range []struct{ field, got, want string }{
		{"source", env.Source, wantSource}, {"detail-type", env.DetailType, wantDetailType},
		{"account", env.Account, h.Config.AccountID}, {"region", env.Region, h.Config.Region},
	} {
		if c.got != c.want {
			return forged(c.field+"="+clipText(c.got), fmt.Sprintf("envelope %s %q: want %q", c.field, clipText(c.got), c.want))
		}
	}
	a.Record, a.ID = rec, inputID(rec, data)
	if rec.RecipientAccountID != h.Config.AccountID {
		return forged("recipientAccountId="+clipText(rec.RecipientAccountID), fmt.Sprintf("recipientAccountId %q: want %q", clipText(rec.RecipientAccountID), h.Config.AccountID))
	}
	a.Decision = h.Allowlist.Decide(rec)
	switch a.Decision.Verdict {
	case rules.Allowed:
		return classified{rule: a.Decision.Rule, rec: rec, draft: a}
	case rules.Ignored:
		return classified{ignored: true}
	case rules.Unauthorized:
		a.Kind, a.Severity = alert.KindUnauthorized, alert.SeverityOf(rec)
		if h.Own.Allows(rec, a.Decision.Principal) && h.Config.Guards(rec.Bucket) {
			return classified{rule: ownrole.Rule, own: a} // a write is verified first (ownWrite)
		}
		return classified{alert: a, rec: rec, draft: a}
	}
	a.Kind, a.Severity = alert.KindInvalid, alert.Medium
	class := "record"
	if len(a.Decision.Reasons) > 0 {
		class += ":" + a.Decision.Reasons[0]
	}
	return classified{alert: a, class: class}
}

// inputID names one input the same way on every attempt: its CloudTrail
// event ID, else a hash of its bytes.
func inputID(r *cloudtrail.Record, data []byte) string {
	if r != nil && r.EventID != "" {
		return clipText(r.EventID)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:12])
}

// clipText bounds a value quoted in a reason or a key.
func clipText(s string) string {
	const n = 128
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

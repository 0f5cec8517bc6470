package cloudtrail

import (
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fastjson"
)

// Decoder turns JSON values into Records. It reuses its parser's memory
// between calls, so a Decoder is not safe for concurrent use; the Records it
// returns own their strings and stay valid.
type Decoder struct {
	p   fastjson.Parser
	buf []byte
}

// DecodeEvent decodes one EventBridge event (an envelope with detail) or one
// bare CloudTrail record.
func DecodeEvent(data []byte) (*Record, error) {
	var d Decoder
	r := new(Record)
	if err := d.Decode(data, r); err != nil {
		return nil, err
	}
	return r, nil
}

// FieldError says which field of a record is unusable.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Decode parses data, an EventBridge envelope or a bare record, into r.
func (d *Decoder) Decode(data []byte, r *Record) error {
	v, err := d.p.ParseBytes(data)
	if err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return d.fromValue(v, r)
}

// fromValue fills r from a parsed envelope or record.
func (d *Decoder) fromValue(v *fastjson.Value, r *Record) error {
	if v.Type() != fastjson.TypeObject {
		return fmt.Errorf("want a JSON object, got %s", v.Type())
	}
	if detail := v.Get("detail"); detail != nil && v.Get("detail-type") != nil {
		if detail.Type() != fastjson.TypeObject {
			return &FieldError{"detail", "want an object, got " + detail.Type().String()}
		}
		v = detail
	}
	return d.record(v, r)
}

// record copies the fields s3xguard uses. All strings of one record are
// gathered into one buffer and cut from a single string, so a record costs
// one string allocation instead of dozens.
func (d *Decoder) record(v *fastjson.Value, r *Record) error {
	*r = Record{}
	d.buf = d.buf[:0]
	var spans []span // fixed order below; see assign
	var ferr error
	str := func(field string, dst *string, keys ...string) {
		f := v.Get(keys...)
		if f == nil || f.Type() == fastjson.TypeNull {
			return
		}
		if f.Type() != fastjson.TypeString {
			if ferr == nil {
				ferr = &FieldError{strings.Join(keys, "."), "want a string, got " + f.Type().String()}
			}
			return
		}
		b, _ := f.StringBytes()
		spans = append(spans, span{dst, len(d.buf), len(d.buf) + len(b)})
		d.buf = append(d.buf, b...)
	}
	str("eventVersion", &r.EventVersion, "eventVersion")
	str("eventID", &r.EventID, "eventID")
	str("eventTime", &r.EventTime, "eventTime")
	str("eventSource", &r.EventSource, "eventSource")
	str("eventName", &r.EventName, "eventName")
	str("eventType", &r.EventType, "eventType")
	str("eventCategory", &r.EventCategory, "eventCategory")
	str("awsRegion", &r.AWSRegion, "awsRegion")
	str("sourceIPAddress", &r.SourceIPAddress, "sourceIPAddress")
	str("userAgent", &r.UserAgent, "userAgent")
	str("errorCode", &r.ErrorCode, "errorCode")
	str("errorMessage", &r.ErrorMessage, "errorMessage")
	str("recipientAccountId", &r.RecipientAccountID, "recipientAccountId")
	str("sharedEventID", &r.SharedEventID, "sharedEventID")
	str("vpcEndpointId", &r.VPCEndpointID, "vpcEndpointId")
	str("vpcEndpointAccountId", &r.VPCEndpointAccountID, "vpcEndpointAccountId")

	if id := v.Get("userIdentity"); id != nil && id.Type() != fastjson.TypeNull {
		if id.Type() != fastjson.TypeObject {
			return &FieldError{"userIdentity", "want an object, got " + id.Type().String()}
		}
		r.HasUserIdentity = true
		u := &r.UserIdentity
		str("", &u.Type, "userIdentity", "type")
		str("", &u.PrincipalID, "userIdentity", "principalId")
		str("", &u.ARN, "userIdentity", "arn")
		str("", &u.AccountID, "userIdentity", "accountId")
		str("", &u.AccessKeyID, "userIdentity", "accessKeyId")
		str("", &u.UserName, "userIdentity", "userName")
		str("", &u.InvokedBy, "userIdentity", "invokedBy")
		str("", &u.SessionIssuerARN, "userIdentity", "sessionContext", "sessionIssuer", "arn")
	}
	if rp := v.Get("requestParameters"); rp != nil && rp.Type() == fastjson.TypeObject {
		str("", &r.Bucket, "requestParameters", "bucketName")
		str("", &r.Key, "requestParameters", "key")
		str("", &r.SessionMode, "requestParameters", "x-amz-create-session-mode")
	}
	if ad := v.Get("additionalEventData"); ad != nil && ad.Type() == fastjson.TypeObject {
		str("", &r.AvailabilityZone, "additionalEventData", "availabilityZone")
	}
	if ferr != nil {
		return ferr
	}
	// One allocation for all strings; each field is a substring of it.
	all := string(d.buf)
	for _, s := range spans {
		*s.dst = all[s.from:s.to]
	}
	r.ReadOnly = boolField(v, "readOnly")
	r.ManagementEvent = boolField(v, "managementEvent")
	if r.Bucket == "" {
		r.Bucket = bucketFromResources(v.GetArray("resources"))
	}
	return nil
}

type span struct {
	dst      *string
	from, to int
}

// boolField reads a boolean that CloudTrail writes as true/false, and older
// records sometimes as "true"/"false".
func boolField(v *fastjson.Value, key string) bool {
	f := v.Get(key)
	if f == nil {
		return false
	}
	switch f.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeString:
		b, _ := f.StringBytes()
		return string(b) == "true"
	}
	return false
}

// bucketFromResources finds the directory bucket in resources. AWS writes
// its ARN both as arn:aws:s3express:REGION:ACCT:bucket/NAME and as
// arn:aws:s3express:REGION:ACCT:NAME.
func bucketFromResources(res []*fastjson.Value) string {
	for _, e := range res {
		if string(e.GetStringBytes("type")) != "AWS::S3Express::DirectoryBucket" {
			continue
		}
		if name := BucketFromARN(string(e.GetStringBytes("ARN"))); name != "" {
			return name
		}
	}
	return ""
}

// BucketFromARN returns the bucket name of a directory bucket ARN, or "".
func BucketFromARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "s3express" {
		return ""
	}
	name := strings.TrimPrefix(parts[5], "bucket/")
	if name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

var errEmpty = errors.New("empty input")

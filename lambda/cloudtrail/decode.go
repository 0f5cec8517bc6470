package cloudtrail

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"
)

// Decoder turns JSON values into Records. It reuses its parser's memory
// between calls, so a Decoder is not safe for concurrent use; the Records it
// returns own their strings and stay valid.
type Decoder struct {
	p     fastjson.Parser
	buf   []byte
	spans []span
	err   error
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

// record copies the fields s3xguard uses, visiting each object once. All
// strings of one record are gathered into one buffer and cut from a single
// string, so a record costs one string allocation instead of dozens.
func (d *Decoder) record(v *fastjson.Value, r *Record) error {
	*r = Record{}
	d.buf, d.spans, d.err = d.buf[:0], d.spans[:0], nil
	o, _ := v.Object()
	var resources []*fastjson.Value
	o.Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "eventVersion":
			d.str("", k, f, &r.EventVersion)
		case "eventID":
			d.str("", k, f, &r.EventID)
		case "eventTime":
			d.str("", k, f, &r.EventTime)
		case "eventSource":
			d.str("", k, f, &r.EventSource)
		case "eventName":
			d.str("", k, f, &r.EventName)
		case "eventType":
			d.str("", k, f, &r.EventType)
		case "eventCategory":
			d.str("", k, f, &r.EventCategory)
		case "awsRegion":
			d.str("", k, f, &r.AWSRegion)
		case "sourceIPAddress":
			d.str("", k, f, &r.SourceIPAddress)
		case "userAgent":
			d.str("", k, f, &r.UserAgent)
		case "errorCode":
			d.str("", k, f, &r.ErrorCode)
		case "errorMessage":
			d.str("", k, f, &r.ErrorMessage)
		case "recipientAccountId":
			d.str("", k, f, &r.RecipientAccountID)
		case "sharedEventID":
			d.str("", k, f, &r.SharedEventID)
		case "vpcEndpointId":
			d.str("", k, f, &r.VPCEndpointID)
		case "vpcEndpointAccountId":
			d.str("", k, f, &r.VPCEndpointAccountID)
		case "readOnly":
			r.ReadOnly = isTrue(f)
		case "managementEvent":
			r.ManagementEvent = isTrue(f)
		case "userIdentity":
			d.identity(f, r)
		case "requestParameters":
			if rp, err := f.Object(); err == nil {
				rp.Visit(func(k []byte, f *fastjson.Value) {
					switch string(k) {
					case "bucketName":
						d.str("requestParameters.", k, f, &r.Bucket)
					case "key":
						d.str("requestParameters.", k, f, &r.Key)
					case "x-amz-create-session-mode":
						d.str("requestParameters.", k, f, &r.SessionMode)
					}
				})
			}
		case "additionalEventData":
			if ad, err := f.Object(); err == nil {
				if az := ad.Get("availabilityZone"); az != nil {
					d.str("additionalEventData.", []byte("availabilityZone"), az, &r.AvailabilityZone)
				}
				if m := ad.Get("sessionModeApplied"); m != nil {
					d.str("additionalEventData.", []byte("sessionModeApplied"), m, &r.SessionModeApplied)
				}
			}
		case "resources":
			resources, _ = f.Array()
		}
	})
	if d.err != nil {
		return d.err
	}
	// One allocation for all strings; each field is a substring of it.
	all := string(d.buf)
	for _, s := range d.spans {
		*s.dst = all[s.from:s.to]
	}
	if r.Bucket == "" {
		r.Bucket = bucketFromResources(resources)
	}
	return nil
}

func (d *Decoder) identity(f *fastjson.Value, r *Record) {
	switch f.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeObject:
	default:
		d.fail("userIdentity", "want an object, got "+f.Type().String())
		return
	}
	r.HasUserIdentity = true
	u := &r.UserIdentity
	o, _ := f.Object()
	o.Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "type":
			d.str("userIdentity.", k, f, &u.Type)
		case "principalId":
			d.str("userIdentity.", k, f, &u.PrincipalID)
		case "arn":
			d.str("userIdentity.", k, f, &u.ARN)
		case "accountId":
			d.str("userIdentity.", k, f, &u.AccountID)
		case "accessKeyId":
			d.str("userIdentity.", k, f, &u.AccessKeyID)
		case "userName":
			d.str("userIdentity.", k, f, &u.UserName)
		case "invokedBy":
			d.str("userIdentity.", k, f, &u.InvokedBy)
		case "sessionContext":
			if a := f.Get("sessionIssuer", "arn"); a != nil {
				d.str("userIdentity.", []byte("sessionContext.sessionIssuer.arn"), a, &u.SessionIssuerARN)
			}
		}
	})
}

// str records a string field; a field of another type makes the record
// invalid, since a decision on a misread field could be wrong.
func (d *Decoder) str(prefix string, key []byte, f *fastjson.Value, dst *string) {
	switch f.Type() {
	case fastjson.TypeString:
		b, _ := f.StringBytes()
		d.spans = append(d.spans, span{dst, len(d.buf), len(d.buf) + len(b)})
		d.buf = append(d.buf, b...)
	case fastjson.TypeNull:
	default:
		d.fail(prefix+string(key), "want a string, got "+f.Type().String())
	}
}

func (d *Decoder) fail(field, msg string) {
	if d.err == nil {
		d.err = &FieldError{field, msg}
	}
}

type span struct {
	dst      *string
	from, to int
}

// isTrue reads a boolean that CloudTrail writes as true/false, and older
// records sometimes as "true"/"false".
func isTrue(f *fastjson.Value) bool {
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

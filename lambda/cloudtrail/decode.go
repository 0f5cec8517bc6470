package cloudtrail

import (
	"bytes"
	"fmt"
	"strings"
)

// Decoder turns JSON values into Records in one pass: it validates the
// whole value as strict JSON (json.go) while it picks out the fields
// s3xguard reads and skips the rest. It reuses its memory between calls, so
// a Decoder is not safe for concurrent use; the Records it returns own their
// strings and stay valid.
type Decoder struct {
	s scanner
	// The strings of the record being decoded, as spans of the input
	// (valid while the record is read) or, unescaped, of buf; they are
	// copied once, into the record's one string, when it is complete.
	buf   []byte
	spans []span
	all   string // the last record's strings, for Plain
	// kinds is what the strings in buf held besides plain ASCII, as the
	// scanner saw it (see Plain).
	kinds strKind
	// The record (top) and, in an EventBridge envelope, its detail: both
	// are read, the envelope's members being in any order.
	st     [2]recState
	detail Record
	// env is the envelope's own fields, while the top level is read, and
	// envSt the first of them of the wrong type (it counts for envelopes
	// only: a bare record has no such fields).
	env   Envelope
	envSt recState
	// An SQS message's body (decoded), set by decodeValue when the value
	// has a string member "body".
	body    []byte
	hasBody bool
	// recordFields: the container object decodeValue stopped at had a
	// record's fields before its Records array.
	recordFields bool
}

// recState is what one record object leaves besides its Record.
type recState struct {
	err       error  // the first field of the wrong type
	resBucket string // the bucket named by resources, if requestParameters names none (or an access point)
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

// Decode reads data, one EventBridge envelope or bare record (whitespace
// around it allowed), into r.
func (d *Decoder) Decode(data []byte, r *Record) error {
	d.s.reset(data, true, 0)
	i := d.s.ws(0)
	end, kind, err := d.decodeValue(i, r, false)
	if kind == syntaxErr {
		return d.syntaxError(0, 1, data)
	}
	if j := d.s.ws(end); j < len(data) {
		d.s.errAt, d.s.errMsg = j, fmt.Sprintf("invalid character %s after the value", quoteByte(data[j]))
		return d.syntaxError(0, 1, data)
	}
	return err
}

// syntaxError turns the scanner's error into a SyntaxError; data starts at
// input offset base, on line line.
func (d *Decoder) syntaxError(base int64, line int, data []byte) *SyntaxError {
	at := min(d.s.errAt, len(data))
	return &SyntaxError{Offset: base + int64(at), Line: line + countLines(data[:at]), Msg: d.s.errMsg}
}

// valueKind is how decodeValue ended.
type valueKind int

const (
	decoded   valueKind = iota // a record, or a value that is not one (err says why)
	container                  // the object is a {"Records": [...]} container: stream it
	short                      // data ends inside the value
	syntaxErr                  // the value is not strict JSON (d.s says where)
)

// decodeValue reads the value at i into r and returns the index after it.
// With containers set, an object with a member "Records" whose value is an
// array stops the read as soon as that array opens: the caller streams it.
// err is set when the value is valid JSON but not a usable record.
func (d *Decoder) decodeValue(i int, r *Record, containers bool) (end int, kind valueKind, err error) {
	*r = Record{}
	d.buf, d.spans, d.kinds, d.all = d.buf[:0], d.spans[:0], 0, ""
	d.st = [2]recState{}
	d.hasBody, d.body = false, d.body[:0]
	d.env, d.envSt = Envelope{}, recState{}
	if i >= len(d.s.data) {
		d.s.need(i)
		return d.ended()
	}
	if d.s.data[i] != '{' {
		kindName := d.s.kindAt(i)
		if end = d.s.value(i); end < 0 {
			return d.ended()
		}
		return end, decoded, fmt.Errorf("want a JSON object, got %s", kindName)
	}
	end, env, isContainer := d.record(i, r, &d.st[0], true, containers)
	if isContainer {
		d.recordFields = len(d.spans) > 0 || d.hasBody || r.HasUserIdentity
		return end, container, nil
	}
	if end < 0 {
		return d.ended()
	}
	d.cutAll()
	st := &d.st[0]
	if env && (r.EventSource != "" || r.EventName != "" || r.EventID != "" || r.HasUserIdentity) {
		// Which record would be the event's is a guess either way: an
		// S3 Express record beside another service's detail must not
		// pass as that service's event.
		return end, decoded, &FieldError{Field: fDetail, Msg: "an EventBridge envelope with a record's own fields (eventSource, eventName, eventID or userIdentity) beside its detail"}
	}
	if env {
		*r, st = d.detail, &d.st[1]
		r.Envelope, r.FromEventBridge = d.env, true
		if d.envSt.err != nil {
			return end, decoded, d.envSt.err
		}
	}
	if r.Bucket == "" || namesAccessPoint(r.Bucket) {
		r.Bucket = st.resBucket
	}
	return end, decoded, st.err
}

// Plain reports whether every string of the record last decoded is
// printable ASCII without quotes or backslashes: text a JSON or terminal
// writer may copy as it is. The scanner saw it while validating, so the
// writers need not look at every byte again.
func (d *Decoder) Plain() bool {
	// JSON allows DEL unescaped; writers escape it.
	return d.kinds == 0 && strings.IndexByte(d.all, 0x7f) < 0
}

func (d *Decoder) ended() (int, valueKind, error) {
	if d.s.short {
		return -1, short, nil
	}
	return -1, syntaxErr, nil
}

// IsRecordField reports whether name is a member a record or event is read
// by: one beside a Records array makes the object more than a trail log
// file or an SQS batch.
func IsRecordField(name string) bool {
	switch name {
	case "eventVersion", "eventID", "eventTime", "eventSource", "eventName", "eventType", "eventCategory",
		"awsRegion", "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "recipientAccountId",
		"sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "readOnly", "managementEvent",
		"userIdentity", "requestParameters", "additionalEventData", "resources", "responseElements",
		"detail", "detail-type", "body":
		return true
	}
	return false
}

// Field names, for messages.
const (
	fDetail    = "detail"
	fIdentity  = "userIdentity"
	fParams    = "requestParameters"
	fAdditonal = "additionalEventData"
	fResources = "resources"
	fIssuer    = "userIdentity.sessionContext"
	fResponse  = "responseElements"
)

// record reads the object at i into r. At top level (top) it also reads
// what makes the object an EventBridge envelope (detail-type and detail;
// env reports one), an SQS message's body, and, with containers, stops at a
// Records array.
func (d *Decoder) record(i int, r *Record, st *recState, top, containers bool) (end int, env, isContainer bool) {
	s := &d.s
	i, o := s.open(i)
	var hasDetailType bool
	var detailKind string
	for i >= 0 {
		var name []byte
		var ok bool
		if i, name, ok = s.member(i, &o); !ok {
			break
		}
		switch string(name) {
		case "eventVersion":
			i = d.str(i, &r.EventVersion, "eventVersion", st)
		case "eventID":
			i = d.str(i, &r.EventID, "eventID", st)
		case "eventTime":
			i = d.str(i, &r.EventTime, "eventTime", st)
		case "eventSource":
			i = d.str(i, &r.EventSource, "eventSource", st)
		case "eventName":
			i = d.str(i, &r.EventName, "eventName", st)
		case "eventType":
			i = d.str(i, &r.EventType, "eventType", st)
		case "eventCategory":
			i = d.str(i, &r.EventCategory, "eventCategory", st)
		case "awsRegion":
			i = d.str(i, &r.AWSRegion, "awsRegion", st)
		case "sourceIPAddress":
			i = d.str(i, &r.SourceIPAddress, "sourceIPAddress", st)
		case "userAgent":
			i = d.str(i, &r.UserAgent, "userAgent", st)
		case "errorCode":
			i = d.str(i, &r.ErrorCode, "errorCode", st)
		case "errorMessage":
			i = d.str(i, &r.ErrorMessage, "errorMessage", st)
		case "recipientAccountId":
			i = d.str(i, &r.RecipientAccountID, "recipientAccountId", st)
		case "sharedEventID":
			i = d.str(i, &r.SharedEventID, "sharedEventID", st)
		case "vpcEndpointId":
			i = d.str(i, &r.VPCEndpointID, "vpcEndpointId", st)
		case "vpcEndpointAccountId":
			i = d.str(i, &r.VPCEndpointAccountID, "vpcEndpointAccountId", st)
		case "readOnly":
			i = d.bool(i, &r.ReadOnly, "readOnly", st)
		case "managementEvent":
			i = d.bool(i, &r.ManagementEvent, "managementEvent", st)
		case "userIdentity":
			i = d.identity(i, r, st)
		case "requestParameters":
			i = d.params(i, r, st)
		case "additionalEventData":
			i = d.additional(i, r, st)
		case "resources":
			i = d.resources(i, r, st)
		case "responseElements":
			i = d.response(i, r, st)
		case "detail":
			if !top {
				i = s.value(i)
				break
			}
			switch c := s.data[i]; c {
			case '{':
				d.detail = Record{}
				i, _, _ = d.record(i, &d.detail, &d.st[1], false, false)
				detailKind = "object"
			case 'n':
				i = s.literal(i, "null")
			default:
				detailKind = s.kindAt(i)
				i = s.value(i)
			}
		case "detail-type":
			switch c := s.data[i]; {
			case !top:
				i = s.value(i)
			case c == '"':
				hasDetailType = true
				i = d.str(i, &d.env.DetailType, "detail-type", st)
			case c == 'n':
				i = s.literal(i, "null")
			default:
				d.fail(st, "detail-type", "want a string, got "+s.kindAt(i))
				i = s.value(i)
			}
		case "body":
			if top && s.data[i] == '"' {
				j, kind := s.str(i)
				if j >= 0 {
					d.hasBody = true
					if kind&strEscaped != 0 {
						d.body = unescape(d.body, s.data[i+1:j-1])
					} else {
						d.body = append(d.body, s.data[i+1:j-1]...)
					}
				}
				i = j
			} else {
				i = s.value(i)
			}
		case "source":
			i = d.envField(i, &d.env.Source, "source", top)
		case "account":
			i = d.envField(i, &d.env.Account, "account", top)
		case "region":
			i = d.envField(i, &d.env.Region, "region", top)
		case "Records":
			if containers && s.data[i] == '[' {
				return i, false, true
			}
			i = s.value(i)
		default:
			i = s.value(i)
		}
	}
	if i < 0 || !top {
		return i, false, false
	}
	if hasDetailType && detailKind != "" {
		if detailKind != "object" {
			d.fail(st, fDetail, "want an object, got "+detailKind)
			return i, false, false
		}
		return i, true, false
	}
	return i, false, false
}

// str reads a string field into dst; null leaves it empty; any other type
// makes the record invalid, since a decision on a misread field could be
// wrong. The string is cut from the record's buffer when the record is
// complete.
func (d *Decoder) str(i int, dst *string, field string, st *recState) int {
	s := &d.s
	switch s.data[i] {
	case '"':
		j := plainRun(s.data, i+1)
		var kind strKind
		if j < len(s.data) && s.data[j] == '"' {
			j++
		} else if j, kind = s.strRest(j); j < 0 {
			return -1
		}
		d.kinds |= kind
		d.spans = append(d.spans, span{dst, d.content(s.data[i+1:j-1], kind)})
		return j
	case 'n':
		return s.literal(i, "null")
	}
	d.fail(st, field, "want a string, got "+s.kindAt(i))
	return s.value(i)
}

// envField reads an EventBridge envelope field at top level; below it the
// name is not the envelope's and is skipped.
func (d *Decoder) envField(i int, dst *string, field string, top bool) int {
	if !top {
		return d.s.value(i)
	}
	return d.str(i, dst, field, &d.envSt)
}

// bool reads a boolean field (null: false).
func (d *Decoder) bool(i int, dst *bool, field string, st *recState) int {
	s := &d.s
	switch s.data[i] {
	case 't':
		*dst = true
		return s.literal(i, "true")
	case 'f':
		return s.literal(i, "false")
	case 'n':
		return s.literal(i, "null")
	}
	d.fail(st, field, "want a boolean, got "+s.kindAt(i))
	return s.value(i)
}

// object checks that the value at i is an object: it returns i, or, for
// null or another type (then noted in st), the index after the value and
// ok=false.
func (d *Decoder) object(i int, field string, st *recState) (int, bool) {
	s := &d.s
	switch s.data[i] {
	case '{':
		return i, true
	case 'n':
		return s.literal(i, "null"), false
	}
	d.fail(st, field, "want an object, got "+s.kindAt(i))
	return s.value(i), false
}

// members walks the object at i, a field s3xguard reads (null: absent;
// another type: noted in st), calling f on each member's value; f returns
// the index after it. ok reports whether the field was an object.
func (d *Decoder) members(i int, field string, st *recState, f func(i int, name []byte) int) (next int, ok bool) {
	if i, ok = d.object(i, field, st); !ok {
		return i, false
	}
	s := &d.s
	i, o := s.open(i)
	for i >= 0 {
		var name []byte
		var more bool
		if i, name, more = s.member(i, &o); !more {
			return i, true
		}
		i = f(i, name)
	}
	return -1, true
}

func (d *Decoder) identity(i int, r *Record, st *recState) int {
	u := &r.UserIdentity
	i, r.HasUserIdentity = d.members(i, fIdentity, st, func(i int, name []byte) int {
		switch string(name) {
		case "type":
			return d.str(i, &u.Type, "userIdentity.type", st)
		case "principalId":
			return d.str(i, &u.PrincipalID, "userIdentity.principalId", st)
		case "arn":
			return d.str(i, &u.ARN, "userIdentity.arn", st)
		case "accountId":
			return d.str(i, &u.AccountID, "userIdentity.accountId", st)
		case "accessKeyId":
			return d.str(i, &u.AccessKeyID, "userIdentity.accessKeyId", st)
		case "userName":
			return d.str(i, &u.UserName, "userIdentity.userName", st)
		case "invokedBy":
			return d.str(i, &u.InvokedBy, "userIdentity.invokedBy", st)
		case "sessionContext":
			i, _ = d.members(i, fIssuer, st, func(i int, name []byte) int {
				if string(name) != "sessionIssuer" {
					return d.s.value(i)
				}
				i, _ = d.members(i, fIssuer+".sessionIssuer", st, func(i int, name []byte) int {
					if string(name) != "arn" {
						return d.s.value(i)
					}
					return d.str(i, &u.SessionIssuerARN, fIssuer+".sessionIssuer.arn", st)
				})
				return i
			})
			return i
		}
		return d.s.value(i)
	})
	return i
}

func (d *Decoder) params(i int, r *Record, st *recState) int {
	i, _ = d.members(i, fParams, st, func(i int, name []byte) int {
		switch string(name) {
		case "bucketName":
			return d.str(i, &r.Bucket, "requestParameters.bucketName", st)
		case "key":
			return d.str(i, &r.Key, "requestParameters.key", st)
		case "x-amz-create-session-mode":
			return d.str(i, &r.SessionMode, "requestParameters.x-amz-create-session-mode", st)
		}
		return d.s.value(i)
	})
	return i
}

func (d *Decoder) additional(i int, r *Record, st *recState) int {
	i, _ = d.members(i, fAdditonal, st, func(i int, name []byte) int {
		switch string(name) {
		case "availabilityZone":
			return d.str(i, &r.AvailabilityZone, "additionalEventData.availabilityZone", st)
		case "sessionModeApplied":
			return d.str(i, &r.SessionModeApplied, "additionalEventData.sessionModeApplied", st)
		}
		return d.s.value(i)
	})
	return i
}

// response reads responseElements.credentials.accessKeyId (CreateSession).
func (d *Decoder) response(i int, r *Record, st *recState) int {
	i, _ = d.members(i, fResponse, st, func(i int, name []byte) int {
		if string(name) != "credentials" {
			return d.s.value(i)
		}
		i, _ = d.members(i, fResponse+".credentials", st, func(i int, name []byte) int {
			if string(name) != "accessKeyId" {
				return d.s.value(i)
			}
			return d.str(i, &r.SessionAccessKeyID, fResponse+".credentials.accessKeyId", st)
		})
		return i
	})
	return i
}

// Resource types s3xguard reads in resources.
const (
	typeDirectoryBucket = "AWS::S3Express::DirectoryBucket"
	typeAccessPoint     = "AWS::S3::AccessPoint"
)

// resources reads the resources array: the first directory bucket entry
// whose ARN names a bucket, and the first access point entry whose ARN names
// an access point.
func (d *Decoder) resources(i int, r *Record, st *recState) int {
	s := &d.s
	switch s.data[i] {
	case '[':
	case 'n':
		return s.literal(i, "null")
	default:
		d.fail(st, fResources, "want an array, got "+s.kindAt(i))
		return s.value(i)
	}
	i, _ = s.open(i)
	for n := 0; i >= 0; n++ {
		var more bool
		if i, more = s.element(i, n); !more {
			return i
		}
		if s.data[i] != '{' {
			d.fail(st, fmt.Sprintf("resources[%d]", n), "want an object, got "+s.kindAt(i))
			i = s.value(i)
			continue
		}
		i = d.resource(i, n, r, st)
	}
	return -1
}

func (d *Decoder) resource(i, n int, r *Record, st *recState) int {
	s := &d.s
	var typ, arn []byte
	hasType, hasARN := false, false
	i, o := s.open(i)
	for i >= 0 {
		name, more := []byte(nil), false
		if i, name, more = s.member(i, &o); !more {
			break
		}
		var dst *[]byte
		switch string(name) {
		case "type":
			dst, hasType = &typ, true
		case "ARN":
			dst, hasARN = &arn, true
		default:
			i = s.value(i)
			continue
		}
		switch s.data[i] {
		case '"':
			j, kind := s.str(i)
			if j >= 0 {
				// The bucket, its account or the access point may be
				// cut from the ARN.
				d.kinds |= kind
				*dst = d.content(s.data[i+1:j-1], kind)
			}
			i = j
		case 'n':
			i = s.literal(i, "null")
		default:
			d.fail(st, fmt.Sprintf("resources[%d].%s", n, name), "want a string, got "+s.kindAt(i))
			i = s.value(i)
		}
	}
	if i < 0 || !hasType || !hasARN {
		return i
	}
	switch string(typ) {
	case typeDirectoryBucket:
		needBucket := st.resBucket == "" && !d.pending(&st.resBucket)
		needAccount := r.BucketAccount == "" && !d.pending(&r.BucketAccount)
		if needBucket || needAccount {
			// The ARN is parsed once for both.
			name, account := bucketParts(arn)
			if needBucket {
				d.cut(&st.resBucket, name)
			}
			if needAccount {
				d.cut(&r.BucketAccount, account)
			}
		}
	case typeAccessPoint:
		if r.AccessPoint == "" && !d.pending(&r.AccessPoint) {
			d.cut(&r.AccessPoint, accessPointFromARN(arn))
		}
	}
	return i
}

// namesAccessPoint reports whether a requestParameters.bucketName holds an
// access point (NAME--ZONEID--xa-s3, or its ARN) rather than a bucket. A
// request made through an access point for directory buckets also names, in
// resources, the directory bucket it reached (S3 user guide, "Monitoring and
// logging access points for directory buckets"); that bucket's policy is the
// one a quarantine changes, so it is the record's Bucket. Without that
// entry the bucket is unknown: Bucket stays empty, so that no `buckets`
// glob matches an access point's name and no quarantine targets it.
func namesAccessPoint(name string) bool {
	// Bucket names have no ':': one byte search settles most.
	return strings.HasSuffix(name, "--xa-s3") ||
		strings.IndexByte(name, ':') >= 0 && strings.Contains(name, ":accesspoint/")
}

func unescapeOrCopy(dst, raw []byte, esc bool) []byte {
	if esc {
		return unescape(dst, raw)
	}
	return append(dst, raw...)
}

// content returns the content of a valid string (raw, between its quotes,
// as the scanner saw it: kind), decoded into buf if it has escapes. buf
// only grows while a record is read, so earlier spans stay intact.
func (d *Decoder) content(raw []byte, kind strKind) []byte {
	if kind&strEscaped == 0 {
		return raw
	}
	from := len(d.buf)
	d.buf = unescape(d.buf, raw)
	return d.buf[from:]
}

// cut records name as dst's value, copied when the record is complete.
func (d *Decoder) cut(dst *string, name []byte) {
	if len(name) == 0 {
		return
	}
	d.spans = append(d.spans, span{dst, name})
}

// cutAll copies the record's strings into one allocation and points each
// field at its part.
func (d *Decoder) cutAll() {
	n := 0
	for _, s := range d.spans {
		n += len(s.b)
	}
	if n == 0 {
		return
	}
	var all strings.Builder
	all.Grow(n)
	for _, s := range d.spans {
		all.Write(s.b)
	}
	d.all = all.String()
	off := 0
	for _, s := range d.spans {
		*s.dst = d.all[off : off+len(s.b)]
		off += len(s.b)
	}
}

// pending reports whether dst already has a value waiting to be cut.
func (d *Decoder) pending(dst *string) bool {
	for _, s := range d.spans {
		if s.dst == dst {
			return true
		}
	}
	return false
}

func (d *Decoder) fail(st *recState, field, msg string) {
	if st.err == nil {
		st.err = &FieldError{field, msg}
	}
}

type span struct {
	dst *string
	b   []byte
}

// BucketFromARN returns the bucket name of a directory bucket ARN, or "".
// AWS writes it both as arn:aws:s3express:REGION:ACCT:bucket/NAME and as
// arn:aws:s3express:REGION:ACCT:NAME (FACTS §1).
func BucketFromARN(arn string) string { return string(bucketFromARN([]byte(arn))) }

// AccessPointFromARN returns the access point name of a directory bucket
// access point ARN, arn:aws:s3express:REGION:ACCT:accesspoint/NAME (S3 user
// guide, "Monitoring and logging access points for directory buckets"), or
// "".
func AccessPointFromARN(arn string) string { return string(accessPointFromARN([]byte(arn))) }

func bucketFromARN(arn []byte) []byte {
	name, _ := bucketParts(arn)
	return name
}

// bucketParts returns the bucket name and account of a directory bucket
// ARN, or nil for both.
func bucketParts(arn []byte) (name, account []byte) {
	account, rest, ok := s3expressParts(arn)
	if !ok {
		return nil, nil
	}
	name = bytes.TrimPrefix(rest, []byte("bucket/"))
	if len(name) == 0 || bytes.IndexByte(name, '/') >= 0 {
		return nil, nil
	}
	return name, account
}

func accessPointFromARN(arn []byte) []byte {
	rest, ok := s3expressResource(arn)
	if !ok {
		return nil
	}
	name, ok := bytes.CutPrefix(rest, []byte("accesspoint/"))
	if !ok || len(name) == 0 || bytes.IndexByte(name, '/') >= 0 {
		return nil
	}
	return name
}

// s3expressResource returns the resource part of an s3express ARN,
// arn:PARTITION:s3express:REGION:ACCOUNT:RESOURCE.
func s3expressResource(arn []byte) ([]byte, bool) {
	_, rest, ok := s3expressParts(arn)
	return rest, ok
}

// s3expressParts returns the account and resource parts of an s3express ARN.
func s3expressParts(arn []byte) (account, resource []byte, ok bool) {
	rest, ok := bytes.CutPrefix(arn, []byte("arn:"))
	var field []byte
	for n := 0; ok && n < 4; n++ {
		field, rest, ok = bytes.Cut(rest, []byte(":"))
		if n == 1 && string(field) != "s3express" {
			return nil, nil, false
		}
	}
	return field, rest, ok
}

// BucketAccountFromARN returns the account of a directory bucket ARN, or "".
func BucketAccountFromARN(arn string) string { return string(bucketAccountFromARN([]byte(arn))) }

func bucketAccountFromARN(arn []byte) []byte {
	_, account := bucketParts(arn)
	return account
}

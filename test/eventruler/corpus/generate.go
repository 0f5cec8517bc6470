package corpus

import (
	"encoding/json"
	"fmt"
)

// op is an S3 Express operation as CloudTrail logs it (FACTS §1: S3 user
// guide, "Logging with AWS CloudTrail for directory buckets").
type op struct {
	name string
	// data: a data event (zonal, eventCategory Data, logged only by a
	// trail's data event selectors); else a management event.
	data bool
	// key: the request names an object (its resource ARN ends with it).
	key bool
	// noBucket: the call names no bucket (ListDirectoryBuckets).
	noBucket bool
	readOnly bool
}

var ops = []op{
	{name: "CreateSession", data: true, readOnly: true},
	{name: "HeadBucket", data: true, readOnly: true},
	{name: "ListObjectsV2", data: true, readOnly: true},
	{name: "GetObject", data: true, key: true, readOnly: true},
	{name: "HeadObject", data: true, key: true, readOnly: true},
	{name: "GetObjectAttributes", data: true, key: true, readOnly: true},
	{name: "PutObject", data: true, key: true},
	{name: "CopyObject", data: true, key: true},
	{name: "RenameObject", data: true, key: true},
	{name: "DeleteObject", data: true, key: true},
	{name: "DeleteObjects", data: true},
	{name: "CreateMultipartUpload", data: true, key: true},
	{name: "UploadPart", data: true, key: true},
	{name: "UploadPartCopy", data: true, key: true},
	{name: "CompleteMultipartUpload", data: true, key: true},
	{name: "AbortMultipartUpload", data: true, key: true},
	{name: "ListParts", data: true, key: true, readOnly: true},
	// Zonal, yet logged as a management event.
	{name: "ListMultipartUploads", readOnly: true},
	{name: "CreateBucket"},
	{name: "DeleteBucket"},
	{name: "PutBucketPolicy"},
	{name: "GetBucketPolicy", readOnly: true},
	{name: "DeleteBucketPolicy"},
	{name: "PutBucketEncryption"},
	{name: "GetBucketEncryption", readOnly: true},
	{name: "DeleteBucketEncryption"},
	{name: "ListDirectoryBuckets", noBucket: true, readOnly: true},
}

// identity is a userIdentity, and the source address that goes with it.
type identity struct {
	name     string
	user     any // the userIdentity value; absent when omit
	omit     bool
	sourceIP string
}

var identities = []identity{
	{name: "IAMUser", user: map[string]any{"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE", "arn": "arn:aws:iam::111122223333:user/ops/alice", "accountId": Account, "accessKeyId": "AKIAEXAMPLEALICE", "userName": "alice"}},
	{name: "AssumedRole-zonal", user: map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLEETL:job-1", "arn": "arn:aws:sts::111122223333:assumed-role/etl/job-1", "accountId": Account, "accessKeyId": "ASIAEXAMPLESESSION"}},
	{name: "AssumedRole-issuer", user: map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLEETL:job-1", "arn": "arn:aws:sts::111122223333:assumed-role/etl/job-1", "accountId": Account, "accessKeyId": "ASIAEXAMPLEETL",
		"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "principalId": "AROAEXAMPLEETL", "arn": "arn:aws:iam::111122223333:role/data/etl", "accountId": Account, "userName": "etl"}, "attributes": map[string]any{"creationDate": "2026-11-20T10:00:00Z", "mfaAuthenticated": "false"}}}},
	{name: "AssumedRole-cross-account", user: map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLEPARTNER:s", "arn": "arn:aws:sts::444455556666:assumed-role/partner/s", "accountId": "444455556666", "accessKeyId": "ASIAEXAMPLEPARTNER"}},
	{name: "Root", user: map[string]any{"type": "Root", "principalId": Account, "arn": "arn:aws:iam::111122223333:root", "accountId": Account, "accessKeyId": "ASIAEXAMPLEROOT"}},
	{name: "FederatedUser", user: map[string]any{"type": "FederatedUser", "principalId": "111122223333:bob", "arn": "arn:aws:sts::111122223333:federated-user/bob", "accountId": Account, "accessKeyId": "ASIAEXAMPLEBOB"}},
	{name: "AWSService", user: map[string]any{"type": "AWSService", "invokedBy": "lifecycle.s3.amazonaws.com"}, sourceIP: "lifecycle.s3.amazonaws.com"},
	{name: "AWSAccount", user: map[string]any{"type": "AWSAccount", "principalId": "AIDAEXAMPLEOTHER", "accountId": "444455556666"}},
	{name: "IdentityCenterUser", user: map[string]any{"type": "IdentityCenterUser", "accountId": Account, "onBehalfOf": map[string]any{"userId": "9067-example", "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-1234567890"}}},
	// Invalid records: the function must see them too.
	{name: "no-userIdentity", omit: true},
	{name: "userIdentity-empty", user: map[string]any{}},
	{name: "userIdentity-not-an-object", user: "AssumedRole"},
	{name: "userIdentity-arn-not-a-string", user: map[string]any{"type": "IAMUser", "arn": 42, "accountId": Account}},
}

// shape is where the bucket appears, whether the call failed, and whether
// it went through an access point.
type shape struct {
	name       string
	bucketName string // requestParameters.bucketName: "bucket", "accesspoint", "empty" (""), "" (absent)
	params     string // "object", "null", "absent"
	bucketARN  string // the DirectoryBucket resource: "long" (…:bucket/NAME), "short" (…:NAME), "" (none)
	objectARN  string // the Object resource: "long", "short", "" (none)
	denied     bool
	viaAP      bool
}

var shapes = []shape{
	{name: "bucketName+resources", bucketName: "bucket", params: "object", bucketARN: "long", objectARN: "long"},
	{name: "bucketName+short-resources", bucketName: "bucket", params: "object", bucketARN: "short", objectARN: "short"},
	{name: "bucketName-only", bucketName: "bucket", params: "object"},
	{name: "bucketName-empty", bucketName: "empty", params: "object", bucketARN: "long", objectARN: "long"},
	{name: "resources-long-only", params: "object", bucketARN: "long", objectARN: "long"},
	{name: "resources-short-only", params: "object", bucketARN: "short", objectARN: "short"},
	{name: "object-arn-only", params: "object", objectARN: "long"},
	{name: "neither", params: "object"},
	{name: "params-null", params: "null", bucketARN: "long", objectARN: "long"},
	{name: "denied", bucketName: "bucket", params: "object", bucketARN: "long", objectARN: "long", denied: true},
	{name: "denied-no-params", params: "absent", bucketARN: "long", objectARN: "long", denied: true},
	{name: "denied-no-params-short", params: "absent", bucketARN: "short", objectARN: "short", denied: true},
	{name: "denied-no-params-no-resources", params: "absent", denied: true},
	{name: "denied-params-null", params: "null", bucketARN: "short", denied: true},
	{name: "access-point", bucketName: "bucket", params: "object", bucketARN: "long", objectARN: "long", viaAP: true},
	{name: "access-point-name-as-bucketName", bucketName: "accesspoint", params: "object", bucketARN: "long", objectARN: "long", viaAP: true},
	{name: "access-point-resources-only", params: "object", bucketARN: "long", objectARN: "long", viaAP: true},
	{name: "access-point-denied-no-params", params: "absent", bucketARN: "long", objectARN: "long", viaAP: true, denied: true},
}

// Generated returns events over every identity type, operation, error
// shape, access point request and bucket-field placement, on every bucket
// of Buckets: each operation in each shape on each bucket (identities taken
// in turn), and each identity on each operation in the first shape. Then
// events that must never match the rule: general purpose S3, another
// service, other detail-types.
func Generated() []Event {
	var out []Event
	n := 0
	add := func(o op, id identity, s shape, bucket string) {
		n++
		name := fmt.Sprintf("generated %s %s %s %s", o.name, id.name, s.name, bucket)
		out = append(out, Event{Name: name, JSON: event(source, DetailType, record(n, o, id, s, bucket))})
	}
	i := 0
	for _, o := range ops {
		for _, s := range shapes {
			if o.noBucket && (s.bucketName != "" || s.bucketARN != "" || s.objectARN != "" || s.viaAP) {
				continue
			}
			for _, b := range Buckets {
				add(o, identities[i%len(identities)], s, b)
				i++
				if o.noBucket {
					break
				}
			}
		}
		for _, id := range identities {
			add(o, id, shapes[0], Buckets[0])
		}
	}
	// Never to match: the same records under another source or detail-type,
	// and general purpose S3 naming a directory bucket's name.
	base := record(n+1, ops[6], identities[1], shapes[0], Buckets[0])
	out = append(out,
		Event{Name: "negative general-purpose S3", JSON: event("aws.s3", DetailType, withSource(base, "s3.amazonaws.com",
			map[string]any{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::" + Buckets[0] + "/reports/day.parquet"},
			map[string]any{"accountId": Account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + Buckets[0]}))},
		Event{Name: "negative other service", JSON: event("aws.kms", DetailType, withSource(base, "kms.amazonaws.com",
			map[string]any{"accountId": Account, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:111122223333:key/0000-example"}))},
		Event{Name: "negative detail-type AWS Service Event", JSON: event(source, "AWS Service Event via CloudTrail", base)},
		Event{Name: "negative detail-type Object Created", JSON: event(source, "Object Created", base)},
		Event{Name: "negative aws.s3 source with s3express record", JSON: event("aws.s3", DetailType, base)},
	)
	return out
}

func record(n int, o op, id identity, s shape, bucket string) map[string]any {
	const key = "reports/2026/11/day.parquet"
	r := map[string]any{
		"eventVersion":       "1.09",
		"eventTime":          "2026-11-20T10:15:30Z",
		"eventSource":        "s3express.amazonaws.com",
		"eventName":          o.name,
		"awsRegion":          Region,
		"sourceIPAddress":    "198.51.100.7",
		"userAgent":          "aws-sdk-go-v2/1.36.3",
		"requestID":          fmt.Sprintf("REQ%08d", n),
		"eventID":            fmt.Sprintf("00000000-0000-4000-9000-%012d", n),
		"readOnly":           o.readOnly,
		"eventType":          "AwsApiCall",
		"managementEvent":    !o.data,
		"recipientAccountId": Account,
		"eventCategory":      map[bool]string{true: "Data", false: "Management"}[o.data],
	}
	if !id.omit {
		r["userIdentity"] = id.user
	}
	if id.sourceIP != "" {
		r["sourceIPAddress"] = id.sourceIP
	}
	if s.denied {
		r["errorCode"] = "AccessDenied"
		r["errorMessage"] = "Access Denied"
	}
	params := map[string]any{}
	if !o.noBucket {
		switch s.bucketName {
		case "bucket":
			params["bucketName"] = bucket
		case "accesspoint":
			params["bucketName"] = AccessPoint
		case "empty":
			params["bucketName"] = ""
		}
		params["Host"] = bucket + ".s3express-use1-az4.us-east-1.amazonaws.com"
		if o.key {
			params["key"] = key
		}
		if o.name == "CreateSession" {
			params["x-amz-create-session-mode"] = "ReadWrite"
		}
	}
	switch s.params {
	case "object":
		r["requestParameters"] = params
	case "null":
		r["requestParameters"] = nil
	}
	arn := func(form, tail string) string {
		if form == "long" {
			return "arn:aws:s3express:" + Region + ":" + Account + ":bucket/" + bucket + tail
		}
		return "arn:aws:s3express:" + Region + ":" + Account + ":" + bucket + tail
	}
	var res []any
	if s.objectARN != "" && o.data {
		tail := ""
		if o.key {
			tail = "/" + key
		}
		field := "ARNPrefix"
		if s.viaAP {
			// The access point page's example writes the object's ARN as ARN.
			field = "ARN"
		}
		res = append(res, map[string]any{"type": "AWS::S3Express::Object", field: arn(s.objectARN, tail)})
	}
	if s.bucketARN != "" {
		res = append(res, map[string]any{"accountId": Account, "type": "AWS::S3Express::DirectoryBucket", "ARN": arn(s.bucketARN, "")})
	}
	if s.viaAP {
		res = append(res, map[string]any{"accountId": Account, "type": "AWS::S3::AccessPoint", "ARN": "arn:aws:s3express:" + Region + ":" + Account + ":accesspoint/" + AccessPoint})
	}
	if res != nil {
		r["resources"] = res
	}
	if o.data {
		r["additionalEventData"] = map[string]any{"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader", "availabilityZone": "use1-az4"}
	}
	return r
}

// withSource is r as another service would log it, with its own resources.
func withSource(r map[string]any, src string, resources ...any) map[string]any {
	c := make(map[string]any, len(r))
	for k, v := range r {
		c[k] = v
	}
	c["eventSource"] = src
	c["resources"] = resources
	return c
}

func event(src, detailType string, r map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": r["eventID"], "detail-type": detailType, "source": src,
		"account": Account, "time": r["eventTime"], "region": Region, "resources": []any{},
		"detail": r,
	})
	if err != nil {
		panic(err) // only maps, strings and numbers: cannot fail
	}
	return b
}

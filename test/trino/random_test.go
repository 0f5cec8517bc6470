package trino

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/rules"
)

// Pools of values for random records and allowlists. They are chosen to
// meet: role paths, sessions, names with LIKE's own wildcards (% and _),
// non-ASCII text against '?', IPv4-mapped and zoned addresses, leading
// zeros, non-IP sources, both bucket ARN forms, malformed ARNs.
var (
	poolAccounts   = []string{"111122223333", "444455556666", "999988887777", ""}
	poolPartitions = []string{"aws", "aws", "aws", "aws-cn", "aws-us-gov", "aws%"}
	poolRoles      = []string{"etl-loader", "etl-export", "etl_x", "etlxloader", "analyst", "a%b", "é-role", "platform-admin", "admin", ""}
	poolSessions   = []string{"s", "sess-7", "é", "a_b", "%", "x/y", "i-0abc"}
	poolTypes      = []string{"AssumedRole", "AssumedRole", "IAMUser", "Root", "FederatedUser", "AWSService", "AWSAccount", "", "Unknown"}
	poolInvokedBy  = []string{"", "", "lifecycle.s3.amazonaws.com", "gamma.lifecycle.s3.amazonaws.com", "AWS Internal"}
	poolSources    = []string{"10.1.2.3", "10.0.0.0", "192.168.1.1", "::ffff:10.1.2.3", "::ffff:192.168.0.1", "::FFFF:10.9.9.9",
		"2600:1f18:abcd::1", "2600:1f18:abce::1", "2600:1F18:ABCD:0:0:0:0:1", "2600:1f18:abcd:0000:0000:0000:0000:0001", "::", "::1",
		"fe80::1%eth0", "010.1.2.3", "10.1.2.3 ", " 10.1.2.3", "AWS Internal", "lifecycle.s3.amazonaws.com", "",
		"1::1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "1:2:3:4:5:6::8", "::ffff:1.2.3.04", "256.1.1.1",
		"1.2.3", "0.0.0.0", "255.255.255.255", "::ffff:0:0", "64:ff9b::10.1.2.3", "fe80::1", "1:2:3:4:5:6:7:8:9", "12345::1", ":::1", "1.2.3.4/32"}
	poolVPCE    = []string{"", "", "vpce-0a1b2c3d4e5f60718", "vpce-0a1b2c3d", "vpce-11111111"}
	poolBuckets = []string{"analytics--use1-az4--x-s3", "logs-app--use1-az4--x-s3", "scratch--use1-az5--x-s3", "logs-%--x-s3", "é--x-s3", "a_b--x-s3", "",
		"reports--use1-az4--xa-s3", "arn:aws:s3express:us-east-1:111122223333:accesspoint/reports--use1-az4--xa-s3"}
	poolAccessPoints = []string{"reports--use1-az4--xa-s3", "other--use1-az4--xa-s3", "r_p--use1-az4--xa-s3", "rép--use1-az4--xa-s3"}
	poolOps          = []string{"GetObject", "PutObject", "CreateSession", "DeleteObject", "DeleteObjects", "HeadBucket", "PutBucketPolicy",
		"ListDirectoryBuckets", "Get%Object", "GetObject_", "ÉtObject", "ÉetObject"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// randomARN returns a caller ARN in one of the forms CloudTrail writes, or
// a malformed one.
func randomARN(r *rand.Rand) string {
	p, a, role := pick(r, poolPartitions), pick(r, poolAccounts), pick(r, poolRoles)
	switch r.IntN(12) {
	case 0, 1, 2:
		return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", p, a, role, pick(r, poolSessions))
	case 3:
		return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s", p, a, role)
	case 4:
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", p, a, role)
	case 5:
		return fmt.Sprintf("arn:%s:iam::%s:role/team/sub/%s", p, a, role)
	case 6:
		return fmt.Sprintf("arn:%s:iam::%s:user/%s", p, a, pick(r, []string{"reporting", "people/reporting", "bob", "a_b"}))
	case 7:
		return fmt.Sprintf("arn:%s:iam::%s:root", p, a)
	case 8:
		return fmt.Sprintf("arn:%s:sts::%s:federated-user/%s", p, a, pick(r, []string{"carol", "é"}))
	case 9:
		return pick(r, []string{"arn:aws:iam::111122223333", "AIDAEXAMPLE", "", "arn:aws:s3:::bucket", "arn:aws:iam::111122223333:role/x:y", "arn:aws:iam::111122223333:role/"})
	case 10:
		return ""
	}
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", p, a, role, pick(r, poolSessions))
}

func randomResources(r *rand.Rand) any {
	bucket := pick(r, poolBuckets)
	dir := func(arn string) map[string]any {
		return map[string]any{"accountId": "111122223333", "type": "AWS::S3Express::DirectoryBucket", "ARN": arn}
	}
	ap := func(arn string) map[string]any {
		return map[string]any{"accountId": "111122223333", "type": "AWS::S3::AccessPoint", "ARN": arn}
	}
	apARN := "arn:aws:s3express:us-east-1:111122223333:accesspoint/" + pick(r, poolAccessPoints)
	switch r.IntN(13) {
	case 10: // through an access point (S3 user guide, "Monitoring and logging access points for directory buckets")
		return []any{ap(apARN), dir("arn:aws:s3express:us-east-1:111122223333:bucket/" + bucket)}
	case 11: // malformed access point ARNs before a good one
		return []any{ap("arn:aws:s3express:us-east-1:111122223333:accesspoint/"), ap("arn:aws:s3express:us-east-1:111122223333:accesspoint/a/b"),
			ap("arn:aws:s3:us-east-1:111122223333:accesspoint/x--use1-az4--xa-s3"), ap(apARN), dir("arn:aws:s3express:us-east-1:111122223333:" + bucket)}
	case 12: // the access point alone
		return []any{ap(apARN)}
	case 0:
		return nil
	case 1:
		return []any{}
	case 2:
		return []any{dir("arn:aws:s3express:us-east-1:111122223333:bucket/" + bucket)}
	case 3:
		return []any{map[string]any{"type": "AWS::S3Express::Object", "ARNPrefix": "arn:aws:s3express:us-east-1:111122223333:bucket/" + bucket + "/k"},
			dir("arn:aws:s3express:us-east-1:111122223333:" + bucket)}
	case 4:
		return []any{dir("arn:aws:s3express:us-east-1:111122223333:bucket/bucket/x"), dir("arn:aws:s3express:us-east-1:111122223333:bucket/" + bucket)}
	case 5:
		return []any{dir("arn:aws:s3express:us-east-1:111122223333:bucket/"), map[string]any{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}}
	case 6:
		return []any{nil, 7, map[string]any{"type": "AWS::S3Express::DirectoryBucket"}, dir("arn:aws:s3:us-east-1:111122223333:bucket/" + bucket)}
	case 7:
		return []any{dir("arn:aws:s3express:us-east-1:111122223333:bucket/a:b"), dir("arn:aws:s3express:us-east-1:111122223333")}
	case 8:
		return "not an array"
	}
	return []any{dir("arn:aws-cn:s3express:cn-north-1:111122223333:" + bucket)}
}

// randomRecord returns one record as JSON, id its eventID.
func randomRecord(r *rand.Rand, id int) json.RawMessage {
	m := map[string]any{
		"eventVersion": "1.09",
		"eventID":      fmt.Sprintf("fz-%06d", id),
		"eventTime":    time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(5*24*3600)) * time.Second).Format(time.RFC3339),
		"eventSource":  "s3express.amazonaws.com",
		"awsRegion":    "us-east-1",
	}
	switch r.IntN(30) {
	case 0:
		delete(m, "eventSource")
	case 1:
		m["eventSource"] = ""
	case 2:
		m["eventSource"] = "s3.amazonaws.com"
	}
	switch r.IntN(25) {
	case 0:
		m["eventName"] = ""
	case 1:
	default:
		m["eventName"] = pick(r, poolOps)
	}
	switch r.IntN(25) {
	case 0:
	case 1:
		m["userIdentity"] = nil
	case 2:
		m["userIdentity"] = map[string]any{}
	default:
		uid := map[string]any{"type": pick(r, poolTypes)}
		for k, v := range map[string]string{"arn": randomARN(r), "accountId": pick(r, poolAccounts), "invokedBy": pick(r, poolInvokedBy), "principalId": pick(r, []string{"", "AROAEXAMPLE:s"})} {
			if v != "" || r.IntN(3) == 0 {
				uid[k] = v
			}
		}
		m["userIdentity"] = uid
	}
	if s := pick(r, poolSources); s != "" || r.IntN(2) == 0 {
		m["sourceIPAddress"] = s
	}
	if v := pick(r, poolVPCE); v != "" {
		m["vpcEndpointId"] = v
	}
	if r.IntN(5) == 0 {
		m["errorCode"] = "AccessDenied"
	}
	switch r.IntN(4) {
	case 0:
	case 1:
		m["requestParameters"] = nil
	default:
		rp := map[string]any{"key": "k", "Host": "h"}
		if b := pick(r, poolBuckets); b != "" || r.IntN(2) == 0 {
			rp["bucketName"] = b
		}
		m["requestParameters"] = rp
	}
	if res := randomResources(r); res != nil {
		m["resources"] = res
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// Allowlist value pools. Some values are invalid on purpose (the loader
// rejects them, and the entry is drawn again).
var allowPools = map[string][]string{
	"principals": {
		"arn:aws:iam::111122223333:role/etl-*", "arn:*:iam::111122223333:role/etl?loader", "arn:aws:iam::*:role/analyst",
		"arn:aws:iam::1111222233??:role/*", "arn:aws:iam::111122223333:role/team/etl_?", "arn:aws:iam::111122223333:role/etl_x",
		"arn:aws:iam::111122223333:role/*-role", "arn:aws:iam::111122223333:role/?-role", "arn:aws:iam::111122223333:user/reporting",
		"arn:aws:iam::*:user/a_b", "arn:aws:iam::111122223333:root", "arn:aws-cn:iam::*:role/*",
		"arn:aws:sts::111122223333:assumed-role/etl-loader/*", "arn:aws:sts::*:assumed-role/analyst/s?ss-7",
		"arn:aws:sts::111122223333:assumed-role/etl-loader/?", "arn:aws:sts::111122223333:assumed-role/etl_x/%",
		"arn:aws:sts::111122223333:federated-user/*", "arn:aws:sts::111122223333:assumed-role/admin/a_b",
		"arn:aws:sts::*:assumed-role/*/x/y", "arn:aws:sts::111122223333:assumed-role/etl-export/*?",
	},
	"accounts":      {"111122223333", "444455556666", "999988887777"},
	"services":      {"lifecycle.s3.amazonaws.com", "gamma.lifecycle.s3.amazonaws.com"},
	"sources":       {"10.0.0.0/8", "::/0", "0.0.0.0/0", "2600:1f18:abcd::/48", "::ffff:10.0.0.0/104", "10.1.2.3", "192.168.0.0/16", "::1", "64:ff9b::/96", "::ffff:0:0/96", "::/1"},
	"vpc_endpoints": {"vpce-0a1b2c3d4e5f60718", "vpce-0a1b2c3d", "vpce-11111111"},
	"access_points": {"reports--use1-az4--xa-s3", "r?p--use1-az4--xa-s3", "r_p--use1-az4--xa-s3", "re*--xa-s3", "other--use1-az?--xa-s3"},
	"buckets":       {"analytics--use1-az4--x-s3", "logs-*--x-s3", "*", "?*", "scratch--use1-az?--x-s3", "a*b*", "*--x-s3", "logs-app--use1-az4--x-s?"},
	"operations":    {"GetObject", "Put*", "*Bucket*", "*", "?etObject", "CreateSession", "Delete*", "Get*t", "??????????"},
}

var allowFields = []string{"principals", "accounts", "services", "sources", "vpc_endpoints", "buckets", "access_points", "operations"}

// randomAllowlist returns a valid allowlist of 1 to 5 entries.
func randomAllowlist(r *rand.Rand) (*rules.Allowlist, string) {
	for {
		var b strings.Builder
		b.WriteString("version: 1\nallow:\n")
		for i := range 1 + r.IntN(5) {
			fmt.Fprintf(&b, "  - name: e%d\n", i)
			fields := 0
			for _, f := range allowFields {
				if r.IntN(3) != 0 {
					continue
				}
				fields++
				var vals []string
				for range 1 + r.IntN(3) {
					v, _ := json.Marshal(pick(r, allowPools[f]))
					vals = append(vals, string(v))
				}
				fmt.Fprintf(&b, "    %s: [%s]\n", f, strings.Join(vals, ", "))
			}
			if fields == 0 {
				fmt.Fprintf(&b, "    operations: [%q]\n", pick(r, allowPools["operations"]))
			}
		}
		src := b.String()
		if a, err := rules.Parse("random.yaml", []byte(src)); err == nil {
			return a, src
		}
	}
}

// edgeARNs meet the patterns of the corner allowlist and the pools on the
// edges that tell LIKE from the glob: '_' and '%' in names, and '?' (one
// byte) against a two-byte character.
var edgeARNs = []string{
	"arn:aws:sts::111122223333:assumed-role/etl-loader/é",
	"arn:aws:sts::111122223333:assumed-role/etl-loader/s",
	"arn:aws:sts::111122223333:assumed-role/etl-loader/ab",
	"arn:aws:sts::111122223333:assumed-role/etl_x/%",
	"arn:aws:sts::111122223333:assumed-role/etlxx/%",
	"arn:aws:sts::111122223333:assumed-role/etlxloader/s",
	"arn:aws:iam::111122223333:user/a_b",
	"arn:aws:iam::444455556666:user/axb",
	"arn:aws:iam::444455556666:user/a_b",
	"arn:aws:sts::111122223333:assumed-role/é-role/s",
	"arn:aws:sts::111122223333:assumed-role/x-role/s",
	"arn:aws:sts::444455556666:assumed-role/analyst/séss-7",
	"arn:aws:sts::444455556666:assumed-role/analyst/sess-7",
	"arn:aws:sts::111122223333:assumed-role/etl-export/é",
	"arn:aws:iam::111122223333:role/team/etl_é",
	"arn:aws:iam::111122223333:role/team/etl_x",
	"arn:aws:sts::999988887777:assumed-role/admin/x/y",
}

// edgeRecords crosses the edge ARNs with every source, and every operation
// with every bucket, so each edge is met whatever the seed.
func edgeRecords() []json.RawMessage {
	var out []json.RawMessage
	add := func(m map[string]any) {
		m["eventVersion"] = "1.09"
		m["eventID"] = fmt.Sprintf("edge-%05d", len(out))
		m["eventTime"] = "2026-11-20T12:00:00Z"
		m["eventSource"] = "s3express.amazonaws.com"
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	for i, arn := range edgeARNs {
		for j, src := range poolSources {
			add(map[string]any{
				"userIdentity":      map[string]any{"type": "AssumedRole", "arn": arn, "accountId": "111122223333"},
				"eventName":         poolOps[(i+j)%len(poolOps)],
				"sourceIPAddress":   src,
				"requestParameters": map[string]any{"bucketName": poolBuckets[(i+j)%len(poolBuckets)]},
			})
		}
	}
	for i, op := range poolOps {
		for j, b := range poolBuckets {
			for k, res := range []any{
				[]any{map[string]any{"type": "AWS::S3Express::DirectoryBucket", "ARN": "arn:aws:s3express:us-east-1:111122223333:bucket/" + b}},
				[]any{map[string]any{"type": "AWS::S3Express::DirectoryBucket", "ARN": "arn:aws:s3express:us-east-1:111122223333:" + b}},
				nil,
			} {
				m := map[string]any{
					"userIdentity": map[string]any{"type": []string{"AWSService", "AssumedRole"}[k%2], "invokedBy": "lifecycle.s3.amazonaws.com",
						"arn": edgeARNs[(i+j)%len(edgeARNs)], "accountId": "111122223333"},
					"eventName":       op,
					"sourceIPAddress": poolSources[(i+j+k)%len(poolSources)],
				}
				if res != nil {
					m["resources"] = res
				} else {
					m["requestParameters"] = map[string]any{"bucketName": b}
				}
				add(m)
			}
		}
	}
	return out
}

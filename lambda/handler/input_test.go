package handler

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/ownrole"
	"github.com/s3xguard/s3xguard/rules"
)

const acct = "123456789012"

func testHandler(t testing.TB) *Handler {
	t.Helper()
	al, err := rules.Parse("allow.yaml", []byte("version: 1\nallow:\n  - name: etl\n    principals: [\"arn:aws:iam::123456789012:role/etl\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownrole.Parse("arn:aws:iam::123456789012:role/service/guard-fn")
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{Config: &config.Config{AccountID: acct, Region: "us-east-1", GuardedBuckets: map[string]bool{"data--use1-az4--x-s3": true}},
		Allowlist: al, Own: own}
}

// event is an S3 Express CloudTrail event as EventBridge delivers it;
// edit changes the envelope (detail under "detail").
func event(role, name string, edit func(env map[string]any)) []byte {
	detail := map[string]any{
		"eventVersion": "1.09", "eventID": "ev-1", "eventSource": "s3express.amazonaws.com", "eventName": name,
		"awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "recipientAccountId": acct,
		"userIdentity":      map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::" + acct + ":assumed-role/" + role + "/s", "accountId": acct},
		"requestParameters": map[string]any{"bucketName": "data--use1-az4--x-s3"},
	}
	env := map[string]any{"version": "0", "id": "eb", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3express",
		"account": acct, "region": "us-east-1", "detail": detail}
	if edit != nil {
		edit(env)
	}
	b, _ := json.Marshal(env)
	return b
}

func TestClassify(t *testing.T) {
	h := testHandler(t)
	bare, _ := json.Marshal(map[string]any{"eventSource": "s3express.amazonaws.com", "eventName": "PutObject",
		"userIdentity": map[string]any{"arn": "arn:aws:sts::" + acct + ":assumed-role/etl/s"}})
	for _, tc := range []struct {
		name  string
		in    []byte
		kind  alert.Kind // "" = no alert
		class string
		rule  string
	}{
		{"unauthorized", event("writer", "PutObject", nil), alert.KindUnauthorized, "", ""},
		{"allowed", event("etl", "PutObject", nil), "", "", "etl"},
		{"own policy write", event("guard-fn", "PutBucketPolicy", nil), "", "", ownrole.Rule},
		{"own role, object write", event("guard-fn", "PutObject", nil), alert.KindUnauthorized, "", ""},
		{"own policy write, unguarded bucket", event("guard-fn", "DeleteBucketPolicy", func(e map[string]any) {
			e["detail"].(map[string]any)["requestParameters"] = map[string]any{"bucketName": "other--use1-az4--x-s3"}
		}), alert.KindUnauthorized, "", ""},
		{"empty", nil, alert.KindInvalid, "empty", ""},
		{"blank", []byte(" \n"), alert.KindInvalid, "empty", ""},
		{"not json", []byte("hello"), alert.KindInvalid, "not-json", ""},
		{"array", []byte("[1]"), alert.KindInvalid, "not-object", ""},
		{"other object", []byte(`{"a":1}`), alert.KindInvalid, "not-event", ""},
		{"bare record", bare, alert.KindForged, "bare-record", ""},
		{"wrong source", event("etl", "PutObject", func(e map[string]any) { e["source"] = "my.app" }), alert.KindForged, "source=my.app", ""},
		{"wrong detail-type", event("etl", "PutObject", func(e map[string]any) { e["detail-type"] = "x" }), alert.KindForged, "detail-type=x", ""},
		{"other account", event("writer", "PutObject", func(e map[string]any) { e["account"] = "210987654321" }), alert.KindForged, "account=210987654321", ""},
		{"other region", event("writer", "PutObject", func(e map[string]any) { e["region"] = "eu-west-1" }), alert.KindForged, "region=eu-west-1", ""},
		{"other recipient", event("writer", "PutObject", func(e map[string]any) {
			e["detail"].(map[string]any)["recipientAccountId"] = "210987654321"
		}), alert.KindForged, "recipientAccountId=210987654321", ""},
		{"wrong field type", event("writer", "PutObject", func(e map[string]any) { e["detail"].(map[string]any)["eventName"] = 7 }),
			alert.KindInvalid, "field:eventName", ""},
		{"no userIdentity", event("writer", "PutObject", func(e map[string]any) { delete(e["detail"].(map[string]any), "userIdentity") }),
			alert.KindInvalid, "record:S3 Express record has no userIdentity", ""},
	} {
		c := h.classify(tc.in, "invoke")
		var kind alert.Kind
		if c.alert != nil {
			kind = c.alert.Kind
			if c.alert.ID == "" || len(c.alert.Decision.Reasons) == 0 && kind != alert.KindUnauthorized {
				t.Errorf("%s: alert without ID or reason: %+v", tc.name, c.alert)
			}
		}
		if kind != tc.kind || c.class != tc.class || c.rule != tc.rule {
			t.Errorf("%s: got kind %q class %q rule %q; want %q %q %q", tc.name, kind, c.class, c.rule, tc.kind, tc.class, tc.rule)
		}
	}
}

// Different malformed inputs, or one from two sources, are different keys.
func TestInvalidKeys(t *testing.T) {
	h := testHandler(t)
	key := func(in []byte, input string) string {
		c := h.classify(in, input)
		return dedupKey(c.alert, c.class)
	}
	a, b := key([]byte("x"), "invoke"), key([]byte("[1]"), "invoke")
	if a == b {
		t.Errorf("not JSON and not an object share a key: %q", a)
	}
	if key([]byte("x"), "invoke") == key([]byte("x"), "sqs:arn:aws:sqs:us-east-1:1:q") {
		t.Error("one input from two sources shares a key")
	}
	if key([]byte("x"), "invoke") != key([]byte("y"), "invoke") {
		t.Error("two inputs of one class and source are different keys")
	}
	long := key(event(strings.Repeat("r", 5000), "PutObject", func(e map[string]any) { e["source"] = "x" }), "invoke")
	if len(long) > 1024 || !strings.Contains(long, "~") {
		t.Errorf("a 5000-character principal gives a key of %d bytes: %q", len(long), long)
	}
	if key([]byte("\xff\xfe"), "invoke") != strings.ToValidUTF8(key([]byte("\xff\xfe"), "invoke"), "") {
		t.Error("key is not valid UTF-8")
	}
}

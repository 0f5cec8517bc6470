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

// TestRoute: only the strict reader's view of a payload picks its path.
// A duplicate name, a name in another case or invalid UTF-8 never turns an
// event into a sweep or a batch, nor a forged batch into one: such a
// payload is one input, and classify reports it.
func TestRoute(t *testing.T) {
	ev := string(event("writer", "PutObject", nil))
	withMembers := func(members string) string { return ev[:len(ev)-1] + "," + members + "}" }
	sqsMsg := func(body string) string {
		b, _ := json.Marshal(body)
		return `{"eventSource":"aws:sqs","messageId":"m1","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:events","body":` + string(b) + `}`
	}
	sweep := `{"version":"0","id":"s","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","region":"us-east-1","detail":{}}`
	for _, tt := range []struct {
		name, payload string
		want          int
	}{
		{"event", ev, routeEvent},
		{"sweep", sweep, routeSweep},
		{"batch", `{"Records":[` + sqsMsg(ev) + `]}`, routeSQS},
		{"event with a second source and detail-type of the sweep", withMembers(`"source":"aws.events","detail-type":"Scheduled Event"`), routeEvent},
		{"event with case variants of the sweep's names", withMembers(`"Source":"aws.events","Detail-Type":"Scheduled Event"`), routeEvent},
		{"event with a case variant of Records", withMembers(`"records":[` + sqsMsg(ev) + `]`), routeEvent},
		{"sweep with a duplicate source", sweep[:len(sweep)-1] + `,"source":"aws.s3express"}`, routeEvent},
		{"batch named in another case", `{"records":[` + sqsMsg(ev) + `]}`, routeEvent},
		{"batch message with eventSource in another case", `{"Records":[{"EventSource":"aws:sqs","messageId":"m1","body":"x"}]}`, routeEvent},
		{"batch with two Records members", `{"Records":[` + sqsMsg(ev) + `],"Records":[]}`, routeEvent},
		{"batch message with a duplicate body", `{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"a","body":"b"}]}`, routeEvent},
		{"batch with a message from elsewhere", `{"Records":[` + sqsMsg(ev) + `,{"eventSource":"aws:s3","messageId":"m2","body":"x"}]}`, routeEvent},
		{"batch with invalid UTF-8", "{\"Records\":[{\"eventSource\":\"aws:sqs\",\"messageId\":\"m1\",\"body\":\"\xff\"}]}", routeEvent},
		{"batch message body not a string", `{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":{"a":1}}]}`, routeEvent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := route([]byte(tt.payload)); got != tt.want {
				t.Fatalf("route %d; want %d", got, tt.want)
			}
		})
	}
	// Exact names only: a message's MessageID in another case names nothing.
	_, sq := route([]byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"real","MessageID":"forged","body":"x"}]}`))
	if len(sq.Records) != 1 || sq.Records[0].MessageId != "real" || sq.Records[0].Body != "x" {
		t.Fatalf("batch %+v; want one message, ID real", sq.Records)
	}
}

// TestForgedRoutingReported: what route sends on as one input is
// reported, never dropped: a payload the strict reader refuses is an
// invalid input, one whose case variants it ignores is judged as the
// event it is.
func TestForgedRoutingReported(t *testing.T) {
	h := testHandler(t)
	ev := string(event("writer", "PutObject", nil))
	for _, tt := range []struct {
		name, payload string
		kind          alert.Kind
	}{
		{"duplicate names", ev[:len(ev)-1] + `,"source":"aws.events","detail-type":"Scheduled Event"}`, alert.KindInvalid},
		{"case variants", ev[:len(ev)-1] + `,"Source":"aws.events","Detail-Type":"Scheduled Event"}`, alert.KindUnauthorized},
		{"batch in another case", `{"records":[{"eventSource":"aws:sqs","messageId":"m1","body":"x"}]}`, alert.KindInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r, _ := route([]byte(tt.payload)); r != routeEvent {
				t.Fatalf("route %d; want one input", r)
			}
			c := h.classify([]byte(tt.payload), "invoke")
			if c.alert == nil || c.alert.Kind != tt.kind {
				t.Fatalf("classified %+v; want a %s alert", c, tt.kind)
			}
		})
	}
}

// BenchmarkRoute is routing's cost on the per-event path: one EventBridge
// event, the payload most invocations carry.
func BenchmarkRoute(b *testing.B) {
	ev := event("writer", "PutObject", nil)
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		if r, _ := route(ev); r != routeEvent {
			b.Fatal(r)
		}
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/s3xguard/s3xguard/test/harness"
)

// sessionAllowlist adds, to the e2e allowlist, the loader role from
// anywhere: its calls are allowed, so only SESSION_CHECK can catch a
// stolen token of it.
var sessionAllowlist = strings.Replace(allowlist, "protected:", `  - name: loader
    principals: ["arn:aws:iam::123456789012:role/loader"]
protected:`, 1)

// newSessionWorld is the e2e world with the loader role (path
// /pipelines/) and sessionAllowlist.
func newSessionWorld(t *testing.T, env map[string]string) *world {
	w := newWorld(t, env)
	w.createRole("loader", "/pipelines/")
	if err := os.WriteFile(w.env["ALLOWLIST"], []byte(sessionAllowlist), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

const loaderARN = "arn:aws:iam::123456789012:role/pipelines/loader"

// zonal is an S3 Express event: a CreateSession by role that returned key
// (issuer the role's ARN with its path), or a zonal call of role signed
// with key. envAccount, when set, forges the envelope's account.
type zonal struct {
	role, issuer, name, key, ip, vpce, envAccount string
}

func (z zonal) json() []byte {
	id := map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLE:s", "arn": session(z.role), "accountId": account}
	detail := map[string]any{
		"eventVersion": "1.09", "eventID": fmt.Sprintf("e2e-%d", eventSeq.Add(1)), "eventTime": time.Now().UTC().Format(time.RFC3339),
		"eventSource": "s3express.amazonaws.com", "eventName": z.name, "eventType": "AwsApiCall", "eventCategory": "Data",
		"awsRegion": harness.Region, "sourceIPAddress": z.ip, "userAgent": "aws-sdk-go-v2/1.0", "readOnly": true,
		"recipientAccountId": account, "userIdentity": id, "requestParameters": map[string]any{"bucketName": bucket},
		"additionalEventData": map[string]any{"availabilityZone": "use1-az4"},
	}
	if z.vpce != "" {
		detail["vpcEndpointId"] = z.vpce
	}
	if z.name == "CreateSession" {
		id["accessKeyId"] = "ASIAIAMCREDENTIALS"
		id["sessionContext"] = map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": z.issuer, "accountId": account}}
		detail["requestParameters"].(map[string]any)["x-amz-create-session-mode"] = "ReadWrite"
		detail["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": z.key}}
	} else {
		id["accessKeyId"] = z.key
		detail["requestParameters"].(map[string]any)["key"] = "data/part-0001.parquet"
	}
	envAccount := account
	if z.envAccount != "" {
		envAccount = z.envAccount
	}
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "eb-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3express",
		"account": envAccount, "time": time.Now().UTC().Format(time.RFC3339), "region": harness.Region, "detail": detail,
	})
	return b
}

func createdBy(role, issuer, key, ip string) zonal {
	return zonal{role: role, issuer: issuer, name: "CreateSession", key: key, ip: ip}
}

func getObject(role, key, ip string) zonal {
	return zonal{role: role, name: "GetObject", key: key, ip: ip}
}

func invokeAll(t *testing.T, fn *harness.Lambda, events ...zonal) {
	t.Helper()
	for _, e := range events {
		if r := fn.MustInvoke(t, e.json()); r.Err != "" {
			t.Fatalf("%s %s from %s: %s\n%s", e.name, e.key, e.ip, r.Err, fn.Log())
		}
	}
}

// The stolen token: a session created from 10.0.0.0/8 and used from a
// public address is alerted as session-moved, carrying the session, even
// though the allowlist allows the role; the same key from the session's
// network is not. The session is created on one instance and used on
// another: the index is the table, not one instance's memory.
func TestSessionStolenToken(t *testing.T) {
	w := newSessionWorld(t, map[string]string{"SESSION_CHECK": "alert"})
	a, b := w.function(), w.function()
	create := createdBy("loader", loaderARN, "ASIASESSIONKEY1", "10.1.2.3")
	invokeAll(t, a, create)
	invokeAll(t, b, getObject("loader", "ASIASESSIONKEY1", "10.1.2.77"), getObject("loader", "ASIASESSIONKEY1", "10.1.2.3"))
	if got := w.alerts(2 * time.Second); len(got) != 0 {
		t.Fatalf("the session used from its own network: %d alerts: %+v", len(got), got)
	}

	invokeAll(t, b, getObject("loader", "ASIASESSIONKEY1", "203.0.113.9"), getObject("loader", "ASIASESSIONKEY1", "203.0.113.9"))
	got := w.alerts(2 * time.Second)
	if len(got) != 1 {
		t.Fatalf("stolen token used twice from 203.0.113.9: %d alerts; want 1 (the second counted)", len(got))
	}
	al := got[0]
	if al.Attributes["kind"] != "session-moved" || al.Attributes["severity"] != "high" ||
		!strings.HasPrefix(al.Subject, "[s3xguard HIGH] session-moved GetObject on "+bucket+" by role/loader") {
		t.Errorf("attributes %v, subject %q", al.Attributes, al.Subject)
	}
	for k, want := range map[string]any{
		"issuer": loaderARN, "sourceIPAddress": "10.1.2.3", "mode": "ReadWrite",
	} {
		if v := field(al.Doc, "session", k); v != want {
			t.Errorf("session.%s = %v; want %v", k, v, want)
		}
	}
	if id, _ := field(al.Doc, "session", "eventID").(string); !strings.HasPrefix(id, "e2e-") {
		t.Errorf("session.eventID = %q; want the CreateSession's", id)
	}
	if field(al.Doc, "decision", "rule") != "loader" || field(al.Doc, "response", "action") != "alert only" ||
		field(al.Doc, "response", "detail") != "SESSION_CHECK=alert: a moved session is alerted, not quarantined" {
		t.Errorf("decision %v, response %v", field(al.Doc, "decision"), field(al.Doc, "response"))
	}
	if r := fmt.Sprint(field(al.Doc, "decision", "reasons")); !strings.Contains(r, "created from 10.1.2.3, used from 203.0.113.9") {
		t.Errorf("reasons %s; want the session-moved reason", r)
	}
}

// With SESSION_CHECK=enforce the moved session's role is quarantined by
// the issuer's ARN, path included, without any iam:GetRole.
func TestSessionEnforceUsesIssuer(t *testing.T) {
	w := newSessionWorld(t, map[string]string{"SESSION_CHECK": "enforce", "RESPONSE_MODE": "enforce"})
	fn := w.function()
	invokeAll(t, fn, createdBy("loader", loaderARN, "ASIASESSIONKEY2", "10.1.2.3"))
	w.proxy.Reset()
	invokeAll(t, fn, getObject("loader", "ASIASESSIONKEY2", "198.51.100.20"))
	if got := w.denied(); !slices.Equal(got, []string{loaderARN}) {
		t.Fatalf("denied = %q; want the issuer %s", got, loaderARN)
	}
	if c := w.proxy.Calls(); c["iam:GetRole"] != 0 {
		t.Errorf("calls: %s; want no iam:GetRole (the issuer names the role with its path)", harness.FormatCalls(c))
	}
	got := w.alerts(2 * time.Second)
	if len(got) != 1 || got[0].Attributes["kind"] != "session-moved" || got[0].Attributes["action"] != "quarantined" {
		t.Fatalf("alerts %+v; want one session-moved, quarantined", got)
	}

	// Without SESSION_CHECK=enforce an unauthorized call is still
	// attributed: the writer role (path /app/team/) is quarantined by its
	// session's issuer, again without GetRole.
	w.proxy.Reset()
	invokeAll(t, fn, createdBy("writer", "arn:aws:iam::123456789012:role/app/team/writer", "ASIASESSIONKEY3", "10.9.9.9"))
	if got := w.denied(); !slices.Contains(got, "arn:aws:iam::123456789012:role/app/team/writer") {
		t.Fatalf("denied = %q; want the writer by its issuer ARN", got)
	}
	if c := w.proxy.Calls(); c["iam:GetRole"] != 0 {
		t.Errorf("calls: %s; want no iam:GetRole", harness.FormatCalls(c))
	}
}

// Dry-run is honoured: SESSION_CHECK=enforce with RESPONSE_MODE=dry-run
// says what it would deny (the issuer, by its path) and changes nothing.
func TestSessionEnforceDryRun(t *testing.T) {
	w := newSessionWorld(t, map[string]string{"SESSION_CHECK": "enforce", "RESPONSE_MODE": "dry-run"})
	fn := w.function()
	invokeAll(t, fn, createdBy("loader", loaderARN, "ASIASESSIONKEY6", "10.1.2.3"))
	w.proxy.Reset()
	invokeAll(t, fn, getObject("loader", "ASIASESSIONKEY6", "198.51.100.20"))
	got := w.alerts(2 * time.Second)
	if len(got) != 1 {
		t.Fatalf("%d alerts; want 1", len(got))
	}
	stmt, _ := field(got[0].Doc, "response", "statement").(string)
	if got[0].Attributes["action"] != "would quarantine" || !strings.Contains(stmt, `"`+loaderARN+`"`) {
		t.Fatalf("alerts %+v; want one, would quarantine %s", got, loaderARN)
	}
	if p := w.policy(); p != "" {
		t.Errorf("dry run wrote a bucket policy: %s", p)
	}
	if c := w.proxy.Calls(); c["iam:GetRole"] != 0 || c["s3express:PUT?policy"] != 0 {
		t.Errorf("calls: %s; want no iam:GetRole and no policy write", harness.FormatCalls(c))
	}
}

// A forged CreateSession (the envelope of another account) plants nothing:
// it cannot claim a key was created where the thief uses it (hiding the
// theft), nor create a session to make an honest call look moved.
func TestSessionForgedCreateSessionPlantsNothing(t *testing.T) {
	w := newSessionWorld(t, map[string]string{"SESSION_CHECK": "alert"})
	fn := w.function()
	forged := createdBy("loader", loaderARN, "ASIASESSIONKEY4", "203.0.113.9")
	forged.envAccount = "210987654321"
	invokeAll(t, fn, forged)
	db := dynamodb.NewFromConfig(w.cfg)
	it := must(db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "session#ASIASESSIONKEY4"}}}))
	if len(it.Item) != 0 {
		t.Fatalf("a forged CreateSession was indexed: %v", it.Item)
	}
	if got := w.alerts(2 * time.Second); len(got) != 1 || got[0].Attributes["kind"] != "forged" {
		t.Fatalf("forged CreateSession: %+v; want one forged alert", got)
	}
	// The genuine session, then the thief: still caught on a fresh
	// instance, which reads the table.
	invokeAll(t, fn, createdBy("loader", loaderARN, "ASIASESSIONKEY4", "10.1.2.3"))
	invokeAll(t, w.function(), getObject("loader", "ASIASESSIONKEY4", "203.0.113.9"))
	if got := w.alerts(2 * time.Second); len(got) != 1 || got[0].Attributes["kind"] != "session-moved" {
		t.Fatalf("after a forged CreateSession: %+v; want the theft alerted", got)
	}
}

// DynamoDB failing or hanging on session lookups fails no allowed call and
// loses no alert: the lookups fail open (the session unknown), and after a
// failure an instance pauses them, so a hanging table costs one slow
// lookup, not one per event.
func TestSessionLookupFaults(t *testing.T) {
	for _, f := range []harness.Fault{{Service: "dynamodb", Action: "GetItem", Status: 500}, {Service: "dynamodb", Action: "GetItem", Hang: true}} {
		name := "HTTP 500"
		if f.Hang {
			name = "hang"
		}
		t.Run(name, func(t *testing.T) {
			w := newSessionWorld(t, map[string]string{"SESSION_CHECK": "alert"})
			a := w.function()
			invokeAll(t, a, createdBy("loader", loaderARN, "ASIASESSIONKEY5", "10.1.2.3"))
			fn := w.function() // knows nothing: must read the table
			invokeAll(t, fn, getObject("loader", "ASIAWARM", "10.1.2.3"))
			w.proxy.Reset()
			w.proxy.Inject(&f)
			const n = 10
			for range n {
				invokeAll(t, fn, getObject("loader", "ASIASESSIONKEY5", "10.1.2.3"))
			}
			invokeAll(t, fn, getObject("writer", "ASIASESSIONKEY5", "203.0.113.9"))
			got := w.alerts(2 * time.Second)
			if len(got) != 1 || got[0].Attributes["kind"] != "unauthorized" || field(got[0].Doc, "session") != nil {
				t.Fatalf("alerts %+v; want the unauthorized call's, without a session", got)
			}
			if c := w.proxy.Calls(); c["dynamodb:GetItem"] >= n {
				t.Errorf("%d events: %s; want fewer reads than events (lookups paused after a failure)", n+1, harness.FormatCalls(c))
			}
			w.proxy.Clear()
			// Every metric line names every metric: look for a count.
			if !regexp.MustCompile(`"SessionUnchecked":[1-9]`).MatchString(fn.Log()) {
				t.Errorf("no SessionUnchecked count above zero in the log")
			}
		})
	}
}

// TestSessionFigures measures what the session index costs the state
// table: a realistic stream (sessions of several clients, each CreateSession
// followed by many zonal calls, interleaved) in SQS batches over two
// instances, with SESSION_CHECK off and alert.
func TestSessionFigures(t *testing.T) {
	if os.Getenv("S3XGUARD_FIGURES") != "1" {
		t.Skip("S3XGUARD_FIGURES=1 prints the figures")
	}
	const sessions, calls, batch = 40, 100, 100
	rng := rand.New(rand.NewPCG(1, 2))
	// Each session: its CreateSession, then its calls; sessions interleave.
	var queues [][]zonal
	for i := range sessions {
		key := fmt.Sprintf("ASIAFIGURES%04d", i)
		ip := fmt.Sprintf("10.2.%d.%d", i/200, 1+i%200)
		q := []zonal{createdBy("loader", loaderARN, key, ip)}
		for range calls {
			q = append(q, getObject("loader", key, ip))
		}
		queues = append(queues, q)
	}
	var stream []zonal
	for len(queues) > 0 {
		i := rng.IntN(min(len(queues), 8)) // about 8 clients active at once
		stream = append(stream, queues[i][0])
		if queues[i] = queues[i][1:]; len(queues[i]) == 0 {
			queues = slices.Delete(queues, i, i+1)
		}
	}
	for _, mode := range []string{"off", "alert"} {
		w := newSessionWorld(t, map[string]string{"SESSION_CHECK": mode})
		fns := []*harness.Lambda{w.function(), w.function()}
		w.proxy.Reset()
		for i := 0; i < len(stream); i += batch {
			var recs []string
			for j, e := range stream[i:min(i+batch, len(stream))] {
				body, _ := json.Marshal(string(e.json()))
				recs = append(recs, fmt.Sprintf(`{"messageId":"m%d","eventSource":"aws:sqs","body":%s}`, i+j, body))
			}
			r := fns[(i/batch)%2].MustInvoke(t, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`))
			if r.Err != "" || strings.TrimSpace(string(r.Body)) != `{"batchItemFailures":[]}` {
				t.Fatalf("batch: %+v", r)
			}
		}
		if got := w.alerts(time.Second); len(got) != 0 {
			t.Fatalf("SESSION_CHECK=%s: %d alerts on honest traffic", mode, len(got))
		}
		c := w.proxy.Calls()
		reads, writes := c["dynamodb:GetItem"], c["dynamodb:PutItem"]+c["dynamodb:UpdateItem"]
		fmt.Printf("SESSION_CHECK=%-5s %d events (%d sessions x %d calls, interleaved; SQS batches of %d over 2 instances): reads %d (%.4f per event, %.2f per session), writes %d (%.4f per event)  %s\n",
			mode, len(stream), sessions, calls, batch, reads, float64(reads)/float64(len(stream)), float64(reads)/sessions,
			writes, float64(writes)/float64(len(stream)), harness.FormatCalls(c))
	}
}

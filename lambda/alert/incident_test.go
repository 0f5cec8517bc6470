package alert

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

func releasedKey(t *testing.T, r Released) string {
	t.Helper()
	doc, err := r.Document()
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ DedupKey string }
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	return d.DedupKey
}

// The alert's key and its release's key meet whichever ARN each holds:
// the session ARN (no path) of an alert-only page, the role ARN with its
// path the bucket deny names, or the name in another case.
func TestIncidentKeyMeetsTheRelease(t *testing.T) {
	here := Place{Account: "123456789012", Region: "us-east-1"}
	id := cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::123456789012:assumed-role/Writer/s1", AccountID: "123456789012"}
	a := &Alert{Kind: KindSessionMoved, Guarded: here, Record: &cloudtrail.Record{Bucket: "a--use1-az4--x-s3", UserIdentity: id},
		Decision: rules.Decision{Principal: rules.PrincipalOf(id)}}
	rel := Released{Guarded: here, Bucket: "a--use1-az4--x-s3", Principal: "arn:aws:iam::123456789012:role/app/team/writer"}
	if got, want := a.IncidentKey(), releasedKey(t, rel); got != want {
		t.Errorf("alert key %q, release key %q", got, want)
	}
	a.Response.Target = "arn:aws:iam::123456789012:role/app/team/writer"
	if got, want := a.IncidentKey(), releasedKey(t, rel); got != want {
		t.Errorf("quarantined alert key %q, release key %q", got, want)
	}
	for name, r := range map[string]Released{
		"bucket":  {Guarded: here, Bucket: "b--use1-az4--x-s3", Principal: rel.Principal},
		"account": {Guarded: Place{Account: "210987654321", Region: "us-east-1"}, Bucket: rel.Bucket, Principal: rel.Principal},
		"region":  {Guarded: Place{Account: here.Account, Region: "eu-west-1"}, Bucket: rel.Bucket, Principal: rel.Principal},
		"user":    {Guarded: here, Bucket: rel.Bucket, Principal: "arn:aws:iam::123456789012:user/writer"},
	} {
		if releasedKey(t, r) == a.IncidentKey() {
			t.Errorf("another %s has the same incident key", name)
		}
	}
	if k := a.IncidentKey(); len(k) > 255 || url.PathEscape(k) != k || !strings.HasPrefix(k, "s3xguard-123456789012-us-east-1-") {
		t.Errorf("key %q: over PagerDuty's 255 characters, or not path-safe, or not naming the account and region", k)
	}
}

package quarantine

import (
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/state"
)

// Every text the list prints is escaped, and the records themselves are
// left as they are.
func TestPrintable(t *testing.T) {
	rec := &state.Quarantine{Principal: "p\x1b", Reason: "r\x1b[2J", Entity: "role/\u202e", Pending: []string{"bucket\n"}, Note: "n\x07", LastError: "e\u2028", Gone: "g\x9b"}
	got := Printable([]Entry{{Principal: "arn\x1b[31m", Record: rec}})[0]
	r := got.Record
	for name, v := range map[string]string{"principal": got.Principal, "record principal": r.Principal, "reason": r.Reason, "entity": r.Entity,
		"pending": r.Pending[0], "note": r.Note, "lastError": r.LastError, "gone": r.Gone} {
		if strings.ContainsFunc(v, func(r rune) bool {
			return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x202e
		}) || !strings.Contains(v, `\`) {
			t.Errorf("%s = %q: still raw", name, v)
		}
	}
	if rec.Reason != "r\x1b[2J" {
		t.Errorf("the record itself was changed: %q", rec.Reason)
	}
}

// One digest per document whatever its formatting and member order (as
// CloudTrail logs it); any change of content is another digest.
func TestPolicyDigest(t *testing.T) {
	a, _ := PolicyDigest(`{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":["arn:aws:iam::1:role/a"]}}]}`)
	b, _ := PolicyDigest("{\n \"Statement\": [ {\"Principal\":{\"AWS\":[\"arn:aws:iam::1:role/a\"]}, \"Effect\":\"Deny\", \"Sid\":\"S3xguardQuarantine\"} ],\n \"Version\": \"2012-10-17\"}")
	c, _ := PolicyDigest(`{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:role/a"]}}]}`)
	if a != b || a == c || a == "" {
		t.Fatalf("digests %q %q %q; want the first two equal, the third different", a, b, c)
	}
	if d, _ := PolicyDigest(""); d != deletedDigest {
		t.Errorf("digest of no policy = %q", d)
	}
	if _, err := PolicyDigest("{"); err == nil {
		t.Error("digest of invalid JSON: no error")
	}
}

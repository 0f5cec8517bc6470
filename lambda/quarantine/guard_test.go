package quarantine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

func TestUniqueIDsAreDropped(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":["AROAEXAMPLEDELETED01","arn:aws:iam::123456789012:role/b"]},"Action":"s3express:CreateSession","Resource":"` + bucketARN + `"}]}`
	rw, err := Rewrite(doc, bucketARN, Change{Add: []string{"arn:aws:iam::123456789012:role/a"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Principals(rw.Doc)
	if !slices.Equal(got, []string{"arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b"}) || !slices.Equal(rw.Dropped, []string{"AROAEXAMPLEDELETED01"}) {
		t.Fatalf("principals %q, dropped %q; want the unique ID dropped and reported", got, rw.Dropped)
	}
	// Dropping alone is a change: the next write must not carry the ID.
	rw, _ = Rewrite(doc, bucketARN, Change{})
	if !rw.Changed || strings.Contains(rw.Doc, "AROA") {
		t.Fatalf("rewrite with nothing to add kept the unique ID: %s", rw.Doc)
	}
}

// A person may widen our statement's Resource to a list or add a
// Condition: it is still ours (no second statement with the Sid), and
// what they added is kept.
func TestOurStatementWithListResourceAndCondition(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/b"},"Action":"s3express:CreateSession","Resource":["` + bucketARN + `","` + bucketARN + `/*"],"Condition":{"StringEquals":{"s3express:SessionMode":"ReadWrite"}}}]}`
	out, changed, err := AddPrincipals(doc, bucketARN, "arn:aws:iam::123456789012:role/a")
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	st := statements(t, out)
	if len(st) != 1 {
		t.Fatalf("%d statements; want ours only, extended: %s", len(st), out)
	}
	b, _ := json.Marshal(st[0])
	for _, want := range []string{`"Condition":{"StringEquals":{"s3express:SessionMode":"ReadWrite"}}`, `"Resource":["` + bucketARN + `","` + bucketARN + `/*"]`, `role/a","arn:aws:iam::123456789012:role/b"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("statement %s lacks %s", b, want)
		}
	}
}

func TestGuard(t *testing.T) {
	q := &Quarantiner{Account: "123456789012", ProtectedARNs: []string{"arn:aws:iam::123456789012:role/BreakGlass", "arn:aws:iam::123456789012:user/ops/Admin-*"}}
	q.Self = rules.PrincipalOf(cloudtrail.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/guard-fn/x"})
	for arn, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/breakglass/s":                                       "protected by the allowlist",
		"arn:aws:sts::123456789012:assumed-role/BREAKGLASS/s":                                       "protected by the allowlist",
		"arn:aws:iam::123456789012:user/admin-alice":                                                "protected by the allowlist",
		"arn:aws:sts::123456789012:assumed-role/cdk-hnb659fds-deploy-role-123456789012-us-east-1/s": "CDK bootstrap roles",
		"arn:aws:sts::123456789012:assumed-role/Guard-Fn/s":                                         "own role",
		"arn:aws:iam::123456789012:root":                                                            "root",
		"arn:aws:sts::123456789012:assumed-role/intruder/s":                                         "",
		"arn:aws:iam::123456789012:user/bob":                                                        "",
	} {
		got := q.Guard(rules.PrincipalOf(cloudtrail.Identity{ARN: arn, AccountID: "123456789012"}))
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: guard %q; want %q", arn, got, want)
		}
	}
}

func TestRevokable(t *testing.T) {
	q := &Quarantiner{RevokeSessions: true}
	for _, tc := range []struct {
		arn, entity string
		want        bool
	}{
		{"arn:aws:iam::1:role/app/writer", "role/writer", true},
		{"arn:aws:iam::1:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", "role/AWSServiceRoleForECS", false},
		{"arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1", "role/AWSReservedSSO_Admin_1", false},
		{"arn:aws:iam::1:role/OrganizationAccountAccessRole", "role/OrganizationAccountAccessRole", false},
		{"arn:aws:iam::1:role/cdk-hnb659fds-exec", "role/cdk-hnb659fds-exec", false},
		{"arn:aws:iam::1:user/alice", "user/alice", false},
	} {
		if got := q.revokable(target{arn: tc.arn, entity: tc.entity}); got != tc.want {
			t.Errorf("%s: revokable %v; want %v", tc.arn, got, tc.want)
		}
	}
	if (&Quarantiner{}).revokable(target{arn: "arn:aws:iam::1:role/w", entity: "role/w"}) {
		t.Error("revoked without REVOKE_SESSIONS")
	}
}

func TestWithoutPath(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::1:role/app/team/writer": "arn:aws:iam::1:role/writer",
		"arn:aws:iam::1:user/people/alice":    "arn:aws:iam::1:user/alice",
		"arn:aws:sts::1:federated-user/bob":   "arn:aws:sts::1:federated-user/bob",
	} {
		if got := withoutPath(in); got != want {
			t.Errorf("withoutPath(%s) = %s; want %s", in, got, want)
		}
	}
}

func TestTentativeTarget(t *testing.T) {
	q := &Quarantiner{Account: "123456789012"}
	pr := func(arn string) rules.Principal {
		return rules.PrincipalOf(cloudtrail.Identity{ARN: arn, AccountID: "123456789012"})
	}
	for _, tc := range []struct {
		name    string
		session bool
		arn     string
		issuer  string
		want    target
	}{
		{"role: resolved later", false, "arn:aws:sts::123456789012:assumed-role/writer/s1", "",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"role of another account: no lookup, no IAM", false, "arn:aws:sts::999999999999:assumed-role/x/s1", "",
			target{arn: "arn:aws:iam::999999999999:role/x"}},
		{"session target", true, "arn:aws:sts::123456789012:assumed-role/shared/s1", "",
			target{arn: "arn:aws:sts::123456789012:assumed-role/shared/s1"}},
		{"user", false, "arn:aws:iam::123456789012:user/people/alice", "",
			target{arn: "arn:aws:iam::123456789012:user/people/alice", entity: "user/alice"}},
		{"federated user, parent known", false, "arn:aws:sts::123456789012:federated-user/bob", "arn:aws:iam::123456789012:user/bob-parent",
			target{arn: "arn:aws:iam::123456789012:user/bob-parent", entity: "user/bob-parent"}},
		{"federated user, parent unknown", false, "arn:aws:sts::123456789012:federated-user/bob", "",
			target{arn: "arn:aws:sts::123456789012:federated-user/bob"}},
	} {
		q.SessionTarget = tc.session
		got := q.tentative(Request{Principal: pr(tc.arn), IssuerARN: tc.issuer})
		note := got.note
		got.note = ""
		if got != tc.want {
			t.Errorf("%s: target %+v; want %+v", tc.name, got, tc.want)
		}
		if strings.Contains(tc.name, "federated") && !strings.Contains(note, "federated user") ||
			tc.session && !strings.Contains(note, "this role session only") {
			t.Errorf("%s: note %q does not say which was denied", tc.name, note)
		}
	}
}

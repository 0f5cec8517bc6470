package quarantine

import (
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

// Any edit to our statement other than its principals could make it deny
// nobody while it still lists them: Inspect names it, and a rewrite, even
// one that adds nothing, writes back exactly the statement s3xguard writes.
func TestEditedStatementIsRestored(t *testing.T) {
	const principal = `"Principal":{"AWS":["arn:aws:iam::123456789012:role/b"]}`
	stmt := func(fields string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine",` + fields + `}]}`
	}
	intact := `"Effect":"Deny",` + principal + `,"Action":"s3express:CreateSession","Resource":"` + bucketARN + `"`
	for _, tc := range []struct{ name, doc, want string }{
		{"condition", stmt(intact + `,"Condition":{"StringEquals":{"s3express:SessionMode":"ReadWrite"}}`), "Condition added"},
		{"effect", stmt(`"Effect":"Allow",` + principal + `,"Action":"s3express:CreateSession","Resource":"` + bucketARN + `"`), "Effect changed"},
		{"action", stmt(`"Effect":"Deny",` + principal + `,"Action":"s3express:GetObject","Resource":"` + bucketARN + `"`), "Action changed"},
		{"resource", stmt(`"Effect":"Deny",` + principal + `,"Action":"s3express:CreateSession","Resource":"` + bucketARN + `x"`), "Resource changed"},
		{"resource list", stmt(`"Effect":"Deny",` + principal + `,"Action":"s3express:CreateSession","Resource":["` + bucketARN + `","` + bucketARN + `/*"]`), "Resource changed"},
		{"not principal", stmt(intact + `,"NotPrincipal":{"AWS":"*"}`), "NotPrincipal added"},
		{"principal service", stmt(`"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::123456789012:role/b"],"Service":"s3.amazonaws.com"},"Action":"s3express:CreateSession","Resource":"` + bucketARN + `"`), "Principal changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arns, edits, err := Inspect(tc.doc, bucketARN)
			if err != nil || !slices.Equal(arns, []string{"arn:aws:iam::123456789012:role/b"}) || !slices.Contains(edits, tc.want) {
				t.Fatalf("Inspect = %q, %q, %v; want role/b and %q", arns, edits, err, tc.want)
			}
			rw, err := Rewrite(tc.doc, bucketARN, Change{})
			if err != nil || !rw.Changed || !slices.Contains(rw.Restored, tc.want) {
				t.Fatalf("Rewrite changed=%v restored=%q err=%v; want %q restored", rw.Changed, rw.Restored, err, tc.want)
			}
			if _, edits, _ := Inspect(rw.Doc, bucketARN); len(edits) != 0 {
				t.Fatalf("after the rewrite still edited: %q\n%s", edits, rw.Doc)
			}
			if st := statements(t, rw.Doc); len(st) != 1 {
				t.Fatalf("%d statements; want ours only: %s", len(st), rw.Doc)
			}
		})
	}
	// A one-element list where s3xguard writes a string is the same
	// statement: AWS may store either.
	same := stmt(`"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/b"},"Action":["s3express:CreateSession"],"Resource":["` + bucketARN + `"]`)
	if rw, _ := Rewrite(same, bucketARN, Change{}); rw.Changed {
		t.Errorf("an equivalent statement was rewritten: %s", rw.Doc)
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

// Roles that must never be denied whatever the allowlist says: the
// break-glass role (configured), AWS's own roles (by path or by name, since
// a session ARN has no path), the organization's access role, and the CDK
// bootstrap roles of the account's qualifier.
func TestGuardMinors(t *testing.T) {
	q := &Quarantiner{Account: "123456789012", CDKQualifier: "acme42",
		Self:       rules.PrincipalOf(cloudtrail.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/guard-fn/x"}),
		BreakGlass: rules.PrincipalOf(cloudtrail.Identity{ARN: "arn:aws:iam::123456789012:role/ops/BreakGlass"})}
	for arn, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/breakglass/oncall":                                  "break-glass",
		"arn:aws:iam::123456789012:role/ops/BreakGlass":                                             "break-glass",
		"arn:aws:iam::123456789012:role/aws-service-role/s3.amazonaws.com/Anything":                 "AWS manages",
		"arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForS3Express/x":                       "AWS manages",
		"arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/SomeRole":                    "AWS manages",
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice":        "AWS manages",
		"arn:aws:sts::123456789012:assumed-role/OrganizationAccountAccessRole/mgmt":                 "OrganizationAccountAccessRole",
		"arn:aws:sts::123456789012:assumed-role/cdk-acme42-cfn-exec-role-123456789012-us-east-1/s":  "CDK bootstrap roles (cdk-acme42-",
		"arn:aws:sts::123456789012:assumed-role/cdk-hnb659fds-deploy-role-123456789012-us-east-1/s": "",
		"arn:aws:sts::210987654321:assumed-role/BreakGlass/s":                                       "",
		// The sweep reads role ARNs with their path from the statement.
		"arn:aws:iam::123456789012:role/service/guard-fn": "own role",
	} {
		got := q.Guard(rules.PrincipalOf(cloudtrail.Identity{ARN: arn}))
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: guard %q; want %q", arn, got, want)
		}
	}
}

// The sweep's guard for statement entries: the wildcard and a bare account
// ID are refused like the root.
func TestGuardARN(t *testing.T) {
	q := &Quarantiner{Account: "123456789012"}
	for arn, want := range map[string]string{
		"*":                              "wildcard",
		"123456789012":                   "root",
		"arn:aws:iam::123456789012:root": "root",
		"arn:aws:iam::123456789012:role/app/writer": "",
	} {
		if got := q.guardARN(arn); want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: guard %q; want %q", arn, got, want)
		}
	}
}

// One role under many session names, or many paths, is one breaker slot.
func TestSlotWho(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/writer/s1": "arn:aws:iam::123456789012:role/writer",
		"arn:aws:sts::123456789012:assumed-role/writer/s2": "arn:aws:iam::123456789012:role/writer",
		"arn:aws:iam::123456789012:role/app/team/writer":   "arn:aws:iam::123456789012:role/writer",
		"arn:aws:iam::123456789012:user/people/alice":      "arn:aws:iam::123456789012:user/alice",
	} {
		if got := slotWho(arn); got != want {
			t.Errorf("slotWho(%q) = %q; want %q", arn, got, want)
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

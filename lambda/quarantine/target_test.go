package quarantine

import (
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// The issuer a CreateSession logged (the role ARN with its path) is the
// target when it names the call's role: no GetRole, and a role of another
// account with a path is denied by its real ARN. An issuer that names
// anything else is not trusted.
func TestTargetFromIssuer(t *testing.T) {
	q := &Quarantiner{Account: "123456789012"}
	role := func(arn string) rules.Principal { return rules.PrincipalOf(cloudtrail.Identity{ARN: arn}) }
	for _, tc := range []struct {
		name, principal, issuer string
		want                    target
	}{
		{"own account, issuer with path", "arn:aws:sts::123456789012:assumed-role/writer/s", "arn:aws:iam::123456789012:role/app/team/writer",
			target{arn: "arn:aws:iam::123456789012:role/app/team/writer", entity: "role/writer"}},
		{"other account, issuer with path", "arn:aws:sts::210987654321:assumed-role/loader/s", "arn:aws:iam::210987654321:role/pipelines/loader",
			target{arn: "arn:aws:iam::210987654321:role/pipelines/loader"}},
		{"no issuer: GetRole", "arn:aws:sts::123456789012:assumed-role/writer/s", "",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"issuer of another role", "arn:aws:sts::123456789012:assumed-role/writer/s", "arn:aws:iam::123456789012:role/admin",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"issuer in another account", "arn:aws:sts::123456789012:assumed-role/writer/s", "arn:aws:iam::999999999999:role/writer",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"issuer in another partition", "arn:aws:sts::123456789012:assumed-role/writer/s", "arn:aws-cn:iam::123456789012:role/app/writer",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"issuer a role session", "arn:aws:sts::123456789012:assumed-role/writer/s", "arn:aws:sts::123456789012:assumed-role/writer/other",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"issuer a user", "arn:aws:sts::123456789012:assumed-role/writer/s", "arn:aws:iam::123456789012:user/writer",
			target{arn: "arn:aws:iam::123456789012:role/writer", resolve: true, entity: "role/writer"}},
		{"other account, no issuer", "arn:aws:sts::210987654321:assumed-role/loader/s", "",
			target{arn: "arn:aws:iam::210987654321:role/loader"}},
	} {
		got := q.tentative(Request{Principal: role(tc.principal), IssuerARN: tc.issuer})
		if got != tc.want {
			t.Errorf("%s: %+v; want %+v", tc.name, got, tc.want)
		}
	}
	q.SessionTarget = true
	p := role("arn:aws:sts::123456789012:assumed-role/writer/s")
	if got := q.tentative(Request{Principal: p, IssuerARN: "arn:aws:iam::123456789012:role/app/team/writer"}); got.arn != p.ARN {
		t.Errorf("QUARANTINE_TARGET=session with an issuer: %+v; want the session ARN", got)
	}
}

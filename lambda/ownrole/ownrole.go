// Package ownrole recognizes the guard's own calls: the function's
// execution role reads and writes bucket policies (quarantine, release,
// expiry), and those management events come back through the same rule.
// They are allowed, reported with rule s3xguard-self, never alerted.
package ownrole

import (
	"fmt"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// Rule is the rule name an own call is allowed by.
const Rule = "s3xguard-self"

// calls are the bucket-policy calls the function makes itself.
var calls = map[string]bool{"GetBucketPolicy": true, "PutBucketPolicy": true, "DeleteBucketPolicy": true}

// Role is the function's execution role; the zero Role matches nothing.
type Role struct {
	partition, account, name string
}

// Parse reads a role ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME); ""
// is the zero Role.
func Parse(arn string) (Role, error) {
	if arn == "" {
		return Role{}, nil
	}
	p := rules.PrincipalOf(cloudtrail.Identity{ARN: arn})
	if p.Kind != rules.KindRole || !strings.Contains(arn, ":iam::") || p.Account == "" || p.Name == "" {
		return Role{}, fmt.Errorf("own role %q: want a role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)", arn)
	}
	return Role{p.Partition, p.Account, p.Name}, nil
}

// Allows reports whether r is the role's own bucket-policy call: a session
// of the role (or the role) in its account calling Get, Put or
// DeleteBucketPolicy. Role names are unique in an account and the path is
// not logged on sessions, so the name and account identify it.
func (r Role) Allows(rec *cloudtrail.Record, p rules.Principal) bool {
	return r.name != "" && calls[rec.EventName] && p.Kind == rules.KindRole &&
		p.Partition == r.partition && p.Account == r.account && strings.EqualFold(p.Name, r.name)
}

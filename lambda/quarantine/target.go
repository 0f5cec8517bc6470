package quarantine

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// DefaultCDKQualifier is the qualifier `cdk bootstrap` uses unless told
// otherwise; its roles are named cdk-QUALIFIER-*.
const DefaultCDKQualifier = "hnb659fds"

// OrganizationAccessRole is the role AWS Organizations creates in member
// accounts for the management account: never quarantined, since denying
// it can lock the organization out of the account.
const OrganizationAccessRole = "OrganizationAccountAccessRole"

// cdkRoles is the name prefix of the CDK bootstrap roles.
func (q *Quarantiner) cdkRoles() string {
	qual := q.CDKQualifier
	if qual == "" {
		qual = DefaultCDKQualifier
	}
	return "cdk-" + qual + "-"
}

// awsManaged reports whether p is a role AWS manages: service-linked
// (path /aws-service-role/, named AWSServiceRoleFor*) or IAM Identity
// Center's (path /aws-reserved/, named AWSReservedSSO_*). A session ARN has
// no path, so the name decides there.
func awsManaged(p rules.Principal) bool {
	return p.Kind == rules.KindRole && (strings.Contains(p.ARN, ":role/aws-service-role/") || strings.Contains(p.ARN, ":role/aws-reserved/") ||
		hasPrefixFold(p.Name, "AWSServiceRoleFor") || hasPrefixFold(p.Name, "AWSReservedSSO_"))
}

// sameRole reports whether a and b are one role: same account and name
// (IAM role names are case-insensitive), whatever path or session either
// ARN shows.
func sameRole(a, b rules.Principal) bool {
	return a.Kind == rules.KindRole && b.Kind == rules.KindRole && a.Account == b.Account && strings.EqualFold(a.Name, b.Name)
}

// Guard returns why p must never be quarantined, or "".
func (q *Quarantiner) Guard(p rules.Principal) string {
	switch {
	case p.Kind == rules.KindRoot:
		return "the account root is never quarantined"
	case p.Kind != rules.KindRole && p.Kind != rules.KindUser && p.Kind != rules.KindFederated:
		return fmt.Sprintf("a principal of kind %s cannot be named in a bucket policy deny", p.Kind)
	case q.Self.Normalized != "" && (strings.EqualFold(p.Normalized, q.Self.Normalized) || sameRole(p, q.Self)):
		return "the function's own role is never quarantined"
	case sameRole(p, q.BreakGlass):
		return "the break-glass role (BREAK_GLASS_ROLE_ARN) is never quarantined"
	case awsManaged(p):
		return "roles AWS manages (service-linked, IAM Identity Center's aws-reserved) are never quarantined"
	case p.Kind == rules.KindRole && strings.EqualFold(p.Name, OrganizationAccessRole):
		return "the organization's access role (" + OrganizationAccessRole + ") is never quarantined"
	case p.Kind == rules.KindRole && hasPrefixFold(p.Name, q.cdkRoles()):
		return "CDK bootstrap roles (" + q.cdkRoles() + "*, CDK_QUALIFIER) are protected by default"
	case q.Protected != nil && q.Protected(p) || q.protectedByName(p):
		return "the principal is protected by the allowlist"
	}
	return ""
}

// protectedByName matches p against the protected role and user ARNs by
// partition, account and name, ignoring case (IAM names are
// case-insensitive: Admin and admin are one role) and the path.
func (q *Quarantiner) protectedByName(p rules.Principal) bool {
	if p.Kind != rules.KindRole && p.Kind != rules.KindUser {
		return false
	}
	for _, pat := range q.ProtectedARNs {
		parts := strings.SplitN(pat, ":", 6)
		if len(parts) != 6 || parts[2] != "iam" {
			continue
		}
		kind, rest, _ := strings.Cut(parts[5], "/")
		if kind != p.Kind || rest == "" {
			continue
		}
		name := rest[strings.LastIndexByte(rest, '/')+1:]
		if ok, _ := path.Match(parts[4], p.Account); !ok {
			continue
		}
		if ok, _ := path.Match(parts[1], p.Partition); !ok && p.Partition != "" {
			continue
		}
		if ok, _ := path.Match(strings.ToLower(name), strings.ToLower(p.Name)); ok {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// target is what a quarantine denies.
type target struct {
	arn string // in the bucket policy
	// resolve is set while arn is a role of this account named without
	// its path (zonal calls do not log it): GetRole gives the real ARN.
	resolve bool
	// entity is the IAM role or user of this account the IAM response acts
	// on ("role/NAME", "user/NAME"), or "".
	entity string
	note   string
}

// tentative chooses what to deny for r, without any AWS call. A role of
// another account is named without a path: if it has one, AWS rejects the
// policy and nothing changes.
func (q *Quarantiner) tentative(r Request) target {
	p := r.Principal
	switch p.Kind {
	case rules.KindRole:
		if q.SessionTarget && p.Session != "" {
			return target{arn: p.ARN, note: "QUARANTINE_TARGET=session: denied this role session only; other sessions of role/" + p.Name + " keep working, and the IAM response (role-wide) is not applied"}
		}
		t := target{arn: p.Normalized}
		if p.Account == q.Account {
			t.entity = "role/" + p.Name
		}
		if iss, ok := issuerRole(p, r.IssuerARN); ok {
			// The CreateSession that minted the call's credentials named
			// the role with its path: no lookup, and a role of another
			// account with a path can be denied too.
			t.arn = iss
			return t
		}
		t.resolve = p.Account == q.Account
		return t
	case rules.KindUser:
		t := target{arn: p.ARN}
		if p.Account == q.Account {
			t.entity = "user/" + p.Name
		}
		return t
	}
	// A federated user (GetFederationToken) acts with its parent IAM user's
	// permissions: deny the parent when the record names it.
	parent := rules.PrincipalOf(cloudtrail.Identity{ARN: r.IssuerARN})
	if parent.Kind == rules.KindUser {
		if why := q.Guard(parent); why != "" {
			return target{arn: p.ARN, note: "federated user: its parent " + parent.ARN + " is guarded (" + why + "); denied the federated-user ARN only"}
		}
		t := target{arn: parent.ARN, note: "federated user: denied its parent IAM user " + parent.ARN}
		if parent.Account == q.Account {
			t.entity = "user/" + parent.Name
		}
		return t
	}
	return target{arn: p.ARN, note: "federated user: its parent IAM user is not in this record; denied the federated-user ARN only"}
}

// issuerRole returns issuer, a role ARN with its path, when it names p's
// role: same partition, account and name (IAM role names are
// case-insensitive). Anything else is not used.
func issuerRole(p rules.Principal, issuer string) (string, bool) {
	if issuer == "" {
		return "", false
	}
	ip := rules.PrincipalOf(cloudtrail.Identity{ARN: issuer})
	if ip.Kind != rules.KindRole || ip.Session != "" || ip.Account != p.Account || ip.Partition != p.Partition ||
		!strings.EqualFold(ip.Name, p.Name) {
		return "", false
	}
	return issuer, true
}

// resolve looks up the path of a role of this account: zonal calls log the
// role session without it, and a policy naming a role ARN that does not
// exist is rejected (FACTS §3).
func (q *Quarantiner) resolve(ctx context.Context, t *target) error {
	if !t.resolve {
		return nil
	}
	name := strings.TrimPrefix(t.entity, "role/")
	cctx, cancel := q.call(ctx)
	defer cancel()
	out, err := q.IAM.GetRole(cctx, &iam.GetRoleInput{RoleName: &name})
	if err != nil {
		return fmt.Errorf("quarantine: resolve role %s: %w", name, err)
	}
	t.arn, t.resolve = aws.ToString(out.Role.Arn), false
	return nil
}

// resolveRecord resolves the role of a record keyed by the role ARN without
// path, and moves the record to the resolved ARN. A failure is recorded for
// the sweep's next try.
func (q *Quarantiner) resolveRecord(ctx context.Context, bucket, key string) (string, error) {
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return "", err
	}
	rec := recs.Map[key]
	if rec == nil || !rec.Has(state.PartResolve) {
		return key, nil
	}
	t := target{arn: key, resolve: true, entity: rec.Entity}
	if err := q.resolve(ctx, &t); err != nil {
		return "", errors.Join(err, q.failed(context.WithoutCancel(ctx), bucket, key, err))
	}
	err = q.Store.UpdateQuarantines(ctx, bucket, func(m map[string]*state.Quarantine) bool {
		cur := m[key]
		if cur == nil || !cur.Has(state.PartResolve) {
			return false
		}
		delete(m, key)
		cur.Done(state.PartResolve)
		cur.Principal = t.arn
		m[t.arn] = cur
		return true
	})
	return t.arn, err
}

// revokable reports whether the role's sessions may be revoked: opt-in,
// roles of this account only, never AWS's own roles (service-linked,
// Identity Center's /aws-reserved/), the CDK bootstrap roles or the
// organization's access role.
func (q *Quarantiner) revokable(t target) bool {
	if !q.RevokeSessions || !strings.HasPrefix(t.entity, "role/") {
		return false
	}
	name := strings.TrimPrefix(t.entity, "role/")
	return !strings.Contains(t.arn, ":role/aws-service-role/") && !strings.Contains(t.arn, ":role/aws-reserved/") &&
		!hasPrefixFold(name, q.cdkRoles()) && !strings.EqualFold(name, OrganizationAccessRole)
}

package rules

import (
	"fmt"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// Principal is the caller of a CloudTrail record, normalized so that an
// assumed-role session and its role compare equal.
type Principal struct {
	ARN       string // userIdentity.arn as logged
	Kind      string // role, user, root, federated, service, account or unknown
	Partition string // from the ARN: aws, aws-cn, aws-us-gov
	Account   string // from the ARN, else userIdentity.accountId
	Name      string // role or user name, without path
	Session   string // assumed-role session name
	// Normalized names the principal for people and for quarantine: for a
	// role session arn:aws:iam::ACCT:role/NAME (the path is not logged on
	// zonal calls), for an AWS service its invokedBy, for an account its ID,
	// else the ARN.
	Normalized string
}

// Principal kinds.
const (
	KindRole      = "role"
	KindUser      = "user"
	KindRoot      = "root"
	KindFederated = "federated"
	KindService   = "service"
	KindAccount   = "account"
	KindUnknown   = "unknown"
)

// arnParts is an ARN split on its first five colons.
type arnParts struct {
	partition, service, region, account, resource string
}

func splitARN(s string) (arnParts, bool) {
	if !strings.HasPrefix(s, "arn:") {
		return arnParts{}, false
	}
	var a arnParts
	var ok bool
	rest := s[len("arn:"):]
	for _, f := range []*string{&a.partition, &a.service, &a.region, &a.account} {
		if *f, rest, ok = strings.Cut(rest, ":"); !ok {
			return arnParts{}, false
		}
	}
	a.resource = rest
	return a, true
}

// PrincipalOf normalizes a CloudTrail userIdentity.
func PrincipalOf(id cloudtrail.Identity) Principal {
	p := Principal{ARN: id.ARN, Account: id.AccountID, Kind: KindUnknown}
	// Only userIdentity.type says a service called as itself: invokedBy is
	// also set when a role or user acts through a service.
	if id.Type == "AWSService" {
		p.Kind, p.Normalized = KindService, id.InvokedBy
		return p
	}
	a, ok := splitARN(id.ARN)
	if !ok {
		if id.Type == "AWSAccount" && id.AccountID != "" {
			p.Kind, p.Normalized = KindAccount, id.AccountID
		} else {
			p.Normalized = id.ARN
			if p.Normalized == "" {
				p.Normalized = id.PrincipalID
			}
		}
		return p
	}
	p.Partition, p.Account = a.partition, a.account
	p.Normalized = id.ARN
	switch {
	case a.service == "sts" && strings.HasPrefix(a.resource, "assumed-role/"):
		rest := a.resource[len("assumed-role/"):]
		role, session, _ := strings.Cut(rest, "/")
		p.Kind, p.Name, p.Session = KindRole, role, session
		p.Normalized = "arn:" + a.partition + ":iam::" + a.account + ":role/" + role
	case a.service == "sts" && strings.HasPrefix(a.resource, "federated-user/"):
		p.Kind, p.Name = KindFederated, a.resource[len("federated-user/"):]
	case a.service == "iam" && a.resource == "root":
		p.Kind = KindRoot
	case a.service == "iam" && strings.HasPrefix(a.resource, "role/"):
		p.Kind, p.Name = KindRole, lastSegment(a.resource)
	case a.service == "iam" && strings.HasPrefix(a.resource, "user/"):
		p.Kind, p.Name = KindUser, lastSegment(a.resource)
	}
	return p
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// principalPattern is a compiled entry of `principals` or `protected`.
//
// Role and user patterns compare partition, account and name, ignoring the
// path on both sides: zonal calls carry the session ARN, which has no role
// path, and names are unique within an account. Other patterns (sessions,
// federated users, root) are globs over the whole ARN.
type principalPattern struct {
	src       string
	kind      string // KindRole or KindUser: by name; "" for whole-ARN globs
	partition glob
	account   glob
	name      glob
	whole     glob
}

var partitions = map[string]bool{"aws": true, "aws-cn": true, "aws-us-gov": true, "*": true}

// compilePrincipal validates an ARN pattern. Anything it cannot read is an
// error, never a looser match.
func compilePrincipal(s string) (principalPattern, error) {
	a, ok := splitARN(s)
	if !ok {
		return principalPattern{}, fmt.Errorf("%q: not an ARN pattern (want arn:aws:iam::ACCOUNT:role/NAME, user/NAME or root, or arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or federated-user/NAME)", s)
	}
	if !partitions[a.partition] {
		return principalPattern{}, fmt.Errorf("%q: unknown partition %q (want aws, aws-cn or aws-us-gov)", s, a.partition)
	}
	if a.region != "" {
		return principalPattern{}, fmt.Errorf("%q: IAM and STS ARNs have no region, found %q", s, a.region)
	}
	if hasWildcard(a.account) {
		// role/admin in any account includes one an attacker creates.
		return principalPattern{}, fmt.Errorf("%q: wildcard in the account: it matches %s in every AWS account, an attacker's included; name the account, or use accounts: to allow every principal of an account", s, a.resource)
	}
	if !IsAccountID(a.account) {
		return principalPattern{}, fmt.Errorf("%q: account %q is not a 12-digit account ID", s, a.account)
	}
	pp := principalPattern{src: s, partition: compileGlob(a.partition), account: compileGlob(a.account), whole: compileGlob(s)}
	switch a.service {
	case "iam":
		switch {
		case a.resource == "root":
		case strings.HasPrefix(a.resource, "role/"), strings.HasPrefix(a.resource, "user/"):
			kind, rest, _ := strings.Cut(a.resource, "/")
			path, name := "", rest
			if i := strings.LastIndexByte(rest, '/'); i >= 0 {
				path, name = rest[:i], rest[i+1:]
			}
			if hasWildcard(path) {
				// The path is not in the records we match (see above), so a
				// wildcard there could only be ignored, which would widen
				// the pattern to every name in the account.
				return principalPattern{}, fmt.Errorf("%q: wildcard in the %s path; paths are not logged on zonal calls, so name the %s instead", s, kind, kind)
			}
			if !validName(name) {
				return principalPattern{}, fmt.Errorf("%q: invalid %s name %q", s, kind, name)
			}
			pp.kind, pp.name = kind, compileGlob(name)
		default:
			return principalPattern{}, fmt.Errorf("%q: IAM resource must be role/NAME, user/NAME or root", s)
		}
	case "sts":
		switch {
		case strings.HasPrefix(a.resource, "assumed-role/"):
			role, session, ok := strings.Cut(a.resource[len("assumed-role/"):], "/")
			if !ok || !validName(role) || session == "" {
				return principalPattern{}, fmt.Errorf("%q: want assumed-role/ROLE/SESSION", s)
			}
		case strings.HasPrefix(a.resource, "federated-user/"):
			if !validName(a.resource[len("federated-user/"):]) {
				return principalPattern{}, fmt.Errorf("%q: want federated-user/NAME", s)
			}
		default:
			return principalPattern{}, fmt.Errorf("%q: STS resource must be assumed-role/ROLE/SESSION or federated-user/NAME", s)
		}
	default:
		return principalPattern{}, fmt.Errorf("%q: service %q is not iam or sts", s, a.service)
	}
	return pp, nil
}

// validName accepts IAM name characters plus the glob wildcards.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("+=,.@_-*?", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (pp *principalPattern) match(p *Principal) bool {
	if pp.kind == "" || p.ARN == "" {
		return p.ARN != "" && pp.whole.match(p.ARN)
	}
	if pp.kind != p.Kind {
		return false
	}
	return pp.partition.match(p.Partition) && pp.account.match(p.Account) && pp.name.match(p.Name)
}

// everyName returns the kind of principal ("role", "user", "federated
// user") whose every name the pattern matches (role/*, assumed-role/*/s),
// or "".
func (pp *principalPattern) everyName() string {
	if pp.kind != "" {
		if onlyWildcards(pp.name.src) {
			return pp.kind
		}
		return ""
	}
	a, _ := splitARN(pp.src)
	if rest, ok := strings.CutPrefix(a.resource, "assumed-role/"); ok {
		if role, _, _ := strings.Cut(rest, "/"); onlyWildcards(role) {
			return KindRole
		}
	}
	if rest, ok := strings.CutPrefix(a.resource, "federated-user/"); ok && onlyWildcards(rest) {
		return "federated user"
	}
	return ""
}

func onlyWildcards(s string) bool { return s != "" && strings.Trim(s, "*?") == "" }

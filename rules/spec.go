package rules

import "net/netip"

// Spec is an allow entry's conditions exactly as compiled, for code that
// carries the allowlist's semantics to another engine (rules/query writes
// them as SQL). A nil slice means the entry lacks the field (it matches
// anything); a non-nil one lists the values, any of which may match.
type Spec struct {
	Name         string
	Line         int
	Principals   []PrincipalSpec
	Accounts     []string
	Services     []string       // matched only for userIdentity.type AWSService
	Sources      []netip.Prefix // IPv4-mapped prefixes already stored as IPv4
	VPCEndpoints []string
	Buckets      []string // globs
	AccessPoints []string // globs; a record without an access point never matches
	Operations   []string // globs
	// Unknown names fields this Spec cannot describe. A consumer must refuse
	// an entry that has any, rather than drop a condition and widen it.
	Unknown []string
}

// PrincipalSpec is one compiled `principals` pattern.
type PrincipalSpec struct {
	Source string // as written
	// Kind is KindRole or KindUser for patterns matched by partition,
	// account and name (path ignored on both sides); "" for patterns
	// matched as a glob over the whole ARN.
	Kind      string
	Partition string // glob ("*" or a partition)
	Account   string // glob (12 digits or '?', or "*")
	Name      string // glob over the role or user name, without path
}

// Globs and the fields they apply to share one syntax: '*' matches any run
// of bytes, '?' exactly one byte, and there is no escape.

// Spec returns the entry's conditions.
func (e *Entry) Spec() Spec {
	s := Spec{Name: e.Name, Line: e.Line}
	for _, f := range entryFields {
		vals, ok := e.raw[f]
		if !ok {
			continue
		}
		switch f {
		case "principals":
			s.Principals = make([]PrincipalSpec, 0, len(e.principals))
			for _, pp := range e.principals {
				s.Principals = append(s.Principals, PrincipalSpec{
					Source: pp.src, Kind: pp.kind,
					Partition: pp.partition.src, Account: pp.account.src, Name: pp.name.src,
				})
			}
		case "accounts":
			s.Accounts = append([]string{}, vals...)
		case "services":
			s.Services = append([]string{}, vals...)
		case "sources":
			s.Sources = append([]netip.Prefix{}, e.sources...)
		case "vpc_endpoints":
			s.VPCEndpoints = append([]string{}, vals...)
		case "buckets":
			s.Buckets = append([]string{}, vals...)
		case "access_points":
			s.AccessPoints = append([]string{}, vals...)
		case "operations":
			s.Operations = append([]string{}, vals...)
		default:
			s.Unknown = append(s.Unknown, f)
		}
	}
	return s
}

package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// Verdict is the outcome of checking one record.
type Verdict uint8

const (
	// Invalid: the record cannot be read, or is an S3 Express record missing
	// what the decision needs. Reported, never dropped.
	Invalid Verdict = iota
	// Allowed: an allow entry matched.
	Allowed
	// Unauthorized: an S3 Express record no entry allows, failed calls included.
	Unauthorized
	// Ignored: a well-formed record from another service.
	Ignored
)

var verdictNames = [...]string{Invalid: "invalid", Allowed: "allowed", Unauthorized: "unauthorized", Ignored: "ignored"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", v)
}

// Decision is the allowlist's answer for one record.
type Decision struct {
	Verdict Verdict
	// Rule names the first entry that matched (Allowed only).
	Rule string
	// Reasons say why the record is not allowed: the failed conditions of
	// the closest entries (Unauthorized), or what is missing (Invalid).
	Reasons   []string
	Principal Principal
}

// maxClosest bounds how many near-miss entries a reason list names.
const maxClosest = 3

// Decide checks one record against the allowlist.
func (a *Allowlist) Decide(r *cloudtrail.Record) Decision {
	switch {
	case r.EventSource == "":
		return Decision{Verdict: Invalid, Reasons: []string{"record has no eventSource"}}
	case !r.IsS3Express():
		return Decision{Verdict: Ignored, Principal: PrincipalOf(r.UserIdentity)}
	case r.EventName == "":
		return Decision{Verdict: Invalid, Reasons: []string{"S3 Express record has no eventName"}}
	case !r.HasUserIdentity:
		return Decision{Verdict: Invalid, Reasons: []string{"S3 Express record has no userIdentity"}}
	}
	p := PrincipalOf(r.UserIdentity)
	if p.ARN == "" && p.Kind != KindService && p.Kind != KindAccount && r.UserIdentity.AccountID == "" {
		return Decision{Verdict: Invalid, Principal: p, Reasons: []string{"S3 Express record has no caller (userIdentity without arn or accountId, and not of type AWSService)"}}
	}
	c := candidate{r: r, p: &p}
	for _, e := range a.Entries {
		if e.matches(&c) {
			return Decision{Verdict: Allowed, Rule: e.Name, Principal: p}
		}
	}
	return Decision{Verdict: Unauthorized, Principal: p, Reasons: a.reasons(&c)}
}

// candidate carries a record and the values derived from it once.
type candidate struct {
	r      *cloudtrail.Record
	p      *Principal
	ip     netip.Addr
	ipDone bool
}

func (c *candidate) addr() netip.Addr {
	if !c.ipDone {
		c.ipDone = true
		// A zoned address never matches, and Unmap would drop the zone
		// of ::ffff:a.b.c.d%zone: test it first.
		if a, err := netip.ParseAddr(c.r.SourceIPAddress); err == nil && a.Zone() == "" {
			c.ip = a.Unmap()
		}
	}
	return c.ip
}

func (e *Entry) matches(c *candidate) bool {
	for _, f := range entryFields {
		if !e.check(f, c) {
			return false
		}
	}
	return true
}

// check reports whether field f of the entry accepts the candidate; a field
// the entry lacks accepts anything.
func (e *Entry) check(f string, c *candidate) bool {
	switch f {
	case "principals":
		if e.principals == nil {
			return true
		}
		for i := range e.principals {
			if e.principals[i].match(c.p) {
				return true
			}
		}
		return false
	case "accounts":
		return e.accounts == nil || inSet(e.accounts, c.r.UserIdentity.AccountID)
	case "services":
		// Only a service calling as itself. invokedBy names the service
		// that made a request also when it used a role's or user's
		// credentials (CloudTrail user guide, "CloudTrail userIdentity
		// element"): that principal is the caller, to be allowed by
		// principals.
		return e.services == nil || (c.p.Kind == KindService && inSet(e.services, c.r.UserIdentity.InvokedBy))
	case "sources":
		if e.sources == nil {
			return true
		}
		ip := c.addr()
		if !ip.IsValid() {
			return false
		}
		for _, p := range e.sources {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	case "vpc_endpoints":
		return e.vpcEndpoints == nil || inSet(e.vpcEndpoints, c.r.VPCEndpointID)
	case "buckets":
		return e.buckets == nil || (c.r.Bucket != "" && e.buckets.match(c.r.Bucket))
	case "access_points":
		// A request made without an access point has none to match.
		return e.accessPoints == nil || (c.r.AccessPoint != "" && e.accessPoints.match(c.r.AccessPoint))
	case "operations":
		return e.operations == nil || e.operations.match(c.r.EventName)
	}
	return false
}

func inSet(m map[string]struct{}, v string) bool {
	if v == "" {
		return false
	}
	_, ok := m[v]
	return ok
}

// miss is how an entry failed a candidate.
type miss struct {
	e      *Entry
	failed uint8 // bit i: entryFields[i] failed
	n      int
}

func (e *Entry) miss(c *candidate) miss {
	m := miss{e: e}
	for i, f := range entryFields {
		if !e.check(f, c) {
			m.failed |= 1 << i
			m.n++
		}
	}
	return m
}

// reasons names, for the entries that came closest (fewest failed
// conditions, then file order), which conditions failed and on what value.
// Only unauthorized records get here, so clarity beats speed, within reason.
func (a *Allowlist) reasons(c *candidate) []string {
	if len(a.Entries) == 0 {
		return []string{"the allowlist has no entries"}
	}
	// Keep the maxClosest best in order; entries come in file order, so a
	// later entry replaces an earlier one only when strictly closer.
	var best [maxClosest]miss
	kept := 0
	for _, e := range a.Entries {
		m := e.miss(c)
		pos := kept
		for pos > 0 && best[pos-1].n > m.n {
			pos--
		}
		if pos >= maxClosest {
			continue
		}
		if kept < maxClosest {
			kept++
		}
		copy(best[pos+1:kept], best[pos:kept-1])
		best[pos] = m
	}
	out := make([]string, 0, kept)
	for _, m := range best[:kept] {
		out = append(out, c.describe(m))
	}
	return out
}

// Misses says, for every entry, closest first (fewest failed conditions,
// then file order), which of its conditions r fails and on what value: the
// reasons Decide gives for its closest few, for all entries. The first is
// the closest entry.
func (a *Allowlist) Misses(r *cloudtrail.Record) []string {
	if len(a.Entries) == 0 {
		return []string{"the allowlist has no entries"}
	}
	p := PrincipalOf(r.UserIdentity)
	c := candidate{r: r, p: &p}
	ms := make([]miss, len(a.Entries))
	for i, e := range a.Entries {
		ms[i] = e.miss(&c)
	}
	slices.SortStableFunc(ms, func(x, y miss) int { return x.n - y.n })
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = c.describe(m)
	}
	return out
}

// describe writes "ENTRY: FIELD VALUE not in LIST; ..." for a miss.
func (c *candidate) describe(m miss) string {
	var b strings.Builder
	b.WriteString(m.e.Name)
	b.WriteString(": ")
	sep := ""
	for i, f := range entryFields {
		if m.failed&(1<<i) == 0 {
			continue
		}
		b.WriteString(sep)
		b.WriteString(f)
		b.WriteByte(' ')
		b.WriteString(quoteOrNone(c.value(f)))
		b.WriteString(" not in ")
		for k, v := range m.e.raw[f] {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v)
		}
		sep = "; "
	}
	return b.String()
}

// value is the record's value for an allowlist field, as reasons show it.
func (c *candidate) value(f string) string {
	switch f {
	case "principals":
		return c.p.ARN
	case "accounts":
		return c.r.UserIdentity.AccountID
	case "services":
		if c.p.Kind != KindService && c.r.UserIdentity.InvokedBy != "" {
			return c.r.UserIdentity.InvokedBy + " (userIdentity.type " + quoteOrNone(c.r.UserIdentity.Type) + ", not AWSService)"
		}
		return c.r.UserIdentity.InvokedBy
	case "sources":
		return c.r.SourceIPAddress
	case "vpc_endpoints":
		return c.r.VPCEndpointID
	case "buckets":
		return c.r.Bucket
	case "access_points":
		return c.r.AccessPoint
	case "operations":
		return c.r.EventName
	}
	return ""
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

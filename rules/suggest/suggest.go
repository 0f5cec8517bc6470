// Package suggest writes an allowlist that would allow the S3 Express
// traffic seen in CloudTrail records: one entry per principal (a role
// without its session, a user, an AWS service), narrowed to the buckets,
// operations and networks it used, each with counts, first and last seen,
// and where examples are, as comments. Failed calls are listed, never
// allowed.
package suggest

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// Options shape the entries.
type Options struct {
	// GroupBy lists what makes one entry: "principal" always, optionally
	// "bucket" and "operation" (one entry per principal and bucket, ...).
	GroupBy []string
	// IPv4Bits and IPv6Bits are the prefix lengths sources are aggregated to.
	IPv4Bits, IPv6Bits int
	// Examples is how many record locations an entry lists.
	Examples int
	// MaxSources bounds the prefixes an entry lists per address family;
	// past it they are widened (and the entry says so).
	MaxSources int
}

// DefaultOptions groups by principal, aggregates to /24 and /64, and lists
// three examples.
var DefaultOptions = Options{GroupBy: []string{"principal"}, IPv4Bits: 24, IPv6Bits: 64, Examples: 3, MaxSources: 16}

// GroupFields are the names GroupBy accepts.
var GroupFields = []string{"principal", "bucket", "operation"}

// Builder gathers records. It is not safe for concurrent use.
type Builder struct {
	o       Options
	groups  map[groupKey]*group
	denied  map[deniedKey]*deniedCalls
	skipped map[string]*tally // caller or value that no entry can name, by reason
	Records int               // S3 Express records seen
	Invalid int               // records check calls invalid (not suggested)
	Ignored int               // records of other services
	// Hits counts, per entry of the allowlist given to Add, the records it
	// allowed (for --against: entries without traffic may be removed).
	Hits map[string]int
}

// identity is how an entry names its caller: exactly one of these fields.
type identity struct {
	principal string // IAM/STS ARN pattern
	service   string // userIdentity.invokedBy of an AWSService caller
	account   string // userIdentity.accountId of an AWSAccount caller without ARN
}

type groupKey struct {
	id        identity
	bucket    string // "" unless grouped by bucket (or the record has none)
	noBucket  bool   // records without a bucket, kept apart: `buckets` never matches them
	operation string
}

type tally struct {
	count       int
	first, last string // eventTime
	examples    []string
}

func (t *tally) add(r *cloudtrail.Record, loc string, max int) {
	t.count++
	if t.first == "" || r.EventTime < t.first {
		t.first = r.EventTime
	}
	if r.EventTime > t.last {
		t.last = r.EventTime
	}
	if len(t.examples) < max {
		t.examples = append(t.examples, loc)
	}
}

type group struct {
	key        groupKey
	kind       string // principal kind, for the name
	name       string // role, user or service name, for the name
	tally      tally
	buckets    map[string]int
	operations map[string]int
	sources    map[netip.Prefix]int
	nonIP      map[string]int // sources that are not IP addresses
	vpces      map[string]int
	noVPCE     int // records without a VPC endpoint
}

type deniedKey struct{ principal, errorCode, operation, bucket string }

type deniedCalls struct {
	key   deniedKey
	tally tally
}

// New returns a Builder; it checks the options.
func New(o Options) (*Builder, error) {
	if len(o.GroupBy) == 0 || o.GroupBy[0] != "principal" {
		return nil, fmt.Errorf("group by %q: must start with principal (an entry always names its caller)", strings.Join(o.GroupBy, ","))
	}
	seen := map[string]bool{}
	for _, f := range o.GroupBy {
		if !slices.Contains(GroupFields, f) || seen[f] {
			return nil, fmt.Errorf("group by %q: want principal, optionally followed by bucket and operation, each once", strings.Join(o.GroupBy, ","))
		}
		seen[f] = true
	}
	if o.IPv4Bits < 8 || o.IPv4Bits > 32 {
		return nil, fmt.Errorf("IPv4 prefix length %d: want 8 to 32", o.IPv4Bits)
	}
	if o.IPv6Bits < 16 || o.IPv6Bits > 128 {
		return nil, fmt.Errorf("IPv6 prefix length %d: want 16 to 128", o.IPv6Bits)
	}
	if o.MaxSources < 1 {
		return nil, fmt.Errorf("max sources %d: want at least 1", o.MaxSources)
	}
	return &Builder{o: o, groups: map[groupKey]*group{}, denied: map[deniedKey]*deniedCalls{}, skipped: map[string]*tally{}, Hits: map[string]int{}}, nil
}

var (
	serviceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$`)
	// What the loader accepts in a role or user name (no wildcards here,
	// since they would widen the entry) and in a bucket or operation.
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)
	bucketRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	operationRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	arnPartRE   = regexp.MustCompile(`^(aws|aws-cn|aws-us-gov)$`)
)

// callerOf names the record's caller as an entry would, or says why it
// cannot. Wildcards in logged values would widen the entry, so they are
// refused, as are values the strict loader would reject.
func callerOf(r *cloudtrail.Record, p rules.Principal) (identity, string, string, string) {
	switch p.Kind {
	case rules.KindService:
		if r.UserIdentity.Type != "AWSService" {
			return identity{}, "", "", "invokedBy without userIdentity.type AWSService"
		}
		if !serviceRE.MatchString(p.Normalized) {
			return identity{}, "", "", "service principal " + p.Normalized
		}
		return identity{service: p.Normalized}, "service", p.Normalized, ""
	case rules.KindAccount:
		if !rules.IsAccountID(p.Normalized) {
			return identity{}, "", "", "account " + p.Normalized
		}
		return identity{account: p.Normalized}, "account", p.Normalized, ""
	}
	if !arnPartRE.MatchString(p.Partition) || !rules.IsAccountID(p.Account) {
		return identity{}, "", "", "caller " + p.ARN
	}
	switch p.Kind {
	case rules.KindRole:
		if !nameRE.MatchString(p.Name) {
			return identity{}, "", "", "role name in " + p.ARN
		}
		return identity{principal: "arn:" + p.Partition + ":iam::" + p.Account + ":role/" + p.Name}, "role", p.Name, ""
	case rules.KindUser:
		if !nameRE.MatchString(p.Name) {
			return identity{}, "", "", "user name in " + p.ARN
		}
		return identity{principal: "arn:" + p.Partition + ":iam::" + p.Account + ":user/" + p.Name}, "user", p.Name, ""
	case rules.KindRoot:
		return identity{principal: "arn:" + p.Partition + ":iam::" + p.Account + ":root"}, "root", p.Account, ""
	case rules.KindFederated:
		// Matched as the whole ARN: only one written as the loader wants
		// it (no region, a plain name) can be named.
		name := p.ARN[strings.LastIndexByte(p.ARN, '/')+1:]
		arn := "arn:" + p.Partition + ":sts::" + p.Account + ":federated-user/" + name
		if arn != p.ARN || !nameRE.MatchString(name) {
			return identity{}, "", "", "federated user " + p.ARN
		}
		return identity{principal: arn}, "federated", name, ""
	}
	return identity{}, "", "", "caller " + cmp.Or(p.ARN, p.Normalized, "(none)")
}

// Add gathers one record; loc says where it is (FILE:LINE or FILE:LINE#INDEX).
// a decides it (nil: an empty allowlist); records it allows are left out,
// which is how --against shows only what is new.
func (b *Builder) Add(r *cloudtrail.Record, loc string, a *rules.Allowlist) {
	if a == nil {
		a = empty
	}
	d := a.Decide(r)
	switch d.Verdict {
	case rules.Ignored:
		b.Ignored++
		return
	case rules.Invalid:
		b.Records++
		b.Invalid++
		return
	case rules.Allowed:
		b.Records++
		b.Hits[d.Rule]++
		return
	}
	b.Records++
	if r.ErrorCode != "" {
		k := deniedKey{d.Principal.Normalized, r.ErrorCode, r.EventName, r.Bucket}
		dc := b.denied[k]
		if dc == nil {
			dc = &deniedCalls{key: k}
			b.denied[k] = dc
		}
		dc.tally.add(r, loc, b.o.Examples)
		return
	}
	id, kind, name, why := callerOf(r, d.Principal)
	if why == "" && !operationRE.MatchString(r.EventName) {
		why = "operation " + r.EventName
	}
	if why == "" && r.Bucket != "" && (!bucketRE.MatchString(r.Bucket) || len(r.Bucket) > 63) {
		why = "bucket " + r.Bucket
	}
	if why != "" {
		t := b.skipped[why]
		if t == nil {
			t = &tally{}
			b.skipped[why] = t
		}
		t.add(r, loc, b.o.Examples)
		return
	}
	k := groupKey{id: id, noBucket: r.Bucket == ""}
	if slices.Contains(b.o.GroupBy, "bucket") {
		k.bucket = r.Bucket
	}
	if slices.Contains(b.o.GroupBy, "operation") {
		k.operation = r.EventName
	}
	g := b.groups[k]
	if g == nil {
		g = &group{key: k, kind: kind, name: name, buckets: map[string]int{}, operations: map[string]int{},
			sources: map[netip.Prefix]int{}, nonIP: map[string]int{}, vpces: map[string]int{}}
		b.groups[k] = g
	}
	g.tally.add(r, loc, b.o.Examples)
	if r.Bucket != "" {
		g.buckets[r.Bucket]++
	}
	g.operations[r.EventName]++
	if ip, err := netip.ParseAddr(r.SourceIPAddress); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		bits := b.o.IPv6Bits
		if ip.Is4() {
			bits = b.o.IPv4Bits
		}
		p, _ := ip.Prefix(bits)
		g.sources[p]++
	} else {
		g.nonIP[cmp.Or(r.SourceIPAddress, "(none)")]++
	}
	if r.VPCEndpointID != "" {
		g.vpces[r.VPCEndpointID]++
	} else {
		g.noVPCE++
	}
}

var empty, _ = rules.Parse("empty", []byte("version: 1\nallow: []\n"))

var vpceRE = regexp.MustCompile(`^vpce-[0-9a-f]{8}([0-9a-f]{9})?$`)

// Write writes the allowlist. header lines are written first, as comments.
func (b *Builder) Write(w io.Writer, header []string) error {
	var out strings.Builder
	for _, h := range header {
		fmt.Fprintf(&out, "# %s\n", h)
	}
	fmt.Fprintf(&out, "# %d S3 Express records: %d suggested below in %d entries, %d failed calls (listed at the end, not allowed), %d invalid (not suggested).\n",
		b.Records, b.suggested(), len(b.groups), b.deniedCount(), b.Invalid)
	out.WriteString("# Review every entry before use: it allows what was seen, which is not always what should be.\n")
	out.WriteString("version: 1\n")
	groups := make([]*group, 0, len(b.groups))
	for _, g := range b.groups {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(x, y *group) int {
		return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.name, y.name), strings.Compare(fmt.Sprint(x.key), fmt.Sprint(y.key)))
	})
	if len(groups) == 0 {
		out.WriteString("allow: []\n")
	} else {
		out.WriteString("allow:\n")
	}
	names := map[string]bool{}
	for _, g := range groups {
		writeEntry(&out, g, entryName(g, names), b.o.MaxSources)
	}
	b.writeDenied(&out)
	b.writeSkipped(&out)
	_, err := io.WriteString(w, out.String())
	return err
}

func (b *Builder) suggested() int {
	n := 0
	for _, g := range b.groups {
		n += g.tally.count
	}
	return n
}

func (b *Builder) deniedCount() int {
	n := 0
	for _, d := range b.denied {
		n += d.tally.count
	}
	return n
}

var nameCleanRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// entryName is kind-name[-bucket][-operation], cleaned and made unique.
func entryName(g *group, used map[string]bool) string {
	parts := []string{g.kind, g.name}
	if g.key.bucket != "" {
		parts = append(parts, strings.SplitN(g.key.bucket, "--", 2)[0])
	}
	if g.key.noBucket {
		parts = append(parts, "no-bucket")
	}
	if g.key.operation != "" {
		parts = append(parts, g.key.operation)
	}
	base := strings.Trim(nameCleanRE.ReplaceAllString(strings.Join(parts, "-"), "-"), "-._")
	if len(base) > 56 {
		base = base[:56]
	}
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	used[name] = true
	return name
}

func writeEntry(out *strings.Builder, g *group, name string, maxSources int) {
	fmt.Fprintf(out, "\n  # %s, first %s, last %s\n", calls(g.tally.count), g.tally.first, g.tally.last)
	for _, ex := range g.tally.examples {
		fmt.Fprintf(out, "  #   e.g. %s\n", comment(ex))
	}
	fmt.Fprintf(out, "  - name: %s\n", name)
	switch {
	case g.key.id.principal != "":
		fmt.Fprintf(out, "    principals: [%s]\n", yamlString(g.key.id.principal))
	case g.key.id.service != "":
		fmt.Fprintf(out, "    services: [%s]\n", yamlString(g.key.id.service))
	case g.key.id.account != "":
		out.WriteString("    # an AWS account caller without an ARN: any principal of the account matches\n")
		fmt.Fprintf(out, "    accounts: [%s]\n", yamlString(g.key.id.account))
	}
	if len(g.buckets) > 0 {
		writeList(out, "buckets", sortedCounts(g.buckets))
	} else {
		out.WriteString("    # no bucket: these calls name none (such as ListDirectoryBuckets)\n")
	}
	writeList(out, "operations", sortedCounts(g.operations))
	if len(g.nonIP) == 0 {
		writeSources(out, g, maxSources)
	} else {
		fmt.Fprintf(out, "    # sources not narrowed: calls came from values that are not IP addresses (%s)\n", comment(strings.Join(keys(g.nonIP), ", ")))
	}
	vpceOK := g.noVPCE == 0
	for v := range g.vpces {
		vpceOK = vpceOK && vpceRE.MatchString(v)
	}
	switch {
	case len(g.vpces) == 0:
	case vpceOK:
		writeList(out, "vpc_endpoints", sortedCounts(g.vpces))
	default:
		fmt.Fprintf(out, "    # vpc_endpoints not narrowed: %d calls came without a VPC endpoint (others through %s)\n", g.noVPCE, comment(strings.Join(keys(g.vpces), ", ")))
	}
}

type counted struct {
	v string
	n int
}

func sortedCounts(m map[string]int) []counted {
	out := make([]counted, 0, len(m))
	for v, n := range m {
		out = append(out, counted{v, n})
	}
	slices.SortFunc(out, func(a, b counted) int { return cmp.Compare(a.v, b.v) })
	return out
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func writeList(out *strings.Builder, field string, vals []counted) {
	fmt.Fprintf(out, "    %s:\n", field)
	for _, v := range vals {
		fmt.Fprintf(out, "      - %s  # %d\n", yamlString(v.v), v.n)
	}
}

func (b *Builder) writeDenied(out *strings.Builder) {
	if len(b.denied) == 0 {
		return
	}
	ds := make([]*deniedCalls, 0, len(b.denied))
	for _, d := range b.denied {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(x, y *deniedCalls) int {
		return cmp.Or(cmp.Compare(x.key.principal, y.key.principal), cmp.Compare(x.key.operation, y.key.operation),
			cmp.Compare(x.key.bucket, y.key.bucket), cmp.Compare(x.key.errorCode, y.key.errorCode))
	})
	out.WriteString("\n# Failed calls (errorCode set): not allowed above. check reports them as unauthorized;\n# allow one only if the caller should have succeeded.\n")
	for _, d := range ds {
		fmt.Fprintf(out, "#   %s %s on %s: %s, %s, first %s, last %s\n", comment(d.key.principal), comment(d.key.operation),
			comment(cmp.Or(d.key.bucket, "(no bucket)")), comment(d.key.errorCode), calls(d.tally.count), d.tally.first, d.tally.last)
		for _, ex := range d.tally.examples {
			fmt.Fprintf(out, "#       e.g. %s\n", comment(ex))
		}
	}
}

func (b *Builder) writeSkipped(out *strings.Builder) {
	if len(b.skipped) == 0 {
		return
	}
	out.WriteString("\n# Calls no entry can name exactly (a wildcard or a value the allowlist rejects): not allowed above.\n")
	for _, why := range keys(func() map[string]int {
		m := map[string]int{}
		for k, t := range b.skipped {
			m[k] = t.count
		}
		return m
	}()) {
		t := b.skipped[why]
		fmt.Fprintf(out, "#   %s: %s, first %s, last %s\n", comment(why), calls(t.count), t.first, t.last)
		for _, ex := range t.examples {
			fmt.Fprintf(out, "#       e.g. %s\n", comment(ex))
		}
	}
}

// yamlString quotes s for YAML as a JSON string (valid YAML), so no value
// is read as another type (an account ID stays a string).
func yamlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// comment makes a logged value safe inside a YAML comment (one line).
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func calls(n int) string {
	if n == 1 {
		return "1 call"
	}
	return fmt.Sprintf("%d calls", n)
}

// writeSources lists the entry's networks, merged, each with the calls it
// covers.
func writeSources(out *strings.Builder, g *group, max int) {
	seen := make([]netip.Prefix, 0, len(g.sources))
	for p := range g.sources {
		seen = append(seen, p)
	}
	merged, w4, w6 := aggregate(seen, max)
	for _, w := range []struct {
		family string
		bits   int
	}{{"IPv4", w4}, {"IPv6", w6}} {
		if w.bits >= 0 {
			fmt.Fprintf(out, "    # %s sources widened to /%d (then merged) to list at most %d: review them\n", w.family, w.bits, max)
		}
	}
	counts := map[string]int{}
	for p, n := range g.sources {
		for _, m := range merged {
			if m.Overlaps(p) {
				counts[m.String()] += n
				break
			}
		}
	}
	writeList(out, "sources", sortedCounts(counts))
}

// Package rules holds the allowlist: its YAML format, its strict loader, and
// the decision it makes on each CloudTrail record.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Allowlist is a compiled allowlist. It is immutable and safe for
// concurrent use.
type Allowlist struct {
	Source    string // file name, for messages
	Entries   []*Entry
	protected []principalPattern
}

// Entry is one compiled `allow` entry. Fields it lacks match anything.
type Entry struct {
	Name string
	Line int

	principals   []principalPattern
	accounts     map[string]struct{}
	services     map[string]struct{}
	sources      []netip.Prefix
	vpcEndpoints map[string]struct{}
	buckets      *globSet
	accessPoints *globSet
	operations   *globSet

	// raw keeps the values as written, for reasons and alerts.
	raw map[string][]string
}

// FormatVersion is the allowlist format the loader reads: the value its
// top-level version key must have.
const FormatVersion = "1"

// Top-level keys of the allowlist.
var topFields = []string{"version", "allow", "protected"}

// Field names as written in the YAML, in the order reasons list them.
var entryFields = []string{"principals", "accounts", "services", "sources", "vpc_endpoints", "buckets", "access_points", "operations"}

// LoadError lists every problem found in an allowlist, one per line, each
// as PATH:LINE: FIELD: message.
type LoadError struct {
	Problems []string
}

func (e *LoadError) Error() string { return strings.Join(e.Problems, "\n") }

// Load reads and compiles the allowlist at path.
func Load(path string) (*Allowlist, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read allowlist: %w", err)
	}
	return Parse(path, data)
}

// Parse compiles an allowlist. name is used in error messages. Validation is
// strict: unknown keys, empty entries, duplicate names and malformed values
// are errors, because a typo must never widen access.
func Parse(name string, data []byte) (*Allowlist, error) {
	l := &loader{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, &LoadError{Problems: []string{syntaxProblem(name, err)}}
	}
	// yaml.Unmarshal reads the first document and ignores the rest: a second
	// document would be silently dropped, so a stream of two is an error.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		return nil, &LoadError{Problems: []string{syntaxProblem(name, err)}}
	default:
		l.errorf(&extra, "", "more than one YAML document; an allowlist is one document")
	}
	// Anchors, aliases, merge keys and tags make a line mean something other
	// than what it says; none is needed to write an allowlist.
	l.plain(&doc, "")
	if err := l.err(); err != nil {
		return nil, err
	}
	a := &Allowlist{Source: name}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		l.errorf(&doc, "", "empty allowlist (want version: 1 and allow:)")
		return nil, l.err()
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "", "top level must be a mapping with version, allow and protected")
		return nil, l.err()
	}
	var sawVersion, sawAllow bool
	l.mapping(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			sawVersion = true
			if v.Kind != yaml.ScalarNode || v.Value != FormatVersion {
				l.errorf(v, "version", "unsupported version %q (want %s)", v.Value, FormatVersion)
			}
		case "allow":
			sawAllow = true
			a.Entries = l.entries(v)
		case "protected":
			for i, item := range l.strings(v, "protected") {
				pp, err := compilePrincipal(item.Value)
				if err != nil {
					l.errorf(item, fmt.Sprintf("protected[%d]", i), "%v", err)
					continue
				}
				// protected exempts from quarantine: a pattern for every
				// role would switch enforcement off for roles.
				if kind := pp.everyName(); kind != "" {
					l.errorf(item, fmt.Sprintf("protected[%d]", i), "%q: protects every %s of the account from quarantine; name the principals", item.Value, kind)
					continue
				}
				a.protected = append(a.protected, pp)
			}
		default:
			l.errorf(k, key, "unknown key (%s)", keyHint(key, topFields))
		}
	})
	if !sawVersion {
		l.errorf(root, "version", "missing (want version: 1)")
	}
	if !sawAllow {
		l.errorf(root, "allow", "missing (an allowlist with no entries would page on every event; write allow: [] to mean that)")
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return a, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem rewrites a YAML syntax error as PATH:LINE: message.
func syntaxProblem(name string, err error) string {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s:%s: YAML syntax: %s", name, m[1], m[2])
	}
	return fmt.Sprintf("%s: YAML syntax: %s", name, strings.TrimPrefix(msg, "yaml: "))
}

type loader struct {
	name     string
	problems []string
}

func (l *loader) errorf(n *yaml.Node, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	l.problems = append(l.problems, fmt.Sprintf("%s:%d: %s", l.name, n.Line, msg))
}

func (l *loader) err() error {
	if len(l.problems) == 0 {
		return nil
	}
	return &LoadError{Problems: l.problems}
}

// mapping calls fn for each key of a mapping node, rejecting duplicate and
// non-scalar keys.
func (l *loader) mapping(n *yaml.Node, field string, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, field, "keys must be plain names")
			continue
		}
		if seen[k.Value] {
			l.errorf(k, join(field, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// strings returns the scalar items of a non-empty sequence, reporting
// anything else. The raw text of each scalar is used, so an unquoted account
// ID such as 012345678901 keeps its leading zero.
func (l *loader) strings(n *yaml.Node, field string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, field, "want a list, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		l.errorf(n, field, "empty list; remove the field to match anything, or list values")
		return nil
	}
	var out []*yaml.Node
	for i, item := range n.Content {
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" || item.Value == "" {
			l.errorf(item, fmt.Sprintf("%s[%d]", field, i), "want a non-empty string, got %s", kindName(item))
			continue
		}
		out = append(out, item)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" || n.Value == "" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

var (
	entryNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	vpceRE       = regexp.MustCompile(`^vpce-[0-9a-f]{8}([0-9a-f]{9})?$`)
	serviceRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$`)
	bucketGlobRE = regexp.MustCompile(`^[a-z0-9*?][a-z0-9.*?-]*$`)
	apGlobRE     = regexp.MustCompile(`^[a-z0-9*?][a-z0-9*?-]*$`)
	operationRE  = regexp.MustCompile(`^[A-Za-z0-9*?]+$`)
)

func (l *loader) entries(n *yaml.Node) []*Entry {
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "allow", "want a list of entries, got %s", kindName(n))
		return nil
	}
	names := map[string]int{}
	var out []*Entry
	for i, item := range n.Content {
		field := fmt.Sprintf("allow[%d]", i)
		if item.Kind != yaml.MappingNode {
			l.errorf(item, field, "want an entry (a mapping), got %s", kindName(item))
			continue
		}
		e := l.entry(item, field)
		if e == nil {
			continue
		}
		if first, dup := names[e.Name]; dup {
			l.errorf(item, field+".name", "duplicate name %q (first at line %d)", e.Name, first)
			continue
		}
		names[e.Name] = e.Line
		out = append(out, e)
	}
	return out
}

func (l *loader) entry(n *yaml.Node, field string) *Entry {
	e := &Entry{Line: n.Line, raw: map[string][]string{}}
	before := len(l.problems)
	conditions := 0
	l.mapping(n, field, func(key string, k, v *yaml.Node) {
		f := join(field, key)
		if key == "name" {
			if v.Kind != yaml.ScalarNode || !entryNameRE.MatchString(v.Value) {
				l.errorf(v, f, "%s is not a valid name (letters, digits, '.', '_', '-'; at most 64)", kindName(v))
				return
			}
			e.Name = v.Value
			return
		}
		if key == "description" {
			if v.Kind != yaml.ScalarNode {
				l.errorf(v, f, "want text, got %s", kindName(v))
			}
			return
		}
		if !isEntryField(key) {
			l.errorf(k, f, "unknown key (%s)", keyHint(key, append([]string{"name", "description"}, entryFields...)))
			return
		}
		items := l.strings(v, f)
		if items == nil {
			return
		}
		conditions++
		vals := make([]string, 0, len(items))
		for i, item := range items {
			if msg := e.add(key, item.Value); msg != "" {
				l.errorf(item, fmt.Sprintf("%s[%d]", f, i), "%q: %s", item.Value, msg)
				continue
			}
			vals = append(vals, item.Value)
		}
		if key == "sources" && len(vals) == len(items) {
			if msg := coversFamily(e.sources); msg != "" {
				l.errorf(k, f, "%s", msg)
			}
		}
		if key == "operations" && len(vals) == len(items) {
			if msg := coversOperations(vals); msg != "" {
				l.errorf(k, f, "%s", msg)
			}
		}
		if u, ok := unionChecks[key]; ok && len(vals) == len(items) && slices.ContainsFunc(vals, hasWildcard) &&
			globsCoverNames(vals, u.alphabet, u.suffix) {
			l.errorf(k, f, "%s together match every %s; %s", quoteAll(vals), u.what, u.fix)
		}
		e.raw[key] = vals
	})
	if e.Name == "" && len(l.problems) == before {
		l.errorf(n, field+".name", "missing (every entry needs a unique name)")
	}
	if conditions == 0 && len(l.problems) == before {
		l.errorf(n, field, "entry %q has no condition, so it would allow everything", e.Name)
	}
	if len(l.problems) != before {
		return nil
	}
	if v := e.raw["buckets"]; v != nil {
		gs := compileGlobSet(v)
		e.buckets = &gs
	}
	if v := e.raw["access_points"]; v != nil {
		gs := compileGlobSet(v)
		e.accessPoints = &gs
	}
	if v := e.raw["operations"]; v != nil {
		gs := compileGlobSet(v)
		e.operations = &gs
	}
	return e
}

func isEntryField(key string) bool {
	for _, f := range entryFields {
		if f == key {
			return true
		}
	}
	return false
}

// add validates one value of field and stores it; it returns a message when
// the value is malformed.
func (e *Entry) add(field, v string) string {
	switch field {
	case "principals":
		pp, err := compilePrincipal(v)
		if err != nil {
			return strings.TrimPrefix(err.Error(), fmt.Sprintf("%q: ", v))
		}
		e.principals = append(e.principals, pp)
	case "accounts":
		if !IsAccountID(v) {
			return "not a 12-digit account ID"
		}
		e.accounts = addSet(e.accounts, v)
	case "services":
		if !serviceRE.MatchString(v) {
			return "not an AWS service principal (want a name such as lifecycle.s3.amazonaws.com)"
		}
		e.services = addSet(e.services, v)
	case "sources":
		p, err := parsePrefix(v)
		if err != nil {
			return err.Error()
		}
		if p.Bits() == 0 {
			return fmt.Sprintf("matches every %s address; %s", family(p.Addr()), removeSources)
		}
		e.sources = append(e.sources, p)
	case "vpc_endpoints":
		if !vpceRE.MatchString(v) {
			return "not a VPC endpoint ID (want vpce- and 8 or 17 lowercase hex digits)"
		}
		e.vpcEndpoints = addSet(e.vpcEndpoints, v)
	case "buckets":
		if !bucketGlobRE.MatchString(v) || len(v) > 63 {
			return "not a directory bucket name or glob (lowercase letters, digits, '.', '-', '*', '?')"
		}
		if matchesAll(v, bucketProbes) {
			return "matches every directory bucket; remove the field to match any bucket"
		}
	case "access_points":
		// Access points for directory buckets are named
		// NAME--ZONEID--xa-s3 (S3 user guide, "Monitoring and logging
		// access points for directory buckets"). What follows the last
		// wildcard must end such a name, so a bucket name (--x-s3) written
		// here is an error, not an entry that never matches.
		tail := v[strings.LastIndexAny(v, "*?")+1:]
		if !apGlobRE.MatchString(v) || len(v) > 63 || !strings.HasSuffix(accessPointSuffix, tail) && !strings.HasSuffix(tail, accessPointSuffix) ||
			!hasWildcard(v) && !strings.HasSuffix(v, accessPointSuffix) {
			return "not an access point name or glob (NAME--ZONEID--xa-s3: lowercase letters, digits, '-', '*', '?')"
		}
		if matchesAll(v, accessPointProbes) {
			return "matches every access point; remove the field to match any request, or name the access points"
		}
	case "operations":
		if !operationRE.MatchString(v) {
			return "not an event name or glob (such as GetObject or Put*)"
		}
		if matchesAll(v, s3ExpressOperations) {
			return "matches every operation; remove the field to match any operation"
		}
	}
	return ""
}

func addSet(m map[string]struct{}, v string) map[string]struct{} {
	if m == nil {
		m = map[string]struct{}{}
	}
	m[v] = struct{}{}
	return m
}

// parsePrefix reads a CIDR. A bare address means that one host. Host bits
// set are an error: "10.0.0.1/8" is more likely a typo than a wish for all
// of 10/8. IPv4-mapped IPv6 prefixes are stored as IPv4, as addresses are.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("not an IP address or CIDR")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not a CIDR (want such as 10.0.0.0/8 or 2600:1f18::/32)")
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("host bits set (did you mean %s?)", p.Masked())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("IPv4-mapped prefix shorter than /96")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// Protected returns the `protected` patterns as written.
func (a *Allowlist) Protected() []string {
	out := make([]string, len(a.protected))
	for i, pp := range a.protected {
		out[i] = pp.src
	}
	return out
}

// IsProtected reports whether p is on the `protected` list.
func (a *Allowlist) IsProtected(p Principal) bool {
	for i := range a.protected {
		if a.protected[i].match(&p) {
			return true
		}
	}
	return false
}

// plain reports every YAML feature that lets one line stand for another or
// changes what a value means: anchors, aliases, merge keys and explicit tags
// (!!binary decodes base64, a custom tag means whatever a reader decides).
// field is the path of n, as problems name it.
func (l *loader) plain(n *yaml.Node, field string) {
	switch {
	case n.Kind == yaml.AliasNode:
		l.errorf(n, field, "YAML alias *%s is not allowed; write each value out", n.Value)
		return
	case n.Anchor != "":
		l.errorf(n, field, "YAML anchor &%s is not allowed; write each value out", n.Anchor)
	case n.Style&yaml.TaggedStyle != 0:
		l.errorf(n, field, "YAML tag %s is not allowed; write the value as plain text", n.Tag)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.plain(c, field)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.plain(c, fmt.Sprintf("%s[%d]", field, i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				l.errorf(k, join(field, k.Value), "YAML merge key is not allowed; write each value out")
				continue
			}
			f := join(field, k.Value)
			l.plain(k, f)
			l.plain(v, f)
		}
	}
}

// keyHint says which keys are known, or which one a differently cased key
// was meant to be.
func keyHint(key string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return "keys are lowercase: did you mean " + k + "?"
		}
	}
	return "want " + strings.Join(known, ", ")
}

// s3ExpressOperations are the event names S3 Express One Zone logs to
// CloudTrail, management and data events (S3 user guide, "Logging with AWS
// CloudTrail for directory buckets"). A glob that matches all of them
// allows every operation.
var s3ExpressOperations = []string{
	"AbortMultipartUpload", "CompleteMultipartUpload", "CopyObject", "CreateBucket",
	"CreateMultipartUpload", "CreateSession", "DeleteBucket", "DeleteBucketEncryption",
	"DeleteBucketLifecycle", "DeleteBucketPolicy", "DeleteObject", "DeleteObjects",
	"GetBucketEncryption", "GetBucketLifecycleConfiguration", "GetBucketPolicy", "GetObject",
	"GetObjectAttributes", "HeadBucket", "HeadObject", "ListDirectoryBuckets",
	"ListMultipartUploads", "ListObjectsV2", "ListParts", "PutBucketEncryption",
	"PutBucketLifecycleConfiguration", "PutBucketPolicy", "PutObject", "RenameObject",
	"UploadPart", "UploadPartCopy",
}

// bucketProbes are directory bucket names (BASE--ZONEID--x-s3) that share
// only what every such name has: "--", a zone ID with "-az" and a digit,
// and the "--x-s3" suffix. A glob that matches all of them matches every
// directory bucket ("*", "*--x-s3", "*-az*").
var bucketProbes = []string{
	"a--use1-az4--x-s3",
	"logs.2026--apne1-az1--x-s3",
	"q-b--euw3-az2--x-s3",
	"9z9--usw2-lax1-az3--x-s3",
	"bk--cnn1-az5--x-s3",
	"m0--sae1-az6--x-s3",
}

// accessPointProbes are access point names for directory buckets
// (NAME--ZONEID--xa-s3) sharing only what every such name has, as
// bucketProbes do for buckets ("*", "*--xa-s3", "*-az*").
var accessPointProbes = []string{
	"a--use1-az4--xa-s3",
	"logs-2026--apne1-az1--xa-s3",
	"q-b--euw3-az2--xa-s3",
	"9z9--usw2-lax1-az3--xa-s3",
	"bk--cnn1-az5--xa-s3",
	"m0--sae1-az6--xa-s3",
}

// matchesAll reports whether the glob pattern matches every one of names.
func matchesAll(pattern string, names []string) bool {
	g := compileGlob(pattern)
	for _, n := range names {
		if !g.match(n) {
			return false
		}
	}
	return true
}

// coversOperations returns a problem when globs and names together match
// every operation S3 Express logs, though none does alone (Get*, Put*,
// Delete*, ...), else "". Names alone are exact: they allow no operation
// S3 Express adds later, so listing every operation is not refused; with a
// glob the list is a wildcard for everything.
func coversOperations(vals []string) string {
	if !slices.ContainsFunc(vals, hasWildcard) {
		return ""
	}
	gs := make([]glob, len(vals))
	for i, v := range vals {
		gs[i] = compileGlob(v)
	}
	for _, op := range s3ExpressOperations {
		if !slices.ContainsFunc(gs, func(g glob) bool { return g.match(op) }) {
			return ""
		}
	}
	return fmt.Sprintf("%s together match every operation; remove the field to match any operation, or name the operations", quoteAll(vals))
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func quoteAll(vals []string) string {
	quoted := make([]string, len(vals))
	for i, v := range vals {
		quoted[i] = strconv.Quote(v)
	}
	return strings.Join(quoted, ", ")
}

// unionChecks are the name fields whose globs are checked together: the
// names they match are an infinite set, so unlike operations no list of
// them can be tried; globsCoverNames decides it exactly.
var unionChecks = map[string]struct{ alphabet, suffix, what, fix string }{
	"buckets":       {"abcdefghijklmnopqrstuvwxyz0123456789.-", "--x-s3", "directory bucket", "remove the field to match any bucket"},
	"access_points": {"abcdefghijklmnopqrstuvwxyz0123456789-", accessPointSuffix, "access point", "remove the field to match any request, or name the access points"},
}

// maxCoverStates bounds globsCoverNames' search. Past it the answer is
// "not every name": a union is then accepted, never refused, by mistake.
const maxCoverStates = 50000

// globsCoverNames reports whether the globs together match every name made
// of alphabet that starts with a letter or digit and ends with suffix (S3
// bucket and access point names start with one; those names are a superset
// of the valid ones, so a union refused here matches every valid name). It
// walks the product of the globs' automaton, determinized as it goes, and
// of the names' automaton, looking for a name no glob matches.
func globsCoverNames(globs []string, alphabet, suffix string) bool {
	// The letters the globs and the suffix name, and those a name cannot
	// start with, each a class of its own; one letter for all the others,
	// which no automaton tells apart.
	var classes []byte
	for _, c := range []byte(alphabet) {
		if !isAlnum(c) || strings.IndexByte(suffix, c) >= 0 || slices.ContainsFunc(globs, func(g string) bool { return strings.IndexByte(g, c) >= 0 }) {
			classes = append(classes, c)
		}
	}
	for _, c := range []byte(alphabet) {
		if !slices.Contains(classes, c) {
			classes = append(classes, c)
			break
		}
	}
	// A set of glob positions: offs[i] + position in glob i.
	offs := make([]int, len(globs)+1)
	for i, g := range globs {
		offs[i+1] = offs[i] + len(g) + 1
	}
	words := (offs[len(globs)] + 63) / 64
	has := func(set []uint64, p int) bool { return set[p/64]&(1<<(p%64)) != 0 }
	set1 := func(set []uint64, p int) { set[p/64] |= 1 << (p % 64) }
	// closeStars adds the positions past each '*' the set holds ('*'
	// matches the empty string).
	closeStars := func(set []uint64) {
		for i, g := range globs {
			for k := 0; k < len(g); k++ {
				if g[k] == '*' && has(set, offs[i]+k) {
					set1(set, offs[i]+k+1)
				}
			}
		}
	}
	step := func(set []uint64, c byte) []uint64 {
		next := make([]uint64, words)
		for i, g := range globs {
			for k := 0; k < len(g); k++ {
				if !has(set, offs[i]+k) {
					continue
				}
				switch g[k] {
				case '*':
					set1(next, offs[i]+k)
				case '?', c:
					set1(next, offs[i]+k+1)
				}
			}
		}
		closeStars(next)
		return next
	}
	accepts := func(set []uint64) bool {
		for i, g := range globs {
			if has(set, offs[i]+len(g)) {
				return true
			}
		}
		return false
	}
	// The names' automaton: -1 before the first letter, else how much of
	// suffix the name ends with (KMP, by brute force: suffixes are short).
	nameStep := func(st int, c byte) (int, bool) {
		if st < 0 {
			if !isAlnum(c) {
				return 0, false
			}
			st = 0
		}
		for j := min(st+1, len(suffix)); j > 0; j-- {
			cur := suffix[:st] + string(c)
			if strings.HasSuffix(cur, suffix[:j]) {
				return j, true
			}
		}
		return 0, true
	}
	type state struct {
		set string
		st  int
	}
	start := make([]uint64, words)
	for i := range globs {
		set1(start, offs[i])
	}
	closeStars(start)
	key := func(set []uint64, st int) state {
		b := make([]byte, 0, 8*len(set))
		for _, w := range set {
			for range 8 {
				b = append(b, byte(w))
				w >>= 8
			}
		}
		return state{string(b), st}
	}
	type item struct {
		set []uint64
		st  int
	}
	seen := map[state]bool{key(start, -1): true}
	queue := []item{{start, -1}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for _, c := range classes {
			st, ok := nameStep(it.st, c)
			if !ok {
				continue
			}
			next := step(it.set, c)
			if st == len(suffix) && !accepts(next) {
				return false // a name no glob matches
			}
			k := key(next, st)
			if seen[k] {
				continue
			}
			if len(seen) >= maxCoverStates {
				return false
			}
			seen[k] = true
			queue = append(queue, item{next, st})
		}
	}
	return true
}

const removeSources = "remove the field to match any source, or list your ranges"

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// coversFamily returns a problem when the prefixes together cover every
// address of IPv4 or of IPv6 (0.0.0.0/1 and 128.0.0.0/1), else "".
func coversFamily(ps []netip.Prefix) string {
	for _, is4 := range []bool{true, false} {
		var fam []netip.Prefix
		for _, p := range ps {
			if p.Addr().Is4() == is4 {
				fam = append(fam, p)
			}
		}
		if !covers(fam) {
			continue
		}
		// Name the widest prefixes: those no other listed prefix contains.
		var names []string
		for i, p := range fam {
			inside := false
			for j, q := range fam {
				if i != j && q.Bits() < p.Bits() && q.Contains(p.Addr()) {
					inside = true
					break
				}
			}
			if !inside {
				names = append(names, p.String())
			}
		}
		return fmt.Sprintf("%s together match every %s address; %s", strings.Join(names, ", "), family(fam[0].Addr()), removeSources)
	}
	return ""
}

// covers reports whether prefixes of one family cover all its addresses.
func covers(ps []netip.Prefix) bool {
	if len(ps) == 0 {
		return false
	}
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	next := sorted[0].Addr()
	if next != netip.IPv4Unspecified() && next != netip.IPv6Unspecified() {
		return false
	}
	for _, p := range sorted {
		if p.Addr().Compare(next) > 0 {
			return false
		}
		last := lastAddr(p)
		if last.Compare(next) < 0 {
			continue
		}
		next = last.Next()
		if !next.IsValid() {
			return true // last was the family's highest address
		}
	}
	return false
}

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for i := p.Bits() + off; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

// IsAccountID reports whether s is an AWS account ID: exactly 12 digits.
// The one account check of the project: the allowlist, the function's
// configuration, the stack's and the findings all use it.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

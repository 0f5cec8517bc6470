package quarantine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sid names the one statement s3xguard owns in a bucket policy. Every
// quarantined principal of the bucket is aggregated into it, so the policy
// grows by one ARN per principal, not by one statement.
const Sid = "S3xguardQuarantine"

// MaxPolicyBytes is the size limit of a bucket policy.
const MaxPolicyBytes = 20 * 1024

// ErrPolicyFull means adding the principal would take the policy over
// MaxPolicyBytes; the policy is left as it was.
var ErrPolicyFull = errors.New("bucket policy would exceed 20 KB")

// policy is a bucket policy with its statements kept as they were written:
// s3xguard only ever rewrites its own, and keeps what a person added to it
// (a list Resource, a Condition).
type policy struct {
	top        map[string]json.RawMessage
	statements []json.RawMessage
	ours       int                        // index of our statement, or -1
	fields     map[string]json.RawMessage // our statement's fields
	arns       []string                   // our statement's Principal.AWS
}

func parsePolicy(doc string) (*policy, error) {
	p := &policy{top: map[string]json.RawMessage{}, ours: -1}
	if doc == "" {
		p.top["Version"] = json.RawMessage(`"2012-10-17"`)
		return p, nil
	}
	if err := json.Unmarshal([]byte(doc), &p.top); err != nil {
		return nil, fmt.Errorf("bucket policy: %w", err)
	}
	if raw, ok := p.top["Statement"]; ok {
		// A policy may hold one statement as an object instead of a list.
		if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '{' {
			p.statements = []json.RawMessage{raw}
		} else if err := json.Unmarshal(raw, &p.statements); err != nil {
			return nil, fmt.Errorf("bucket policy Statement: %w", err)
		}
	}
	for i, raw := range p.statements {
		var f map[string]json.RawMessage
		var sid string
		if json.Unmarshal(raw, &f) != nil || json.Unmarshal(f["Sid"], &sid) != nil || sid != Sid {
			continue
		}
		p.ours, p.fields = i, f
		var pr struct{ AWS json.RawMessage }
		if err := json.Unmarshal(f["Principal"], &pr); err != nil {
			return nil, fmt.Errorf("bucket policy statement %s: Principal: %w", Sid, err)
		}
		// Principal.AWS is a list, or a single string when one is left.
		if err := json.Unmarshal(pr.AWS, &p.arns); err != nil {
			var one string
			if json.Unmarshal(pr.AWS, &one) != nil {
				return nil, fmt.Errorf("bucket policy statement %s: Principal.AWS is neither a string nor a list", Sid)
			}
			p.arns = []string{one}
		}
		break
	}
	return p, nil
}

// IsUniqueID reports whether a Principal entry is an IAM unique ID (AROA…,
// AIDA…) rather than an ARN: AWS shows a deleted principal that way, and
// rejects a policy write that carries one (FACTS §8, "Deleted principals").
func IsUniqueID(s string) bool {
	return s != "*" && !strings.HasPrefix(s, "arn:") && len(s) >= 16 && strings.ToUpper(s) == s
}

// encode writes the policy with our statement denying arns (or removed,
// when arns is empty). It returns "" when no statement is left.
func (p *policy) encode(bucketARN string, arns []string) (string, error) {
	stmts := slices.Clone(p.statements)
	if p.ours >= 0 {
		stmts = slices.Delete(stmts, p.ours, p.ours+1)
	}
	if len(arns) > 0 {
		resource := mustRaw(bucketARN)
		if bucketARN == "" {
			resource = p.fields["Resource"] // a removal names no bucket
		}
		// Exactly the statement s3xguard writes: anything a person added
		// (a Condition, an Effect, another Action or Resource) could make
		// it deny nothing while it still looks like a quarantine.
		f := map[string]json.RawMessage{"Sid": mustRaw(Sid), "Effect": mustRaw("Deny"),
			"Principal": mustRaw(map[string][]string{"AWS": arns}), "Action": mustRaw(action), "Resource": resource}
		raw := mustRaw(ordered(f))
		at := len(stmts)
		if p.ours >= 0 {
			at = p.ours
		}
		stmts = slices.Insert(stmts, at, raw)
	}
	if len(stmts) == 0 {
		return "", nil
	}
	top := make(map[string]json.RawMessage, len(p.top))
	for k, v := range p.top {
		top[k] = v
	}
	top["Statement"] = mustRaw(stmts)
	out, err := json.Marshal(top)
	return string(out), err
}

// action is the only action a directory bucket policy may name.
const action = "s3express:CreateSession"

// edits lists how our statement differs from the one s3xguard writes on
// bucketARN for the same principals ("" bucketARN: the Resource is not
// checked). A list of one and its string are the same; order does not
// matter.
func (p *policy) edits(bucketARN string) []string {
	if p.ours < 0 {
		return nil
	}
	var out []string
	for k := range p.fields {
		switch k {
		case "Sid", "Effect", "Principal", "Action", "Resource":
		default:
			out = append(out, k+" added")
		}
	}
	if !jsonIs(p.fields["Effect"], "Deny") {
		out = append(out, "Effect changed")
	}
	if !jsonIs(p.fields["Action"], action) {
		out = append(out, "Action changed")
	}
	if bucketARN != "" && !jsonIs(p.fields["Resource"], bucketARN) {
		out = append(out, "Resource changed")
	}
	var pr map[string]json.RawMessage
	if json.Unmarshal(p.fields["Principal"], &pr) != nil || len(pr) != 1 || pr["AWS"] == nil {
		out = append(out, "Principal changed")
	}
	slices.Sort(out)
	return out
}

// jsonIs reports whether raw is the string want, alone or as a list of one.
func jsonIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var list []string
	return json.Unmarshal(raw, &list) == nil && len(list) == 1 && list[0] == want
}

// ordered writes a statement's fields in the usual order (Sid, Effect,
// Principal, Action, Resource, then the rest by name), which people read.
func ordered(f map[string]json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	keys := []string{"Sid", "Effect", "Principal", "Action", "Resource"}
	var rest []string
	for k := range f {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	first := true
	for _, k := range append(keys, rest...) {
		v, ok := f[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(mustRaw(k))
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func mustRaw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, maps and raw messages: cannot fail
	}
	return b
}

// Change is a rewrite of our statement.
type Change struct {
	Add, Remove []string
	// All removes the statement whatever it holds.
	All bool
}

// Rewritten is the outcome of Rewrite.
type Rewritten struct {
	Doc string // "" when no statement is left: delete the policy
	// Changed reports whether Doc differs from the input.
	Changed bool
	// Dropped lists the unique IDs of deleted principals removed from the
	// statement: a policy that carries one cannot be written back.
	Dropped []string
	// Restored lists the edits to our statement that the rewrite undid
	// (see Inspect).
	Restored []string
}

// Rewrite applies c to our statement of doc (created on bucketARN if
// absent), dropping unique IDs of deleted principals. Other statements are
// kept as they are. It fails with ErrPolicyFull, changing nothing, when an
// addition takes the result over MaxPolicyBytes.
func Rewrite(doc, bucketARN string, c Change) (Rewritten, error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return Rewritten{}, err
	}
	var r Rewritten
	var have []string
	if !c.All {
		for _, a := range p.arns {
			switch {
			case IsUniqueID(a):
				r.Dropped = append(r.Dropped, a)
			case slices.Contains(c.Remove, a) || slices.Contains(have, a):
			default:
				have = append(have, a)
			}
		}
	}
	added := false
	for _, a := range c.Add {
		if !slices.Contains(have, a) {
			have = append(have, a)
			added = true
		}
	}
	slices.Sort(have)
	edits := p.edits(bucketARN)
	if p.ours < 0 && len(have) == 0 || p.ours >= 0 && slices.Equal(have, p.arns) && len(edits) == 0 {
		return Rewritten{Doc: doc}, nil
	}
	if len(have) > 0 {
		r.Restored = edits
	}
	if r.Doc, err = p.encode(bucketARN, have); err != nil {
		return Rewritten{}, err
	}
	if added && len(r.Doc) > MaxPolicyBytes {
		return Rewritten{Doc: doc}, fmt.Errorf("%w (%d bytes with %d quarantined principals)", ErrPolicyFull, len(r.Doc), len(have))
	}
	r.Changed = true
	return r, nil
}

// AddPrincipals returns doc with arns added to the quarantine statement
// (created if absent) on bucketARN. changed is false when every ARN was
// already denied.
func AddPrincipals(doc, bucketARN string, arns ...string) (out string, changed bool, err error) {
	r, err := Rewrite(doc, bucketARN, Change{Add: arns})
	return r.Doc, r.Changed, err
}

// RemovePrincipals returns doc without arns in the quarantine statement, or
// without the statement at all when all is set or none is left. out is ""
// when the policy has no statement left (delete it).
func RemovePrincipals(doc string, all bool, arns ...string) (out string, changed bool, err error) {
	r, err := Rewrite(doc, "", Change{Remove: arns, All: all})
	return r.Doc, r.Changed, err
}

// Principals returns the entries of the quarantine statement of doc (ARNs,
// and unique IDs of deleted principals), and whether the statement exists.
func Principals(doc string) ([]string, error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return nil, err
	}
	return slices.Clone(p.arns), nil
}

// Inspect returns the entries of the quarantine statement of doc, and how
// the statement differs from the one s3xguard writes on bucketARN (a
// Condition added, the Effect or Action or Resource changed): none when it
// is intact or absent. An edited statement may deny nobody while its
// principals are still listed.
func Inspect(doc, bucketARN string) (arns, edits []string, err error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return nil, nil, err
	}
	return slices.Clone(p.arns), p.edits(bucketARN), nil
}

// HasStatement reports whether doc has our statement.
func HasStatement(doc string) bool {
	p, err := parsePolicy(doc)
	return err == nil && p.ours >= 0
}

// statementOf returns our statement of a policy document, as JSON.
func statementOf(doc string) string {
	p, err := parsePolicy(doc)
	if err != nil || p.ours < 0 {
		return ""
	}
	return string(p.statements[p.ours])
}

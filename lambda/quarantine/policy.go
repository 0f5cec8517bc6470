package quarantine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// statement is the quarantine statement. A directory bucket policy can only
// name s3express:CreateSession: denying it stops new sessions, and sessions
// already issued expire within 5 minutes.
type statement struct {
	Sid       string
	Effect    string
	Principal struct {
		AWS []string
	}
	Action   string
	Resource string
}

// policy is a bucket policy with its statements kept as they were written:
// s3xguard only ever rewrites its own.
type policy struct {
	top        map[string]json.RawMessage
	statements []json.RawMessage
	ours       int // index of our statement, or -1
	stmt       statement
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
		var s struct {
			Sid       string
			Resource  string
			Principal struct{ AWS json.RawMessage }
		}
		if json.Unmarshal(raw, &s) != nil || s.Sid != Sid {
			continue
		}
		p.ours, p.stmt.Resource = i, s.Resource
		// Principal.AWS is a list, or a single string when one is left.
		if err := json.Unmarshal(s.Principal.AWS, &p.stmt.Principal.AWS); err != nil {
			var one string
			if json.Unmarshal(s.Principal.AWS, &one) != nil {
				return nil, fmt.Errorf("bucket policy statement %s: Principal.AWS is neither a string nor a list", Sid)
			}
			p.stmt.Principal.AWS = []string{one}
		}
		break
	}
	return p, nil
}

// principals returns the ARNs our statement denies.
func (p *policy) principals() []string {
	if p.ours < 0 {
		return nil
	}
	return slices.Clone(p.stmt.Principal.AWS)
}

// encode writes the policy with our statement set to arns on resource (or
// removed, when arns is empty). It returns "" when no statement is left.
func (p *policy) encode(resource string, arns []string) (string, error) {
	stmts := slices.Clone(p.statements)
	if p.ours >= 0 {
		stmts = slices.Delete(stmts, p.ours, p.ours+1)
	}
	if len(arns) > 0 {
		s := statement{Sid: Sid, Effect: "Deny", Action: "s3express:CreateSession", Resource: resource}
		s.Principal.AWS = arns
		raw, err := json.Marshal(s)
		if err != nil {
			return "", err
		}
		at := len(stmts)
		if p.ours >= 0 {
			at = p.ours
		}
		stmts = slices.Insert(stmts, at, json.RawMessage(raw))
	}
	if len(stmts) == 0 {
		return "", nil
	}
	top := make(map[string]json.RawMessage, len(p.top))
	for k, v := range p.top {
		top[k] = v
	}
	raw, err := json.Marshal(stmts)
	if err != nil {
		return "", err
	}
	top["Statement"] = raw
	out, err := json.Marshal(top)
	return string(out), err
}

// AddPrincipals returns doc with arns added to the quarantine statement
// (created if absent) on bucketARN. changed is false when every ARN was
// already denied. Other statements are kept as they are. It fails with
// ErrPolicyFull, changing nothing, when the result exceeds MaxPolicyBytes.
func AddPrincipals(doc, bucketARN string, arns ...string) (out string, changed bool, err error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return "", false, err
	}
	have := p.principals()
	for _, a := range arns {
		if !slices.Contains(have, a) {
			have = append(have, a)
			changed = true
		}
	}
	if !changed {
		return doc, false, nil
	}
	slices.Sort(have)
	resource := bucketARN
	if p.ours >= 0 && p.stmt.Resource != "" {
		resource = p.stmt.Resource
	}
	out, err = p.encode(resource, have)
	if err != nil {
		return "", false, err
	}
	if len(out) > MaxPolicyBytes {
		return doc, false, fmt.Errorf("%w (%d bytes with %d quarantined principals)", ErrPolicyFull, len(out), len(have))
	}
	return out, true, nil
}

// RemovePrincipals returns doc without arns in the quarantine statement, or
// without the statement at all when all is set or none is left. out is ""
// when the policy has no statement left (delete it). changed reports
// whether anything was removed.
func RemovePrincipals(doc string, all bool, arns ...string) (out string, changed bool, err error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return "", false, err
	}
	if p.ours < 0 {
		return doc, false, nil
	}
	var keep []string
	if !all {
		for _, a := range p.principals() {
			if slices.Contains(arns, a) {
				changed = true
			} else {
				keep = append(keep, a)
			}
		}
		if !changed {
			return doc, false, nil
		}
	}
	out, err = p.encode(p.stmt.Resource, keep)
	return out, true, err
}

// Principals returns the ARNs the quarantine statement of doc denies.
func Principals(doc string) ([]string, error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return nil, err
	}
	return p.principals(), nil
}

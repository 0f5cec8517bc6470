// Package quarantine is the enforcing response: a Deny on
// s3express:CreateSession for a principal in the directory bucket's policy
// and, optionally, IAM inline denies on the principal itself. Every
// quarantine is guarded, recorded with when, why and until when, idempotent,
// serialized per bucket, and undone by Release.
package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// S3 is the part of the S3 client that reads and writes bucket policies.
type S3 interface {
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	DeleteBucketPolicy(context.Context, *s3.DeleteBucketPolicyInput, ...func(*s3.Options)) (*s3.DeleteBucketPolicyOutput, error)
}

// IAM is the part of the IAM client the quarantine uses.
type IAM interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	PutUserPolicy(context.Context, *iam.PutUserPolicyInput, ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	DeleteUserPolicy(context.Context, *iam.DeleteUserPolicyInput, ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error)
}

// Quarantiner applies and releases quarantines for one account and region.
type Quarantiner struct {
	S3    S3
	IAM   IAM
	Store *state.Store

	Partition, Region, Account string
	// Self is the function's own role: never quarantined.
	Self rules.Principal
	// Identify, when set, looks up Self (and so Account and Partition) on
	// first need, not at cold start: a function that only alerts never
	// pays for the call.
	Identify func(context.Context) (rules.Principal, error)
	idMu     sync.Mutex
	// Protected reports whether the allowlist protects a principal.
	Protected func(rules.Principal) bool

	TTL         time.Duration
	MaxPerHour  int
	IAMResponse bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Actions of an Outcome.
const (
	Applied = "quarantined"
	DryRun  = "would quarantine"
	Already = "already quarantined"
	Refused = "not quarantined"
)

// RevokePolicy is the inline role policy the IAM console's "Revoke active
// sessions" writes; s3xguard writes the same.
const RevokePolicy = "AWSRevokeOlderSessions"

// Outcome says what Apply did.
type Outcome struct {
	Action string
	// Detail says why a quarantine was refused or what limited it.
	Detail string
	// Statement is the bucket policy statement applied (or that would be).
	Statement string
	// IAM names the inline policies put (or that would be).
	IAM   []string
	Until time.Time
}

func (q *Quarantiner) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// identify fills Self, Account and Partition once, through Identify.
func (q *Quarantiner) identify(ctx context.Context) error {
	q.idMu.Lock()
	defer q.idMu.Unlock()
	if q.Identify == nil || q.Self.ARN != "" {
		return nil
	}
	self, err := q.Identify(ctx)
	if err != nil {
		return err
	}
	q.Self, q.Account, q.Partition = self, self.Account, self.Partition
	if q.Partition == "" {
		q.Partition = "aws"
	}
	return nil
}

// Guard returns why p must never be quarantined, or "".
func (q *Quarantiner) Guard(p rules.Principal) string {
	switch {
	case p.Kind == rules.KindRoot:
		return "the account root is never quarantined"
	case p.Kind != rules.KindRole && p.Kind != rules.KindUser && p.Kind != rules.KindFederated:
		return fmt.Sprintf("a principal of kind %s cannot be named in a bucket policy deny", p.Kind)
	case q.Self.Normalized != "" && p.Normalized == q.Self.Normalized:
		return "the function's own role is never quarantined"
	case q.Protected != nil && q.Protected(p):
		return "the principal is protected by the allowlist"
	}
	return ""
}

// BucketARN returns the ARN of a directory bucket of this account.
func (q *Quarantiner) BucketARN(bucket string) string {
	return fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/%s", q.Partition, q.Region, q.Account, bucket)
}

// Apply quarantines p on bucket, or with dryRun says exactly what it would
// do. It changes nothing for a guarded principal, one already quarantined,
// when the circuit breaker has tripped, or when the policy is full.
func (q *Quarantiner) Apply(ctx context.Context, bucket string, p rules.Principal, reason, eventID string, dryRun bool) (Outcome, error) {
	if err := q.identify(ctx); err != nil {
		return Outcome{}, err
	}
	if why := q.Guard(p); why != "" {
		return Outcome{Action: Refused, Detail: why}, nil
	}
	// Lock-free first look: a principal already quarantined costs one
	// DynamoDB read and no S3 call.
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return Outcome{}, err
	}
	if r := recs[p.Normalized]; r != nil && !r.Expired(q.now()) {
		return Outcome{Action: Already, Until: r.Until, IAM: r.IAM, Detail: "since " + r.At.UTC().Format(time.RFC3339)}, nil
	}
	arn, err := q.policyARN(ctx, p)
	if err != nil {
		return Outcome{}, err
	}
	if dryRun {
		return q.dryRun(ctx, bucket, p, arn)
	}
	ok, err := q.Store.TakeQuarantineSlot(ctx, q.MaxPerHour)
	if err != nil {
		return Outcome{}, err
	}
	if !ok {
		return Outcome{Action: Refused, Detail: fmt.Sprintf("circuit breaker: %d quarantines this hour already; alerting only until the hour ends", q.MaxPerHour)}, nil
	}
	out, err := q.apply(ctx, bucket, p, arn, reason, eventID)
	if err != nil || out.Action != Applied {
		if rerr := q.Store.ReturnQuarantineSlot(ctx); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return out, err
}

func (q *Quarantiner) dryRun(ctx context.Context, bucket string, p rules.Principal, arn string) (Outcome, error) {
	doc, err := q.getPolicy(ctx, bucket)
	if err != nil {
		return Outcome{}, err
	}
	next, _, err := AddPrincipals(doc, q.BucketARN(bucket), arn)
	if errors.Is(err, ErrPolicyFull) {
		return Outcome{Action: Refused, Detail: err.Error()}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Action: DryRun, Statement: statementOf(next), Until: q.now().Add(q.TTL)}
	for _, d := range q.iamDocs(bucket, p) {
		out.IAM = append(out.IAM, d.name)
	}
	return out, nil
}

func (q *Quarantiner) apply(ctx context.Context, bucket string, p rules.Principal, arn, reason, eventID string) (_ Outcome, err error) {
	unlock, err := q.lockBucket(ctx, bucket)
	if err != nil {
		return Outcome{}, err
	}
	defer func() {
		if uerr := unlock(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return Outcome{}, err
	}
	now := q.now()
	if r := recs[p.Normalized]; r != nil && !r.Expired(now) {
		return Outcome{Action: Already, Until: r.Until, IAM: r.IAM}, nil
	}
	// Expired quarantines leave in the same write (released lazily).
	var expired []string
	for k, r := range recs {
		if r.Expired(now) {
			expired = append(expired, r.Principal)
			if err := q.removeIAM(ctx, r); err != nil {
				return Outcome{}, err
			}
			delete(recs, k)
		}
	}
	doc, err := q.getPolicy(ctx, bucket)
	if err != nil {
		return Outcome{}, err
	}
	if len(expired) > 0 {
		if doc, _, err = RemovePrincipals(doc, false, expired...); err != nil {
			return Outcome{}, err
		}
	}
	next, changed, err := AddPrincipals(doc, q.BucketARN(bucket), arn)
	if errors.Is(err, ErrPolicyFull) {
		return Outcome{Action: Refused, Detail: err.Error() + "; the policy was left unchanged"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if changed || len(expired) > 0 {
		if err := q.putPolicy(ctx, bucket, next); err != nil {
			return Outcome{}, err
		}
	}
	if err := q.verify(ctx, bucket, arn); err != nil {
		return Outcome{}, err
	}
	rec := &state.Quarantine{Principal: arn, At: now, Until: now.Add(q.TTL), Reason: reason, EventID: eventID}
	// Record before the IAM changes, so that a failure below leaves a
	// record that release can act on.
	recs[p.Normalized] = rec
	if err := q.Store.PutQuarantines(ctx, bucket, recs); err != nil {
		return Outcome{}, err
	}
	out := Outcome{Action: Applied, Statement: statementOf(next), Until: rec.Until}
	if ap, err := q.applyIAM(ctx, bucket, p, now); len(ap) > 0 || err != nil {
		rec.IAM, out.IAM = ap, ap
		if perr := q.Store.PutQuarantines(ctx, bucket, recs); perr != nil {
			err = errors.Join(err, perr)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// LockWait bounds the wait for a bucket's lock, so that the alert still
// goes out well within the function's timeout.
const LockWait = 20 * time.Second

// lockBucket serializes read-modify-writes of the bucket's policy.
func (q *Quarantiner) lockBucket(ctx context.Context, bucket string) (unlock func(context.Context) error, err error) {
	wctx, cancel := context.WithTimeout(ctx, LockWait)
	defer cancel()
	return q.Store.Lock(wctx, "bucket#"+bucket)
}

// verify re-reads the policy: a bucket policy has no ETag, so a writer
// that bypassed the lock would otherwise go unnoticed.
func (q *Quarantiner) verify(ctx context.Context, bucket, arn string) error {
	doc, err := q.getPolicy(ctx, bucket)
	if err != nil {
		return err
	}
	got, err := Principals(doc)
	if err != nil {
		return err
	}
	if !slices.Contains(got, arn) {
		return fmt.Errorf("quarantine: bucket %s: %s missing from the policy after it was written (another writer?)", bucket, arn)
	}
	return nil
}

// policyARN is the ARN a bucket policy can name for p. Zonal calls log the
// role session without the role's path, and a policy naming a role ARN
// that does not exist is rejected, so roles of this account are looked up.
// A role of another account is named without a path: if it has one, AWS
// rejects the policy and nothing changes.
func (q *Quarantiner) policyARN(ctx context.Context, p rules.Principal) (string, error) {
	if p.Kind != rules.KindRole {
		return p.ARN, nil
	}
	if p.Account != q.Account {
		return p.Normalized, nil
	}
	out, err := q.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: &p.Name})
	if err != nil {
		return "", fmt.Errorf("quarantine: resolve role %s: %w", p.Name, err)
	}
	return aws.ToString(out.Role.Arn), nil
}

func (q *Quarantiner) getPolicy(ctx context.Context, bucket string) (string, error) {
	out, err := q.S3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	if errorCode(err) == "NoSuchBucketPolicy" {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("quarantine: get policy of %s: %w", bucket, err)
	}
	return aws.ToString(out.Policy), nil
}

func (q *Quarantiner) putPolicy(ctx context.Context, bucket, doc string) error {
	var err error
	if doc == "" {
		_, err = q.S3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &bucket})
	} else {
		_, err = q.S3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &doc})
	}
	if err != nil {
		return fmt.Errorf("quarantine: write policy of %s: %w", bucket, err)
	}
	return nil
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// statementOf returns our statement of a policy document, as JSON.
func statementOf(doc string) string {
	p, err := parsePolicy(doc)
	if err != nil || p.ours < 0 {
		return ""
	}
	for _, raw := range p.statements {
		var s struct{ Sid string }
		if json.Unmarshal(raw, &s) == nil && s.Sid == Sid {
			return string(raw)
		}
	}
	return ""
}

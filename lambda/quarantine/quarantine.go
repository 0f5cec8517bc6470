// Package quarantine is the enforcing response: a Deny on
// s3express:CreateSession for a principal in the directory bucket's policy
// and, optionally, the stack's managed IAM deny policy attached to the
// principal (and, opt-in, its older sessions revoked). Every quarantine is
// guarded, recorded (with what remains to be done, so that the sweep
// finishes a failed or interrupted one), idempotent, serialized per bucket
// with a fenced lock, reconciled against the policy, and undone by Release.
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// S3 is the part of the S3 client that reads and writes bucket policies.
type S3 interface {
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	DeleteBucketPolicy(context.Context, *s3.DeleteBucketPolicyInput, ...func(*s3.Options)) (*s3.DeleteBucketPolicyOutput, error)
}

// IAM is the part of the IAM client the quarantine uses. There is no
// inline-policy call but the one named revocation policy (see iam.go).
type IAM interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	DetachRolePolicy(context.Context, *iam.DetachRolePolicyInput, ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
	AttachUserPolicy(context.Context, *iam.AttachUserPolicyInput, ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error)
	DetachUserPolicy(context.Context, *iam.DetachUserPolicyInput, ...func(*iam.Options)) (*iam.DetachUserPolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
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
	// first need, not at cold start.
	Identify func(context.Context) (rules.Principal, error)
	idMu     sync.Mutex
	// Protected reports whether the allowlist protects a principal;
	// ProtectedARNs are the same entries, also matched by name without
	// regard to case (IAM role and user names are case-insensitive).
	Protected     func(rules.Principal) bool
	ProtectedARNs []string
	// BreakGlass is the role on-call uses to repair (BREAK_GLASS_ROLE_ARN):
	// never quarantined. Zero when not configured.
	BreakGlass rules.Principal
	// CDKQualifier is the `cdk bootstrap` qualifier of the account
	// (CDK_QUALIFIER); "" means DefaultCDKQualifier.
	CDKQualifier string

	// TTL is how long a quarantine lasts; 0 means until released by hand.
	TTL     time.Duration
	Breaker state.Breaker
	// IAMResponse attaches DenyPolicyARN (the stack's managed deny policy)
	// to a quarantined role or user of this account.
	IAMResponse   bool
	DenyPolicyARN string
	// RevokeSessions also revokes a quarantined role's older sessions.
	RevokeSessions bool
	// SessionTarget denies the session ARN only, not the role.
	SessionTarget bool
	// Buckets are buckets to reconcile even without records (the guarded
	// buckets, when named): a deny found there without a record is adopted.
	Buckets []string
	// CallTimeout bounds each S3 and IAM call (all its SDK attempts); 0
	// means DefaultCallTimeout.
	CallTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultCallTimeout bounds one S3 or IAM call with its retries, so that a
// hung call leaves time to record what remains and to send the alert. A
// policy call takes tens of milliseconds when AWS is well; the bound is
// for when it is not.
const DefaultCallTimeout = 8 * time.Second

// Actions of an Outcome.
const (
	Applied = "quarantined"
	// Partial: the bucket deny is in force, the IAM part is pending.
	Partial = "quarantined (IAM part pending)"
	// Pending: nothing in force yet; recorded, the sweep retries.
	Pending = "quarantine pending"
	DryRun  = "would quarantine"
	Already = "already quarantined"
	Refused = "not quarantined"
)

// SessionNote is said with every quarantine: a Deny on CreateSession stops
// new sessions only, and the event itself reached the function after
// CloudTrail's delivery to EventBridge.
const SessionNote = "Sessions already issued may keep working for up to 5 minutes plus the CloudTrail-to-EventBridge delivery delay (typically seconds to a few minutes)."

// Request is one quarantine to apply.
type Request struct {
	Bucket    string
	Principal rules.Principal
	// IssuerARN is the session issuer of the record, when logged: for a
	// federated user, its parent IAM user.
	IssuerARN       string
	Reason, EventID string
	DryRun          bool
	// BucketAccount is the bucket's owner as the record names it; "" when
	// the record does not say.
	BucketAccount string
}

// Outcome says what Apply did.
type Outcome struct {
	Action string
	// Detail says why a quarantine was refused, what limited it, or how
	// the target was chosen.
	Detail string
	// Target is the ARN the bucket deny names.
	Target string
	// Statement is the bucket policy statement applied (or that would be).
	Statement string
	// IAM says what was done (or would be) on the role or user.
	IAM   []string
	Until time.Time
	// Notices are pages for the health topic (breaker tripped, drift).
	Notices []Notice
	// Retried: already quarantined, by an earlier attempt of this same
	// event (the record names its event ID); that attempt failed after it,
	// so its page may not have gone out.
	Retried bool
}

// Notice is a page about the guard itself, for the health topic.
type Notice struct {
	Kind       string // see the Notice* kinds
	Bucket     string
	Principals []string
	Detail     string
}

// Kinds of Notice.
const (
	NoticeBreaker  = "breaker"  // the circuit breaker refused a quarantine
	NoticeExpired  = "expired"  // a quarantine expired and was released
	NoticeDrift    = "drift"    // a deny had gone from the policy and was re-applied
	NoticeAdopted  = "adopted"  // a deny without a record was adopted
	NoticePending  = "pending"  // a pending quarantine still fails
	NoticeResolved = "resolved" // a pending quarantine now holds
	NoticeDropped  = "dropped"  // unique IDs of deleted principals dropped
	NoticeEdited   = "edited"   // an edited quarantine statement was restored
	NoticeRefused  = "refused"  // a guarded principal found in the statement was removed
	NoticeGone     = "gone"     // AWS rejected a principal (deleted): dropped for good
)

func (q *Quarantiner) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// call bounds one AWS call.
func (q *Quarantiner) call(ctx context.Context) (context.Context, context.CancelFunc) {
	d := q.CallTimeout
	if d <= 0 {
		d = DefaultCallTimeout
	}
	return context.WithTimeout(ctx, d)
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

// BucketARN returns the ARN of a directory bucket of this account.
func (q *Quarantiner) BucketARN(bucket string) string {
	return fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/%s", q.Partition, q.Region, q.Account, bucket)
}

func (q *Quarantiner) until(now time.Time) time.Time {
	if q.TTL <= 0 {
		return time.Time{}
	}
	return now.Add(q.TTL)
}

// Apply quarantines r.Principal on r.Bucket, or with r.DryRun says exactly
// what it would do. It changes nothing for a guarded principal, one whose
// deny is in the policy already, when the circuit breaker refuses, or when
// the policy is full. A quarantine that fails part-way is recorded as
// pending and finished by the sweep (Reconcile).
func (q *Quarantiner) Apply(ctx context.Context, r Request) (Outcome, error) {
	if err := q.identify(ctx); err != nil {
		return Outcome{}, err
	}
	if why := q.Guard(r.Principal); why != "" {
		return Outcome{Action: Refused, Detail: why}, nil
	}
	if r.BucketAccount != "" && r.BucketAccount != q.Account {
		// Only the owner may write a bucket policy (FACTS §2): a pending
		// intent here would be retried and paged forever.
		return Outcome{Action: Refused, Detail: fmt.Sprintf("the bucket belongs to account %s, not this function's (%s): only its owner can write its policy, so nothing is recorded; quarantine it from that account", r.BucketAccount, q.Account)}, nil
	}
	t := q.tentative(r)
	recs, err := q.Store.Quarantines(ctx, r.Bucket)
	if err != nil {
		return Outcome{}, err
	}
	now := q.now()
	// A role's recorded ARN (with its path) saves the lookup.
	for a, rec := range recs.Map {
		if t.resolve && withoutPath(a) == t.arn && !rec.Has(state.PartResolve) {
			t.arn, t.resolve = a, false
		}
	}
	out := Outcome{Target: t.arn, Detail: t.note}
	rec := recs.Map[t.arn]
	live := rec != nil && !rec.Expired(now) && !rec.Has(state.PartRelease)
	if live && len(rec.Pending) > 0 {
		out.Action, out.Until = Pending, rec.Until
		if !rec.Has(state.PartBucket) && !rec.Has(state.PartResolve) {
			out.Action = Partial
		}
		out.Detail, out.IAM = joinDetail("since "+rec.At.UTC().Format(time.RFC3339), pendingNote(rec)), iamSummary(rec)
		return out, nil
	}
	if live {
		// One GET: "already quarantined" is what the policy says, not only
		// the record (an administrator or the attacker may have removed it).
		retried := r.EventID != "" && rec.EventID == r.EventID
		doc, err := q.getPolicy(ctx, r.Bucket)
		if err != nil {
			out.Action, out.Until, out.IAM, out.Retried = Already, rec.Until, iamSummary(rec), retried
			out.Detail = joinDetail("recorded since "+rec.At.UTC().Format(time.RFC3339), fmt.Sprintf("the policy could not be read to confirm (%v); the sweep reconciles it", err))
			return out, nil
		}
		arns, edits, err := Inspect(doc, q.BucketARN(r.Bucket))
		if err != nil {
			return Outcome{}, fmt.Errorf("quarantine: bucket %s: %w", r.Bucket, err)
		}
		if slices.Contains(arns, t.arn) && len(edits) == 0 {
			out.Action, out.Until, out.IAM, out.Retried = Already, rec.Until, iamSummary(rec), retried
			out.Detail = "since " + rec.At.UTC().Format(time.RFC3339)
			if retried {
				out.Detail += ", by an earlier attempt of this event"
			}
			return out, nil
		}
		if !r.DryRun {
			why := "the quarantine statement no longer denied this principal (removed by hand or by someone else); re-applied"
			if len(edits) > 0 {
				why = editedNote(edits)
			}
			out.Notices = append(out.Notices, Notice{Kind: NoticeDrift, Bucket: r.Bucket, Principals: []string{t.arn}, Detail: why})
		}
	}
	if r.DryRun {
		if err := q.resolve(ctx, &t); err != nil {
			return Outcome{}, err
		}
		doc, err := q.getPolicy(ctx, r.Bucket)
		if err != nil {
			return Outcome{}, err
		}
		out.Target = t.arn
		return q.dryRun(r.Bucket, doc, t, out)
	}
	slot, limit, err := q.Store.Take(ctx, q.Breaker, r.Bucket, slotWho(t.arn))
	if err != nil {
		return Outcome{}, err
	}
	if limit != "" {
		max := q.Breaker.PerBucket
		if limit == "global" {
			max = q.Breaker.Global
		}
		out.Action, out.Detail = Refused, fmt.Sprintf("circuit breaker: %d principals quarantined this hour already (%s limit); alerting only until the hour ends", max, limit)
		// Every refusal pages: while the breaker is open, each one is an
		// intruder left free, not a repeat of the first.
		out.Notices = append(out.Notices, Notice{Kind: NoticeBreaker, Bucket: r.Bucket, Principals: []string{t.arn}, Detail: out.Detail})
		return out, nil
	}
	// The intent first, before any S3 or IAM call: from here on, a crash
	// or a failure leaves a pending record that the sweep finishes.
	var parts []string
	if t.resolve {
		parts = append(parts, state.PartResolve)
	}
	parts = append(parts, state.PartBucket)
	if t.entity != "" && q.IAMResponse {
		parts = append(parts, state.PartIAM)
		if q.revokable(t) {
			parts = append(parts, state.PartRevoke)
		}
	}
	err = q.Store.UpdateQuarantines(ctx, r.Bucket, func(m map[string]*state.Quarantine) bool {
		prev := m[t.arn]
		rec := &state.Quarantine{Principal: t.arn, At: now, Until: q.until(now), Reason: r.Reason, EventID: r.EventID,
			Entity: t.entity, Note: t.note, Pending: parts, NextTry: inFlightUntil(ctx, now)}
		if prev != nil && !prev.Has(state.PartRelease) {
			rec.Attached, rec.Revoked = prev.Attached, prev.Revoked
		}
		m[t.arn] = rec
		return true
	})
	if err != nil {
		err = errors.Join(err, q.Store.Return(context.WithoutCancel(ctx), slot))
		return Outcome{}, err
	}
	if t.resolve {
		arn, err := q.resolveRecord(ctx, r.Bucket, t.arn)
		if err != nil {
			out.Action = Pending
			out.Detail = joinDetail(out.Detail, fmt.Sprintf("the role could not be resolved yet (%v); recorded as pending, the sweep retries it every minute", err))
			return out, nil
		}
		t.arn, out.Target = arn, arn
	}
	rw, gone, err := q.writeAdding(ctx, r.Bucket, Change{Add: []string{t.arn}})
	if len(gone) > 0 {
		err = errors.Join(q.markGone(ctx, r.Bucket, gone), q.Store.Return(context.WithoutCancel(ctx), slot))
		n := goneNotice(r.Bucket, gone)
		out.Action, out.Detail, out.Notices = Refused, n.Detail, append(out.Notices, n)
		return out, err
	}
	if errors.Is(err, ErrPolicyFull) {
		err = errors.Join(q.forget(ctx, r.Bucket, t.arn), q.Store.Return(context.WithoutCancel(ctx), slot))
		out.Action, out.Detail = Refused, ErrPolicyFull.Error()+"; the policy was left unchanged"
		return out, err
	}
	if err != nil {
		ferr := q.failed(context.WithoutCancel(ctx), r.Bucket, t.arn, err)
		out.Action = Pending
		out.Detail = joinDetail(out.Detail, fmt.Sprintf("the bucket deny could not be written yet (%v); recorded as pending, the sweep retries it every minute", err))
		return out, ferr
	}
	out.Statement, out.Until = statementOf(rw.Doc), q.until(now)
	if len(rw.Dropped) > 0 {
		out.Notices = append(out.Notices, droppedNotice(r.Bucket, rw.Dropped))
		out.Detail = joinDetail(out.Detail, droppedNotice(r.Bucket, rw.Dropped).Detail)
	}
	// The deny is in force: the slot counts even if this instance dies now.
	errs := []error{q.Store.Keep(ctx, slot)}
	errs = append(errs, q.Store.UpdateQuarantines(ctx, r.Bucket, func(m map[string]*state.Quarantine) bool {
		if rec := m[t.arn]; rec != nil {
			rec.Done(state.PartBucket)
			rec.Dropped = rw.Dropped
			return true
		}
		return false
	}))
	rec, ierr := q.finishIAM(ctx, r.Bucket, t.arn)
	out.Action = Applied
	if rec != nil {
		out.IAM = iamSummary(rec)
	}
	if ierr != nil || rec != nil && (rec.Has(state.PartIAM) || rec.Has(state.PartRevoke)) {
		out.Action = Partial
		out.Detail = joinDetail(out.Detail, fmt.Sprintf("IAM part failed (%v); recorded as pending, the sweep retries it", ierr))
	}
	return out, errors.Join(errs...)
}

func (q *Quarantiner) dryRun(bucket, doc string, t target, out Outcome) (Outcome, error) {
	rw, err := Rewrite(doc, q.BucketARN(bucket), Change{Add: []string{t.arn}})
	if errors.Is(err, ErrPolicyFull) {
		out.Action, out.Detail = Refused, err.Error()
		return out, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	out.Action, out.Statement, out.Until = DryRun, statementOf(rw.Doc), q.until(q.now())
	if t.entity != "" && q.IAMResponse {
		out.IAM = append(out.IAM, "attach "+q.DenyPolicyARN+" to "+t.entity)
		if q.revokable(t) {
			out.IAM = append(out.IAM, "revoke sessions of "+t.entity+" issued before now")
		}
	}
	return out, nil
}

// failed records that the pending parts of a quarantine failed, with a
// backoff for the sweep's next try (1, 2, 4... minutes, at most an hour).
func (q *Quarantiner) failed(ctx context.Context, bucket, arn string, cause error) error {
	return q.Store.UpdateQuarantines(ctx, bucket, func(m map[string]*state.Quarantine) bool {
		rec := m[arn]
		if rec == nil {
			return false
		}
		rec.Attempts++
		rec.LastError = clip(cause.Error(), 300)
		rec.NextTry = q.now().Add(backoff(rec.Attempts))
		return true
	})
}

// InFlight is how long the sweep leaves a quarantine in progress to the
// instance doing it, when its context has no deadline.
const InFlight = time.Minute

// inFlightUntil is when the sweep may take over a quarantine this
// invocation started: its deadline (a Lambda invocation's context ends at
// the function's timeout), so that the sweep neither races the holder nor
// waits long after the holder died.
func inFlightUntil(ctx context.Context, now time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok && d.Before(now.Add(15*time.Minute)) {
		return d
	}
	return now.Add(InFlight)
}

// backoff is the wait before the sweep's next try after n failed
// attempts: the next sweep, then 1, 2, 4... minutes, at most an hour.
func backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	return min(time.Minute<<min(n-2, 6), time.Hour)
}

// forget drops the record of a quarantine that will not happen.
func (q *Quarantiner) forget(ctx context.Context, bucket, arn string) error {
	return q.Store.UpdateQuarantines(context.WithoutCancel(ctx), bucket, func(m map[string]*state.Quarantine) bool {
		if m[arn] == nil {
			return false
		}
		delete(m, arn)
		return true
	})
}

// LockWait bounds the wait for a bucket's lock, so that the alert still
// goes out well within the function's timeout.
const LockWait = 20 * time.Second

// writePolicy applies c to the bucket's policy: the only work done under
// the bucket's lock. The write is fenced (the lock must still be ours just
// before PutBucketPolicy), then read back until it shows (a write may take
// a moment to be visible).
func (q *Quarantiner) writePolicy(ctx context.Context, bucket string, c Change) (_ Rewritten, err error) {
	wctx, cancel := context.WithTimeout(ctx, LockWait)
	lease, err := q.Store.Lock(wctx, "bucket#"+bucket)
	cancel()
	if err != nil {
		return Rewritten{}, err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if uerr := lease.Unlock(uctx); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	doc, err := q.getPolicy(ctx, bucket)
	if err != nil {
		return Rewritten{}, err
	}
	rw, err := Rewrite(doc, q.BucketARN(bucket), c)
	if err != nil {
		return rw, err
	}
	if !rw.Changed {
		return rw, nil
	}
	if err := lease.Fence(ctx); err != nil {
		return Rewritten{}, err
	}
	// Noted before the write, so that its event, however soon it comes,
	// is recognized as the function's own.
	if err := q.noteWrite(ctx, bucket, rw.Doc); err != nil {
		return Rewritten{}, err
	}
	if err := q.putPolicy(ctx, bucket, rw.Doc); err != nil {
		return Rewritten{}, err
	}
	_ = lease.Written(ctx) // best effort: the lease only stays longer
	return rw, q.verify(ctx, bucket, c)
}

// writeAdding is writePolicy for a change that adds principals. When AWS
// rejects the write for an invalid principal (one deleted since it was
// recorded), it finds which of c.Add AWS rejects, one write each, writes
// the rest, and returns the rejected apart: a single one must not block
// every other write on the bucket.
func (q *Quarantiner) writeAdding(ctx context.Context, bucket string, c Change) (Rewritten, []string, error) {
	rw, err := q.writePolicy(ctx, bucket, c)
	if !invalidPrincipal(err) || len(c.Add) == 0 {
		return rw, nil, err
	}
	var gone, good []string
	if len(c.Add) == 1 {
		gone = c.Add
	} else {
		for _, a := range c.Add {
			one, err := q.writePolicy(ctx, bucket, Change{Add: []string{a}, Remove: c.Remove})
			switch {
			case invalidPrincipal(err):
				gone = append(gone, a)
			case err != nil:
				return rw, gone, err
			default:
				good = append(good, a)
				rw.Dropped, rw.Restored = append(rw.Dropped, one.Dropped...), append(rw.Restored, one.Restored...)
			}
		}
	}
	last, err := q.writePolicy(ctx, bucket, Change{Add: good, Remove: c.Remove})
	last.Dropped, last.Restored = append(rw.Dropped, last.Dropped...), append(rw.Restored, last.Restored...)
	return last, gone, err
}

// invalidPrincipal reports whether err is AWS refusing a bucket policy for
// a principal that does not exist (FACTS §3, §8): MalformedPolicy, "Invalid
// principal in policy".
func invalidPrincipal(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "MalformedPolicy" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "invalid principal")
}

// markGone records that AWS rejects arns: nothing of their quarantine is
// pending any more, and the sweep never re-applies them.
func (q *Quarantiner) markGone(ctx context.Context, bucket string, arns []string) error {
	why := fmt.Sprintf("AWS rejected a bucket policy naming it (MalformedPolicy: Invalid principal in policy) at %s: the principal was deleted; dropped from the quarantine statement, never re-applied by the sweep", q.now().UTC().Format(time.RFC3339))
	return q.Store.UpdateQuarantines(context.WithoutCancel(ctx), bucket, func(m map[string]*state.Quarantine) bool {
		changed := false
		for _, a := range arns {
			if r := m[a]; r != nil && r.Gone == "" {
				r.Gone, changed = why, true
				for _, p := range []string{state.PartBucket, state.PartIAM, state.PartRevoke} {
					r.Done(p)
				}
			}
		}
		return changed
	})
}

func goneNotice(bucket string, arns []string) Notice {
	return Notice{Kind: NoticeGone, Bucket: bucket, Principals: arns,
		Detail: "AWS rejects a bucket policy naming " + strings.Join(arns, ", ") + " (Invalid principal in policy: deleted since quarantined): dropped from the quarantine statement, recorded, and not retried; the other quarantines of the bucket are written"}
}

// slotWho names the principal a breaker slot counts: the role or user
// under a session or a path, so that one role under many session names
// (QUARANTINE_TARGET=session) or many paths takes one slot, not many.
func slotWho(arn string) string {
	p := rules.PrincipalOf(cloudtrail.Identity{ARN: arn})
	if p.Kind == rules.KindRole && p.Session != "" {
		return p.Normalized
	}
	return withoutPath(arn)
}

// verify re-reads the policy, with backoff, until it shows c: a bucket
// policy has no ETag, and a write may not be visible at once.
func (q *Quarantiner) verify(ctx context.Context, bucket string, c Change) error {
	var missing []string
	for delay := 100 * time.Millisecond; ; delay *= 2 {
		doc, err := q.getPolicy(ctx, bucket)
		if err != nil {
			return err
		}
		got, err := Principals(doc)
		if err != nil {
			return err
		}
		missing = missing[:0]
		for _, a := range c.Add {
			if !slices.Contains(got, a) {
				missing = append(missing, a)
			}
		}
		for _, a := range c.Remove {
			if slices.Contains(got, a) {
				missing = append(missing, "-"+a)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if delay > 1600*time.Millisecond {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	return fmt.Errorf("quarantine: bucket %s: policy does not show %s after it was written (another writer?)", bucket, strings.Join(missing, ", "))
}

func (q *Quarantiner) getPolicy(ctx context.Context, bucket string) (string, error) {
	cctx, cancel := q.call(ctx)
	defer cancel()
	out, err := q.S3.GetBucketPolicy(cctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	if errorCode(err) == "NoSuchBucketPolicy" {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("quarantine: get policy of %s: %w", bucket, err)
	}
	return aws.ToString(out.Policy), nil
}

// policyPrincipals reads the bucket policy, the principals of s3xguard's
// statement in it and how the statement was edited (see Inspect).
func (q *Quarantiner) policyPrincipals(ctx context.Context, bucket string) (arns, edits []string, err error) {
	doc, err := q.getPolicy(ctx, bucket)
	if err != nil {
		return nil, nil, err
	}
	arns, edits, err = Inspect(doc, q.BucketARN(bucket))
	if err != nil {
		return nil, nil, fmt.Errorf("quarantine: bucket %s: %w", bucket, err)
	}
	return arns, edits, nil
}

func (q *Quarantiner) putPolicy(ctx context.Context, bucket, doc string) error {
	cctx, cancel := q.call(ctx)
	defer cancel()
	var err error
	if doc == "" {
		_, err = q.S3.DeleteBucketPolicy(cctx, &s3.DeleteBucketPolicyInput{Bucket: &bucket})
	} else {
		_, err = q.S3.PutBucketPolicy(cctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &doc})
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

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func pendingNote(rec *state.Quarantine) string {
	if len(rec.Pending) == 0 {
		return ""
	}
	return "pending: " + strings.Join(rec.Pending, ", ") + " (the sweep retries)"
}

// editedNote says what was undone in an edited quarantine statement.
func editedNote(edits []string) string {
	return "the quarantine statement had been edited (" + strings.Join(edits, ", ") + "), so it may have denied nobody; restored to the statement s3xguard writes"
}

func droppedNotice(bucket string, ids []string) Notice {
	return Notice{Kind: NoticeDropped, Bucket: bucket, Principals: ids,
		Detail: fmt.Sprintf("dropped %s from the quarantine statement: unique IDs of deleted principals, which a policy write cannot carry", strings.Join(ids, ", "))}
}

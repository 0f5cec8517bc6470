package quarantine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// Entry is one quarantined principal of a bucket, as List shows it.
type Entry struct {
	// Principal is the ARN (or unique ID) the bucket policy names.
	Principal string
	// InPolicy reports whether the policy denies it now.
	InPolicy bool
	// Record is nil for a principal in the policy that s3xguard has no
	// record of (added by hand, or its record was lost: the sweep adopts it).
	Record *state.Quarantine
}

// List returns the principals the bucket's quarantine statement denies and
// those recorded, with their records.
func (q *Quarantiner) List(ctx context.Context, bucket string) ([]Entry, error) {
	arns, recs, err := q.denied(ctx, bucket)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, a := range arns {
		out = append(out, Entry{Principal: a, InPolicy: true, Record: recs.Map[a]})
	}
	for a, r := range recs.Map {
		if !slices.Contains(arns, a) {
			out = append(out, Entry{Principal: a, Record: r})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out, nil
}

// denied reads both sides of a bucket's quarantines: the principals its
// policy statement denies and the records.
func (q *Quarantiner) denied(ctx context.Context, bucket string) ([]string, state.Records, error) {
	arns, _, err := q.policyPrincipals(ctx, bucket)
	if err != nil {
		return nil, state.Records{}, err
	}
	recs, err := q.Store.Quarantines(ctx, bucket)
	return arns, recs, err
}

// withoutPath returns a role or user ARN without its path, as alerts show
// principals.
func withoutPath(arn string) string {
	i := strings.LastIndexByte(arn, ':')
	kind, rest, ok := strings.Cut(arn[i+1:], "/")
	if !ok || kind != "role" && kind != "user" {
		return arn
	}
	return arn[:i+1] + kind + "/" + rest[strings.LastIndexByte(rest, '/')+1:]
}

// Release lifts the quarantine of the given principals on bucket (policy
// ARNs, or the role ARN without path as alerts show it), or of every
// principal with all. It returns the ARNs released. The records are marked
// first, so that a release interrupted half-way is finished by the sweep
// and never mistaken for drift.
func (q *Quarantiner) Release(ctx context.Context, bucket string, principals []string, all bool) ([]string, error) {
	if err := q.identify(ctx); err != nil {
		return nil, err
	}
	pick := func(a string) bool {
		return all || slices.Contains(principals, a) || slices.Contains(principals, withoutPath(a))
	}
	err := q.Store.UpdateQuarantines(ctx, bucket, func(m map[string]*state.Quarantine) bool {
		changed := false
		for a, r := range m {
			if pick(a) && !r.Has(state.PartRelease) {
				r.Pending, changed = []string{state.PartRelease}, true
			}
		}
		return changed
	})
	if err != nil {
		return nil, err
	}
	arns, recs, err := q.denied(ctx, bucket)
	if err != nil {
		return nil, err
	}
	var drop []string
	for _, a := range arns {
		if pick(a) {
			drop = append(drop, a)
		}
	}
	for a, r := range recs.Map {
		if r.Has(state.PartRelease) && !slices.Contains(drop, a) {
			drop = append(drop, a)
		}
	}
	return q.finishRelease(ctx, bucket, drop)
}

// finishRelease removes arns from the policy, undoes their IAM response
// and deletes their records.
func (q *Quarantiner) finishRelease(ctx context.Context, bucket string, arns []string) ([]string, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	sort.Strings(arns)
	if _, err := q.writePolicy(ctx, bucket, Change{Remove: arns}); err != nil {
		return nil, err
	}
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return arns, err
	}
	var errs []error
	var done []string
	for _, a := range arns {
		r := recs.Map[a]
		if r == nil {
			continue
		}
		if err := q.cleanupIAM(ctx, bucket, r); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, a)
	}
	errs = append(errs, q.Store.UpdateQuarantines(ctx, bucket, func(m map[string]*state.Quarantine) bool {
		n := len(m)
		for _, a := range done {
			if r := m[a]; r != nil && r.Has(state.PartRelease) {
				delete(m, a)
			}
		}
		return len(m) != n
	}))
	return arns, errors.Join(errs...)
}

// Reconcile brings a bucket's policy and records into agreement, and says
// what it found: quarantines whose time is up are released (expired);
// interrupted releases are finished; a recorded deny missing from the
// policy is re-applied (drift); an edited statement is restored (edited);
// pending parts due for a retry are retried (resolved, or still pending);
// a deny in the policy without a record is adopted if the guard allows it,
// removed if not (refused); a principal AWS rejects is dropped (gone);
// unique IDs of deleted principals are dropped.
func (q *Quarantiner) Reconcile(ctx context.Context, bucket string) ([]Notice, error) {
	if err := q.identify(ctx); err != nil {
		return nil, err
	}
	now := q.now()
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return nil, err
	}
	arns, edits, err := q.policyPrincipals(ctx, bucket)
	if err != nil {
		return nil, err
	}
	var notices []Notice
	var expired, releasing, drift, retry, retryIAM, adopt, refuse, ids []string
	refused := map[string]string{}
	for a, r := range recs.Map {
		if r.Has(state.PartResolve) && !r.Expired(now) && !r.Has(state.PartRelease) {
			if r.NextTry.After(now) {
				continue
			}
			arn, err := q.resolveRecord(ctx, bucket, a)
			if err != nil {
				notices = append(notices, Notice{Kind: NoticePending, Bucket: bucket, Principals: []string{a},
					Detail: fmt.Sprintf("pending quarantine still failing: %v; retried with backoff", err)})
				continue
			}
			retry = append(retry, arn)
			continue
		}
		switch {
		case r.Has(state.PartRelease):
			releasing = append(releasing, a)
		case r.Expired(now):
			expired = append(expired, a)
		case r.Gone != "":
		case q.guardARN(a) != "":
			// A record of a guarded principal (adopted before the guard
			// saw it, or the allowlist changed): released, never defended.
			refused[a] = q.guardARN(a)
			refuse = append(refuse, a)
		case r.Has(state.PartBucket):
			if !r.NextTry.After(now) {
				retry = append(retry, a)
			}
		case !slices.Contains(arns, a):
			drift = append(drift, a)
		case r.Has(state.PartIAM) || r.Has(state.PartRevoke):
			if !r.NextTry.After(now) {
				retryIAM = append(retryIAM, a)
			}
		}
	}
	for _, a := range arns {
		switch {
		case IsUniqueID(a):
			ids = append(ids, a)
		case recs.Map[a] != nil:
		case q.guardARN(a) != "":
			refused[a] = q.guardARN(a)
			refuse = append(refuse, a)
		default:
			adopt = append(adopt, a)
		}
	}
	for _, s := range [][]string{expired, releasing, drift, retry, retryIAM, adopt, refuse, ids} {
		sort.Strings(s)
	}
	// Records first: an expiry is marked as a release and an adopted deny
	// recorded before the policy changes, so a crash leaves work the next
	// sweep finishes, never a deny without a record.
	if len(expired)+len(adopt)+len(refuse) > 0 {
		err := q.Store.UpdateQuarantines(ctx, bucket, func(m map[string]*state.Quarantine) bool {
			for _, a := range append(slices.Clone(expired), refuse...) {
				if r := m[a]; r != nil {
					r.Pending = []string{state.PartRelease}
				}
			}
			for _, a := range adopt {
				if m[a] == nil {
					m[a] = &state.Quarantine{Principal: a, At: now, Until: q.until(now), Adopted: true,
						Reason: "adopted by the sweep: denied by the quarantine statement without a record (a crash between the policy write and the record, or added by hand)"}
				}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if len(expired) > 0 {
			notices = append(notices, Notice{Kind: NoticeExpired, Bucket: bucket, Principals: expired,
				Detail: fmt.Sprintf("quarantine expired (QUARANTINE_TTL=%v) and released by the sweep", q.TTL)})
		}
		if len(adopt) > 0 {
			notices = append(notices, Notice{Kind: NoticeAdopted, Bucket: bucket, Principals: adopt,
				Detail: "denied by the quarantine statement without a record: adopted into the records" + untilNote(q)})
		}
		if len(refuse) > 0 {
			notices = append(notices, refusedNotice(bucket, refuse, refused))
		}
	}
	var errs []error
	if add := append(slices.Clone(drift), retry...); len(add) > 0 || len(ids) > 0 || len(edits) > 0 || len(refuse) > 0 {
		rw, gone, err := q.writeAdding(ctx, bucket, Change{Add: add, Remove: refuse})
		if len(gone) > 0 {
			errs = append(errs, q.markGone(ctx, bucket, gone))
			notices = append(notices, goneNotice(bucket, gone))
			drift = slices.DeleteFunc(drift, func(a string) bool { return slices.Contains(gone, a) })
			retry = slices.DeleteFunc(retry, func(a string) bool { return slices.Contains(gone, a) })
			add = slices.DeleteFunc(add, func(a string) bool { return slices.Contains(gone, a) })
		}
		if err != nil {
			errs = append(errs, err)
			for _, a := range retry {
				errs = append(errs, q.failed(context.WithoutCancel(ctx), bucket, a, err))
			}
			if len(retry) > 0 {
				notices = append(notices, Notice{Kind: NoticePending, Bucket: bucket, Principals: retry,
					Detail: fmt.Sprintf("pending quarantine still failing: %v; retried with backoff", err)})
			}
			if len(drift) > 0 {
				notices = append(notices, Notice{Kind: NoticeDrift, Bucket: bucket, Principals: drift,
					Detail: fmt.Sprintf("recorded denies missing from the bucket policy; re-applying failed: %v", err)})
			}
			if len(edits) > 0 {
				notices = append(notices, Notice{Kind: NoticeEdited, Bucket: bucket, Principals: arns,
					Detail: fmt.Sprintf("the quarantine statement had been edited (%s), so it may deny nobody; restoring it failed: %v", strings.Join(edits, ", "), err)})
			}
		} else {
			errs = append(errs, q.Store.UpdateQuarantines(ctx, bucket, func(m map[string]*state.Quarantine) bool {
				for _, a := range add {
					if r := m[a]; r != nil {
						r.Done(state.PartBucket)
					}
				}
				return len(add) > 0
			}))
			for _, a := range retry {
				errs = append(errs, q.Store.Keep(ctx, q.Store.SlotOf(bucket, slotWho(a))))
			}
			if len(drift) > 0 {
				notices = append(notices, Notice{Kind: NoticeDrift, Bucket: bucket, Principals: drift,
					Detail: "recorded denies were missing from the bucket policy (the statement or the principal was removed); re-applied"})
			}
			if len(rw.Restored) > 0 {
				p, _, _ := Inspect(rw.Doc, "")
				notices = append(notices, Notice{Kind: NoticeEdited, Bucket: bucket, Principals: p, Detail: editedNote(rw.Restored)})
			}
			if len(rw.Dropped) > 0 {
				notices = append(notices, droppedNotice(bucket, rw.Dropped))
			}
			retryIAM = append(retryIAM, retry...)
			if len(retry) > 0 {
				notices = append(notices, Notice{Kind: NoticeResolved, Bucket: bucket, Principals: retry, Detail: "pending bucket deny now in force"})
			}
		}
	}
	var iamDone, iamFailed []string
	for _, a := range retryIAM {
		rec, err := q.finishIAM(ctx, bucket, a)
		switch {
		case err != nil:
			errs = append(errs, err)
			iamFailed = append(iamFailed, a)
		case rec != nil && slices.Contains(retry, a):
		case rec != nil:
			iamDone = append(iamDone, a)
		}
	}
	if len(iamDone) > 0 {
		notices = append(notices, Notice{Kind: NoticeResolved, Bucket: bucket, Principals: iamDone, Detail: "pending IAM part done"})
	}
	if len(iamFailed) > 0 {
		notices = append(notices, Notice{Kind: NoticePending, Bucket: bucket, Principals: iamFailed, Detail: "pending IAM part still failing; retried with backoff"})
	}
	if rel := append(append(expired, releasing...), refuse...); len(rel) > 0 {
		_, err := q.finishRelease(ctx, bucket, rel)
		errs = append(errs, err)
	}
	return notices, errors.Join(errs...)
}

// guardARN is Guard for an entry of the quarantine statement: the wildcard
// and a bare account ID (the account's root) are refused too.
func (q *Quarantiner) guardARN(a string) string {
	switch {
	case a == "*":
		return "a wildcard principal denies everyone"
	case rules.IsAccountID(a):
		return "the account root is never quarantined"
	}
	return q.Guard(rules.PrincipalOf(cloudtrail.Identity{ARN: a}))
}

func refusedNotice(bucket string, arns []string, why map[string]string) Notice {
	var reasons []string
	for _, a := range arns {
		reasons = append(reasons, a+": "+why[a])
	}
	return Notice{Kind: NoticeRefused, Bucket: bucket, Principals: arns,
		Detail: "guarded principals found in the quarantine statement (" + strings.Join(reasons, "; ") + "): removed from it, never adopted nor re-applied"}
}

func untilNote(q *Quarantiner) string {
	if q.TTL <= 0 {
		return "; it never expires (QUARANTINE_TTL=0)"
	}
	return fmt.Sprintf("; it expires in %v like any quarantine", q.TTL)
}

// Sweep reconciles every bucket that has records, and the buckets named in
// Buckets.
func (q *Quarantiner) Sweep(ctx context.Context) ([]Notice, error) {
	buckets, err := q.Store.QuarantinedBuckets(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range q.Buckets {
		if !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
	}
	var out []Notice
	var errs []error
	for _, b := range buckets {
		n, err := q.Reconcile(ctx, b)
		out = append(out, n...)
		if err != nil {
			errs = append(errs, fmt.Errorf("bucket %s: %w", b, err))
		}
	}
	return out, errors.Join(errs...)
}

package quarantine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"

	"github.com/s3xguard/s3xguard/lambda/state"
)

// Entry is one quarantined principal of a bucket, as List shows it.
type Entry struct {
	// Principal is the ARN the bucket policy names.
	Principal string
	// Record is nil for a principal in the policy that s3xguard has no
	// record of (added by hand, or its record was lost).
	Record *state.Quarantine
}

// List returns the principals the bucket's quarantine statement denies,
// with their records.
func (q *Quarantiner) List(ctx context.Context, bucket string) ([]Entry, error) {
	_, arns, recs, err := q.load(ctx, bucket)
	if err != nil {
		return nil, err
	}
	byARN := map[string]*state.Quarantine{}
	for _, r := range recs {
		byARN[r.Principal] = r
	}
	var out []Entry
	for _, a := range arns {
		out = append(out, Entry{Principal: a, Record: byARN[a]})
	}
	for _, r := range recs {
		if !slices.Contains(arns, r.Principal) {
			out = append(out, Entry{Principal: r.Principal, Record: r})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out, nil
}

// Release lifts the quarantine of the given principals on bucket (policy
// ARNs, or the role ARN without path as alerts show it), or of every
// principal with all. It returns the ARNs removed from the policy.
func (q *Quarantiner) Release(ctx context.Context, bucket string, principals []string, all bool) (released []string, err error) {
	return q.release(ctx, bucket, func(key string, r *state.Quarantine) bool {
		return all || slices.Contains(principals, key) || slices.Contains(principals, r.Principal)
	}, func(arn string) bool { return all || slices.Contains(principals, arn) })
}

// Expire releases the quarantines of bucket whose time is up.
func (q *Quarantiner) Expire(ctx context.Context, bucket string) ([]string, error) {
	now := q.now()
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(slices.Collect(maps.Values(recs)), func(r *state.Quarantine) bool { return r.Expired(now) }) {
		return nil, nil // nothing due: no lock, no S3 call
	}
	return q.release(ctx, bucket, func(_ string, r *state.Quarantine) bool { return r.Expired(now) }, func(string) bool { return false })
}

func (q *Quarantiner) release(ctx context.Context, bucket string, pick func(string, *state.Quarantine) bool, pickARN func(string) bool) (released []string, err error) {
	unlock, err := q.lockBucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	defer func() {
		if uerr := unlock(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	doc, arns, recs, err := q.load(ctx, bucket)
	if err != nil {
		return nil, err
	}
	var drop []string
	for _, a := range arns {
		if pickARN(a) {
			drop = append(drop, a)
		}
	}
	for k, r := range recs {
		if !pick(k, r) {
			continue
		}
		if err := q.removeIAM(ctx, r); err != nil {
			return nil, err
		}
		delete(recs, k)
		if slices.Contains(arns, r.Principal) && !slices.Contains(drop, r.Principal) {
			drop = append(drop, r.Principal)
		}
	}
	if len(drop) > 0 {
		next, _, err := RemovePrincipals(doc, false, drop...)
		if err != nil {
			return nil, err
		}
		if err := q.putPolicy(ctx, bucket, next); err != nil {
			return nil, err
		}
	}
	if err := q.Store.PutQuarantines(ctx, bucket, recs); err != nil {
		return drop, err
	}
	sort.Strings(drop)
	return drop, nil
}

// ExpireAll expires quarantines on every bucket that has records; the
// scheduled sweep calls it.
func (q *Quarantiner) ExpireAll(ctx context.Context) (map[string][]string, error) {
	buckets, err := q.Store.QuarantinedBuckets(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	var errs []error
	for _, b := range buckets {
		rel, err := q.Expire(ctx, b)
		if err != nil {
			errs = append(errs, err)
		}
		if len(rel) > 0 {
			out[b] = rel
		}
	}
	return out, errors.Join(errs...)
}

// load reads the bucket's policy, the principals it denies, and the records.
func (q *Quarantiner) load(ctx context.Context, bucket string) (doc string, arns []string, recs map[string]*state.Quarantine, err error) {
	if doc, err = q.getPolicy(ctx, bucket); err != nil {
		return "", nil, nil, err
	}
	if arns, err = Principals(doc); err != nil {
		return "", nil, nil, err
	}
	recs, err = q.Store.Quarantines(ctx, bucket)
	return doc, arns, recs, err
}

package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/s3xguard/s3xguard/lambda/state"
)

// The IAM response attaches one customer-managed deny policy that the stack
// creates (IAM_DENY_POLICY_ARN), so the function needs no inline-policy
// write: its role may attach and detach that ARN only (iam:PolicyARN
// condition), and detaching is all a release does. Detach and delete run
// with the configured ARN, never one read from a record (the state table
// could be tampered with).
//
// Revoking sessions (REVOKE_SESSIONS=on) is the one inline write: AWS's own
// scheme is an inline role policy denying everything to sessions issued
// before a time (aws:TokenIssueTime), which is per role and per moment, so
// it cannot be a shared managed policy: a shared one would need the time
// from a role tag through a policy variable, and "you cannot use a policy
// variable with the Date condition operator" (IAM user guide, "AWS: Allows
// access based on date and time"; "Condition element"). Nor can it be a
// managed policy the function rewrites: iam:CreatePolicyVersion would let
// whoever changes the function write any document into a policy it may
// attach. It is written under one fixed name, recorded, and deleted on
// release. IAM has no condition key on an inline policy's name, so the
// stack grants iam:PutRolePolicy/DeleteRolePolicy only with
// REVOKE_SESSIONS on, with explicit denies on the roles never revoked.

// RevokePolicy is the inline role policy that revokes older sessions: Deny
// * when aws:TokenIssueTime is before the quarantine, as the IAM console's
// "Revoke active sessions" does (IAM user guide, "Revoking IAM role
// temporary security credentials"). Its own name, so that releasing it
// never removes a revocation a person made with the console
// (AWSRevokeOlderSessions).
const RevokePolicy = "S3xguardRevokeOlderSessions"

func revokeDoc(before time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid": "S3xguardRevokeOlderSessions", "Effect": "Deny", "Action": "*", "Resource": "*",
			"Condition": map[string]any{"DateLessThan": map[string]string{"aws:TokenIssueTime": before.UTC().Format(time.RFC3339)}},
		}},
	})
	return string(b)
}

// iamSummary says what the IAM response did for a record.
func iamSummary(rec *state.Quarantine) []string {
	var out []string
	if rec.Attached {
		out = append(out, "attached the managed deny policy to "+rec.Entity)
	}
	if !rec.Revoked.IsZero() {
		out = append(out, "revoked sessions of "+rec.Entity+" issued before "+rec.Revoked.UTC().Format(time.RFC3339)+" ("+RevokePolicy+")")
	}
	for _, p := range rec.Pending {
		if p == state.PartIAM || p == state.PartRevoke {
			out = append(out, "pending: "+p+" on "+rec.Entity)
		}
	}
	return out
}

// finishIAM does the IAM parts of the quarantine of arn on bucket that are
// still pending, and records what was done. It returns the record.
func (q *Quarantiner) finishIAM(ctx context.Context, bucket, arn string) (*state.Quarantine, error) {
	recs, err := q.Store.Quarantines(ctx, bucket)
	if err != nil {
		return nil, err
	}
	rec := recs.Map[arn]
	if rec == nil || rec.Has(state.PartRelease) || !rec.Has(state.PartIAM) && !rec.Has(state.PartRevoke) {
		return rec, nil
	}
	kind, name, _ := strings.Cut(rec.Entity, "/")
	var ierr error
	if rec.Has(state.PartIAM) {
		if ierr = q.attach(ctx, kind, name); ierr == nil {
			rec.Attached = true
			rec.Done(state.PartIAM)
		}
	}
	if ierr == nil && rec.Has(state.PartRevoke) {
		at := q.now()
		if ierr = q.revoke(ctx, name, at); ierr == nil {
			rec.Revoked = at
			rec.Done(state.PartRevoke)
		}
	}
	if ierr != nil {
		rec.Attempts++
		rec.LastError = clip(ierr.Error(), 300)
		rec.NextTry = q.now().Add(backoff(rec.Attempts))
	}
	err = q.Store.UpdateQuarantines(context.WithoutCancel(ctx), bucket, func(m map[string]*state.Quarantine) bool {
		cur := m[arn]
		if cur == nil || cur.Has(state.PartRelease) {
			return false
		}
		cur.Attached = cur.Attached || rec.Attached
		if !rec.Revoked.IsZero() {
			cur.Revoked = rec.Revoked
		}
		if !rec.Has(state.PartIAM) {
			cur.Done(state.PartIAM)
		}
		if !rec.Has(state.PartRevoke) {
			cur.Done(state.PartRevoke)
		}
		if ierr != nil {
			cur.Attempts, cur.LastError, cur.NextTry = rec.Attempts, rec.LastError, rec.NextTry
		}
		*rec = *cur
		return true
	})
	return rec, errors.Join(ierr, err)
}

func (q *Quarantiner) attach(ctx context.Context, kind, name string) error {
	if q.DenyPolicyARN == "" {
		return errors.New("IAM_DENY_POLICY_ARN is not set")
	}
	cctx, cancel := q.call(ctx)
	defer cancel()
	var err error
	if kind == "role" {
		_, err = q.IAM.AttachRolePolicy(cctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: &q.DenyPolicyARN})
	} else {
		_, err = q.IAM.AttachUserPolicy(cctx, &iam.AttachUserPolicyInput{UserName: &name, PolicyArn: &q.DenyPolicyARN})
	}
	if err != nil {
		return fmt.Errorf("quarantine: attach %s to %s/%s: %w", q.DenyPolicyARN, kind, name, err)
	}
	return nil
}

func (q *Quarantiner) revoke(ctx context.Context, role string, at time.Time) error {
	cctx, cancel := q.call(ctx)
	defer cancel()
	doc := revokeDoc(at)
	if _, err := q.IAM.PutRolePolicy(cctx, &iam.PutRolePolicyInput{RoleName: &role, PolicyName: ptr(RevokePolicy), PolicyDocument: &doc}); err != nil {
		return fmt.Errorf("quarantine: revoke sessions of role/%s: %w", role, err)
	}
	return nil
}

func ptr(s string) *string { return &s }

// cleanupIAM undoes the IAM response of a released record, unless another
// bucket still quarantines the same role or user.
func (q *Quarantiner) cleanupIAM(ctx context.Context, bucket string, rec *state.Quarantine) error {
	if rec.Entity == "" || !rec.Attached && rec.Revoked.IsZero() {
		return nil
	}
	still, err := q.stillQuarantined(ctx, bucket, rec)
	if err != nil || still {
		return err
	}
	kind, name, _ := strings.Cut(rec.Entity, "/")
	if rec.Attached {
		if q.DenyPolicyARN == "" {
			return fmt.Errorf("quarantine: detach from %s: IAM_DENY_POLICY_ARN is not set", rec.Entity)
		}
		cctx, cancel := q.call(ctx)
		if kind == "role" {
			_, err = q.IAM.DetachRolePolicy(cctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: &q.DenyPolicyARN})
		} else {
			_, err = q.IAM.DetachUserPolicy(cctx, &iam.DetachUserPolicyInput{UserName: &name, PolicyArn: &q.DenyPolicyARN})
		}
		cancel()
		if err != nil && errorCode(err) != "NoSuchEntity" {
			return fmt.Errorf("quarantine: detach %s from %s: %w", q.DenyPolicyARN, rec.Entity, err)
		}
	}
	if !rec.Revoked.IsZero() && kind == "role" {
		cctx, cancel := q.call(ctx)
		_, err = q.IAM.DeleteRolePolicy(cctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: ptr(RevokePolicy)})
		cancel()
		if err != nil && errorCode(err) != "NoSuchEntity" {
			return fmt.Errorf("quarantine: delete %s of %s: %w", RevokePolicy, rec.Entity, err)
		}
	}
	return nil
}

// stillQuarantined reports whether a bucket other than the record's (or
// another record) still quarantines the record's role or user.
func (q *Quarantiner) stillQuarantined(ctx context.Context, bucket string, rec *state.Quarantine) (bool, error) {
	buckets, err := q.Store.QuarantinedBuckets(ctx)
	if err != nil {
		return false, err
	}
	now := q.now()
	for _, b := range buckets {
		recs, err := q.Store.Quarantines(ctx, b)
		if err != nil {
			return false, err
		}
		for arn, r := range recs.Map {
			if b == bucket && arn == rec.Principal {
				continue
			}
			if r.Entity == rec.Entity && !r.Expired(now) && !r.Has(state.PartRelease) {
				return true, nil
			}
		}
	}
	return false, nil
}

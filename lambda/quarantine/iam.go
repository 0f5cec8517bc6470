package quarantine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
)

// iamDoc is one inline policy on a role or user.
type iamDoc struct {
	name   string // role/NAME/POLICY or user/NAME/POLICY
	entity string // role or user
	who    string
	policy string
	doc    string
}

// inlineName names the per-bucket deny; bucket names are valid in policy
// names ([\w+=,.@-]).
func inlineName(bucket string) string { return "S3xguardQuarantine-" + bucket }

// iamDocs returns the inline policies IAM_RESPONSE puts on p, or none when
// p is not a role or user of this account. Sessions are revoked for roles
// only: a user's long-term keys are stopped by the deny itself.
func (q *Quarantiner) iamDocs(bucket string, p rules.Principal) []iamDoc {
	if !q.IAMResponse || p.Account != q.Account || (p.Kind != rules.KindRole && p.Kind != rules.KindUser) {
		return nil
	}
	deny := mustJSON(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid": "S3xguardQuarantine", "Effect": "Deny", "Action": "s3express:*",
			"Resource": []string{q.BucketARN(bucket), q.BucketARN(bucket) + "/*"},
		}},
	})
	docs := []iamDoc{{entity: p.Kind, who: p.Name, policy: inlineName(bucket), doc: deny}}
	if p.Kind == rules.KindRole {
		revoke := mustJSON(map[string]any{
			"Version": "2012-10-17",
			"Statement": []map[string]any{{
				"Effect": "Deny", "Action": "*", "Resource": "*",
				"Condition": map[string]any{"DateLessThan": map[string]string{"aws:TokenIssueTime": q.now().UTC().Format(time.RFC3339)}},
			}},
		})
		docs = append(docs, iamDoc{entity: p.Kind, who: p.Name, policy: RevokePolicy, doc: revoke})
	}
	for i := range docs {
		docs[i].name = docs[i].entity + "/" + docs[i].who + "/" + docs[i].policy
	}
	return docs
}

// applyIAM puts the inline policies and returns the names of those put.
func (q *Quarantiner) applyIAM(ctx context.Context, bucket string, p rules.Principal, now time.Time) ([]string, error) {
	var done []string
	for _, d := range q.iamDocs(bucket, p) {
		var err error
		if d.entity == rules.KindRole {
			_, err = q.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &d.who, PolicyName: &d.policy, PolicyDocument: &d.doc})
		} else {
			_, err = q.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &d.who, PolicyName: &d.policy, PolicyDocument: &d.doc})
		}
		if err != nil {
			return done, fmt.Errorf("quarantine: put inline policy %s: %w", d.name, err)
		}
		done = append(done, d.name)
	}
	return done, nil
}

// removeIAM deletes the per-bucket deny a quarantine put. It keeps
// AWSRevokeOlderSessions: it only denies sessions issued before the
// quarantine, which may be the stolen ones.
func (q *Quarantiner) removeIAM(ctx context.Context, r *state.Quarantine) error {
	for _, name := range r.IAM {
		entity, rest, _ := strings.Cut(name, "/")
		who, policy, _ := strings.Cut(rest, "/")
		if policy == RevokePolicy {
			continue
		}
		var err error
		if entity == rules.KindRole {
			_, err = q.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &who, PolicyName: &policy})
		} else {
			_, err = q.IAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &who, PolicyName: &policy})
		}
		if err != nil && errorCode(err) != "NoSuchEntity" {
			return fmt.Errorf("quarantine: delete inline policy %s: %w", name, err)
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings: cannot fail
	}
	return string(b)
}

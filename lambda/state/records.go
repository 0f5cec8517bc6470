package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Parts of a quarantine that may remain to be done (Quarantine.Pending).
const (
	// PartResolve is the lookup of the role's path (iam:GetRole): until it
	// is done, the record is keyed by the role ARN without path.
	PartResolve = "resolve"
	// PartBucket is the deny in the bucket policy.
	PartBucket = "bucket"
	// PartIAM is the managed deny policy attached to the role or user.
	PartIAM = "iam"
	// PartRevoke is the revocation of the role's older sessions.
	PartRevoke = "revoke"
	// PartRelease is a release (by hand or expiry) not finished yet.
	PartRelease = "release"
)

// Quarantine records one quarantined principal of a bucket: when, why,
// until when, what was changed (so that release undoes exactly that) and
// what remains to be done (so that the sweep finishes it).
type Quarantine struct {
	Principal string    `json:"principal"` // the ARN in the bucket policy
	At        time.Time `json:"at"`
	// Until is zero when the quarantine never expires (QUARANTINE_TTL=0).
	Until   time.Time `json:"until,omitzero"`
	Reason  string    `json:"reason"`
	EventID string    `json:"eventID,omitempty"`
	// Entity is the IAM role or user the IAM response acts on ("role/NAME"
	// or "user/NAME"), empty when it does not apply.
	Entity string `json:"entity,omitempty"`
	// Attached reports whether the managed deny policy was attached;
	// Revoked is when older sessions were revoked (zero: not).
	Attached bool      `json:"attached,omitempty"`
	Revoked  time.Time `json:"revoked,omitzero"`
	// Pending lists the parts not done yet (Part*); the sweep retries them.
	Pending   []string  `json:"pending,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	NextTry   time.Time `json:"nextTry,omitzero"`
	LastError string    `json:"lastError,omitempty"`
	// Dropped lists unique IDs (AROA…, AIDA…) of deleted principals that
	// were dropped from the statement when this quarantine rewrote it.
	Dropped []string `json:"dropped,omitempty"`
	// Adopted is set for a deny found in the policy without a record.
	Adopted bool `json:"adopted,omitempty"`
	// Gone says why the principal was dropped from the statement: AWS
	// rejected a policy naming it (deleted). It is never re-applied by the
	// sweep; a new event from a principal of that name quarantines it anew.
	Gone string `json:"gone,omitempty"`
	// Note says how the target was chosen (session, parent user...).
	Note string `json:"note,omitempty"`
}

// Expired reports whether the quarantine's time is up at now.
func (q *Quarantine) Expired(now time.Time) bool { return !q.Until.IsZero() && !now.Before(q.Until) }

// Has reports whether part is still pending.
func (q *Quarantine) Has(part string) bool { return slices.Contains(q.Pending, part) }

// Done removes part from Pending.
func (q *Quarantine) Done(part string) {
	q.Pending = slices.DeleteFunc(q.Pending, func(p string) bool { return p == part })
	if len(q.Pending) == 0 {
		q.Attempts, q.NextTry, q.LastError = 0, time.Time{}, ""
	}
}

// Records are a bucket's quarantine records by policy ARN, at a version.
type Records struct {
	Map     map[string]*Quarantine
	Version int64
}

// ErrConflict means the records changed since they were read.
var ErrConflict = errors.New("records changed concurrently")

// bucketsPK lists the buckets that have quarantine records, for the sweep.
const bucketsPK = "quarantine-buckets"

// Quarantines returns the quarantine records of bucket, by principal ARN.
func (s *Store) Quarantines(ctx context.Context, bucket string) (Records, error) {
	it, err := s.get(ctx, "quarantine#"+bucket)
	if err != nil {
		return Records{}, err
	}
	recs := Records{Map: map[string]*Quarantine{}, Version: getN(it, "version")}
	if doc := getS(it, "records"); doc != "" {
		if err := json.Unmarshal([]byte(doc), &recs.Map); err != nil {
			return Records{}, fmt.Errorf("state: quarantine records of %s: %w", bucket, err)
		}
	}
	return recs, nil
}

// PutQuarantines writes the records of bucket if they are still at
// recs.Version (ErrConflict otherwise), as the next version. The item has
// no expires attribute: a record must outlive its quarantine until
// released.
func (s *Store) PutQuarantines(ctx context.Context, bucket string, recs Records) error {
	doc, err := json.Marshal(recs.Map)
	if err != nil {
		return err
	}
	cond := "attribute_not_exists(pk)"
	vals := item{}
	if recs.Version > 0 {
		cond = "version = :v"
		vals[":v"] = num(recs.Version)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table,
		Item:                      item{"pk": str("quarantine#" + bucket), "records": str(string(doc)), "version": num(recs.Version + 1)},
		ConditionExpression:       &cond,
		ExpressionAttributeValues: nonEmpty(vals),
	})
	if conditionFailed(err) {
		return fmt.Errorf("state: quarantine records of %s: %w", bucket, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("state: quarantine records of %s: %w", bucket, err)
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       key(bucketsPK),
		UpdateExpression:          aws.String("ADD buckets :b"),
		ExpressionAttributeValues: item{":b": &types.AttributeValueMemberSS{Value: []string{bucket}}},
	})
	if err != nil {
		return fmt.Errorf("state: note quarantined bucket %s: %w", bucket, err)
	}
	return nil
}

func nonEmpty(v item) item {
	if len(v) == 0 {
		return nil
	}
	return v
}

// UpdateQuarantines applies change to the bucket's current records and
// writes them with a conditional put, re-reading and re-applying on a
// concurrent change. change returns false to write nothing.
func (s *Store) UpdateQuarantines(ctx context.Context, bucket string, change func(map[string]*Quarantine) bool) error {
	for attempt := 0; ; attempt++ {
		recs, err := s.Quarantines(ctx, bucket)
		if err != nil {
			return err
		}
		if !change(recs.Map) {
			return nil
		}
		err = s.PutQuarantines(ctx, bucket, recs)
		if !errors.Is(err, ErrConflict) || attempt == 9 {
			return err
		}
	}
}

// QuarantinedBuckets returns the buckets that have had quarantine records.
func (s *Store) QuarantinedBuckets(ctx context.Context) ([]string, error) {
	it, err := s.get(ctx, bucketsPK)
	if err != nil {
		return nil, err
	}
	set, _ := it["buckets"].(*types.AttributeValueMemberSS)
	if set == nil {
		return nil, nil
	}
	b := append([]string(nil), set.Value...)
	sort.Strings(b)
	return b, nil
}

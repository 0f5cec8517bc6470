package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Quarantine records one quarantined principal: when, why, until when, and
// what was changed, so that release can undo exactly that.
type Quarantine struct {
	Principal string    `json:"principal"` // the ARN in the bucket policy
	At        time.Time `json:"at"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	EventID   string    `json:"eventID,omitempty"`
	// IAM lists the inline policies put on the role or user, as
	// "role/NAME/POLICY" or "user/NAME/POLICY".
	IAM []string `json:"iam,omitempty"`
}

// Expired reports whether the quarantine's time is up at now.
func (q *Quarantine) Expired(now time.Time) bool { return !now.Before(q.Until) }

// bucketsPK lists the buckets that have quarantine records, for the sweep.
const bucketsPK = "quarantine-buckets"

// Quarantines returns the quarantine records of bucket, by principal ARN.
// Reads are lock-free; write them back only under the bucket's lock.
func (s *Store) Quarantines(ctx context.Context, bucket string) (map[string]*Quarantine, error) {
	it, err := s.get(ctx, "quarantine#"+bucket)
	if err != nil {
		return nil, err
	}
	recs := map[string]*Quarantine{}
	if doc := getS(it, "records"); doc != "" {
		if err := json.Unmarshal([]byte(doc), &recs); err != nil {
			return nil, fmt.Errorf("state: quarantine records of %s: %w", bucket, err)
		}
	}
	return recs, nil
}

// PutQuarantines replaces the quarantine records of bucket. The item has no
// expires attribute: a record must outlive its quarantine until released.
func (s *Store) PutQuarantines(ctx context.Context, bucket string, recs map[string]*Quarantine) error {
	if len(recs) == 0 {
		if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: key("quarantine#" + bucket)}); err != nil {
			return fmt.Errorf("state: quarantine records of %s: %w", bucket, err)
		}
		return nil
	}
	doc, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table,
		Item: item{"pk": str("quarantine#" + bucket), "records": str(string(doc))}}); err != nil {
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

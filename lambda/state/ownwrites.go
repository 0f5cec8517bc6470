package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OwnWriteTTL is how long the digest of a bucket policy the function wrote
// is kept to recognize the write's CloudTrail event: the event reaches the
// function within minutes, or up to 6 hours later through Lambda's
// asynchronous retries.
const OwnWriteTTL = 6 * time.Hour

// NoteOwnWrite records, before the function writes a bucket's policy, the
// digest of the document it is about to write, so that the write's own
// event can be told from someone else's write with the function's
// credentials.
func (s *Store) NoteOwnWrite(ctx context.Context, bucket, digest string) error {
	until := s.now().Add(OwnWriteTTL).Unix()
	pk := "ownwrite#" + bucket
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: key(pk),
		UpdateExpression:          aws.String("SET docs = if_not_exists(docs, :empty), expires = :exp"),
		ExpressionAttributeValues: item{":empty": &types.AttributeValueMemberM{Value: item{}}, ":exp": num(until + int64(time.Hour/time.Second))},
	})
	var it item
	if err == nil {
		it, err = s.get(ctx, pk)
	}
	if err == nil {
		// Digests past their time are removed as new ones come, so that
		// the item stays small however long the writes go on.
		expr, names := "SET docs.#d = :until", map[string]string{"#d": digest}
		if m, _ := it["docs"].(*types.AttributeValueMemberM); m != nil {
			var old []string
			for d, v := range m.Value {
				if n, _ := v.(*types.AttributeValueMemberN); n != nil && d != digest && expired(n.Value, s.now()) && len(old) < 50 {
					old = append(old, fmt.Sprintf("docs.#o%d", len(old)))
					names[fmt.Sprintf("#o%d", len(old)-1)] = d
				}
			}
			if len(old) > 0 {
				expr += " REMOVE " + strings.Join(old, ", ")
			}
		}
		_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.Table, Key: key(pk),
			UpdateExpression:          aws.String(expr),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: item{":until": num(until)},
		})
	}
	if err != nil {
		return fmt.Errorf("state: note own policy write on %s: %w", bucket, err)
	}
	return nil
}

// OwnWrite reports whether the function noted a write of digest on bucket
// within OwnWriteTTL.
func (s *Store) OwnWrite(ctx context.Context, bucket, digest string) (bool, error) {
	it, err := s.get(ctx, "ownwrite#"+bucket)
	if err != nil {
		return false, err
	}
	m, _ := it["docs"].(*types.AttributeValueMemberM)
	if m == nil {
		return false, nil
	}
	until, _ := m.Value[digest].(*types.AttributeValueMemberN)
	return until != nil && !expired(until.Value, s.now()), nil
}

func expired(unix string, now time.Time) bool {
	n, err := strconv.ParseInt(unix, 10, 64)
	return err != nil || now.Unix() >= n
}

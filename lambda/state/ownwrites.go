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

// ownWritePrefix names the attributes of the ownwrite#BUCKET item: one per
// digest, holding until when it counts (Unix seconds).
const ownWritePrefix = "w_"

// NoteOwnWrite records, before the function writes a bucket's policy, the
// digest of the document it is about to write, so that the write's own
// event can be told from someone else's write with the function's
// credentials. One UpdateItem: the item expires with its newest digest,
// and older digests are pruned when an event is checked (OwnWrite).
func (s *Store) NoteOwnWrite(ctx context.Context, bucket, digest string) error {
	until := s.now().Add(OwnWriteTTL).Unix()
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: key("ownwrite#" + bucket),
		UpdateExpression:          aws.String("SET #d = :until, expires = :exp"),
		ExpressionAttributeNames:  map[string]string{"#d": ownWritePrefix + digest},
		ExpressionAttributeValues: item{":until": num(until), ":exp": num(until + int64(time.Hour/time.Second))},
	})
	if err != nil {
		return fmt.Errorf("state: note own policy write on %s: %w", bucket, err)
	}
	return nil
}

// OwnWrite reports whether the function noted a write of digest on bucket
// within OwnWriteTTL. Digests past their time are removed on the way, so
// that the item stays small however long the writes go on.
func (s *Store) OwnWrite(ctx context.Context, bucket, digest string) (bool, error) {
	pk := "ownwrite#" + bucket
	it, err := s.get(ctx, pk)
	if err != nil {
		return false, err
	}
	now := s.now()
	found := false
	var old []string
	names := map[string]string{}
	for name, v := range it {
		d, ok := strings.CutPrefix(name, ownWritePrefix)
		n, _ := v.(*types.AttributeValueMemberN)
		if !ok || n == nil {
			continue
		}
		switch {
		case !expired(n.Value, now):
			found = found || d == digest
		case len(old) < 50:
			ph := fmt.Sprintf("#o%d", len(old))
			old, names[ph] = append(old, ph), name
		}
	}
	if len(old) > 0 {
		// Best effort: a failed prune is retried at the next check.
		_, _ = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.Table, Key: key(pk),
			UpdateExpression:         aws.String("REMOVE " + strings.Join(old, ", ")),
			ExpressionAttributeNames: names,
		})
	}
	return found, nil
}

func expired(unix string, now time.Time) bool {
	n, err := strconv.ParseInt(unix, 10, 64)
	return err != nil || now.Unix() >= n
}

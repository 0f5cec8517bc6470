package state

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/s3xguard/s3xguard/lambda/session"
)

// The session index: one item per S3 Express session ("session#KEY", KEY
// the access key ID its CreateSession returned), so that a zonal call signed
// with that key can be tied to the CreateSession that minted it, by any
// instance.
const (
	// SessionLifetime: S3 Express session credentials last 5 minutes and
	// cannot be extended (FACTS §2).
	SessionLifetime = 5 * time.Minute
	// SessionMargin is kept after the lifetime: the last call a session
	// signs reaches the function after CloudTrail's delivery to EventBridge
	// (typically seconds to a few minutes, FACTS §6) and, when an invocation
	// fails, Lambda's two retries 1 and 2 minutes apart (FACTS §8), plus the
	// function's own timeout. 15 minutes covers them with room, and matches
	// how long `check` keeps a session (session.Window). A call handled later
	// than that (a backlog replayed from the dead-letter queue) is not
	// attributed; storage, not correctness, is what a longer margin would
	// cost.
	SessionMargin = 15 * time.Minute
)

// SessionExpiry is when the index forgets a session created at created.
func SessionExpiry(created time.Time) time.Time {
	return created.Add(SessionLifetime + SessionMargin)
}

// PutSession indexes s under the access key ID its CreateSession returned.
// The first write wins: an access key is issued once, so a second write for
// it is the same CreateSession delivered again, or someone trying to replace
// where a session was created from (to hide its theft, or to fake one);
// either way the item is left as it is. A session already past its expiry is
// not written. The item's expires attribute (DynamoDB TTL, in seconds) is
// SessionExpiry of its event time; TTL deletes lazily, so Session checks it.
func (s *Store) PutSession(ctx context.Context, accessKeyID string, sess *session.Session) error {
	created, err := time.Parse(time.RFC3339, sess.EventTime)
	if err != nil {
		return fmt.Errorf("state: session %s: eventTime %q: %w", accessKeyID, sess.EventTime, err)
	}
	exp := SessionExpiry(created)
	if !s.now().Before(exp) {
		return nil
	}
	it := item{
		"pk":        str("session#" + accessKeyID),
		"eventID":   str(sess.EventID),
		"eventTime": str(sess.EventTime),
		"expires":   num(exp.Unix()),
	}
	for k, v := range map[string]string{"issuer": sess.Issuer, "ip": sess.SourceIP, "vpce": sess.VPCEndpointID, "mode": sess.Mode} {
		if v != "" {
			it[k] = str(v)
		}
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.Table,
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state: index session %s: %w", accessKeyID, err)
	}
	return nil
}

// Session returns the indexed session of accessKeyID and when the index
// forgets it, or nil when there is none or it has expired (TTL deletes
// lazily: an expired item may still be read). The read is eventually
// consistent: a session indexed a moment ago may not be seen yet, like a
// call that arrives before its CreateSession.
func (s *Store) Session(ctx context.Context, accessKeyID string) (*session.Session, time.Time, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: key("session#" + accessKeyID)})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("state: session %s: %w", accessKeyID, err)
	}
	it := out.Item
	exp := time.Unix(getN(it, "expires"), 0)
	if len(it) == 0 || !s.now().Before(exp) {
		return nil, time.Time{}, nil
	}
	return &session.Session{
		Issuer: getS(it, "issuer"), SourceIP: getS(it, "ip"), VPCEndpointID: getS(it, "vpce"),
		EventTime: getS(it, "eventTime"), Mode: getS(it, "mode"), EventID: getS(it, "eventID"),
	}, exp, nil
}

package quarantine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// The function's role may write bucket policies, and its own writes come
// back as events. Letting every write by that role pass would hide a write
// made with its stolen credentials, so each write the function makes is
// noted first (the digest of the document, computed by Rewrite, which
// changes nothing but the S3xguardQuarantine statement), and the event of
// a write by the role passes only if it wrote a noted document.

// deletedDigest stands for DeleteBucketPolicy: no document.
const deletedDigest = "deleted"

// PolicyDigest names a bucket policy document by its content, whatever its
// formatting or member order: CloudTrail logs the document it received as
// a JSON object (or string), not the bytes the function sent. "" is a
// deleted policy.
func PolicyDigest(doc string) (string, error) {
	if doc == "" {
		return deletedDigest, nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(doc)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("policy digest: %w", err)
	}
	// Marshal writes object members sorted by name: one text per document.
	canon, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("policy digest: %w", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:16]), nil
}

// noteWrite records that the function is about to write doc ("" deletes)
// on bucket.
func (q *Quarantiner) noteWrite(ctx context.Context, bucket, doc string) error {
	d, err := PolicyDigest(doc)
	if err != nil {
		return err
	}
	return q.Store.NoteOwnWrite(ctx, bucket, d)
}

// VerifyOwnWrite checks a bucket-policy write logged for the function's own
// role: doc is the document the event logged (a JSON object, or a string
// holding one), "" with deleted for DeleteBucketPolicy. It returns why the
// write is not one the function made, or "". Without a logged document
// (CloudTrail did not carry it) the bucket's current policy is checked
// instead.
func (q *Quarantiner) VerifyOwnWrite(ctx context.Context, bucket string, deleted bool, logged json.RawMessage) (string, error) {
	doc := ""
	switch {
	case deleted:
	case len(logged) == 0 || string(logged) == "null":
		cur, err := q.getPolicy(ctx, bucket)
		if err != nil {
			return "", err
		}
		doc = cur
	default:
		var s string
		if json.Unmarshal(logged, &s) == nil {
			doc = s
		} else {
			doc = string(logged)
		}
	}
	d, err := PolicyDigest(doc)
	if err != nil {
		return "the function's role wrote a bucket policy that is not valid JSON: not a document s3xguard computed", nil
	}
	ok, err := q.Store.OwnWrite(ctx, bucket, d)
	if err != nil {
		return "", err
	}
	if ok {
		return "", nil
	}
	what := "wrote a bucket policy"
	if deleted {
		what = "deleted the bucket policy"
	}
	return "the function's own role " + what + " that s3xguard did not compute (a change beyond its S3xguardQuarantine statement): its credentials may be in other hands", nil
}

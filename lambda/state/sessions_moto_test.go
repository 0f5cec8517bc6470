package state

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/s3xguard/s3xguard/lambda/session"
)

func TestSessionIndex(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	created := time.UnixMilli(now.Load()).UTC()
	sess := &session.Session{Issuer: "arn:aws:iam::123456789012:role/pipelines/etl", SourceIP: "10.1.2.3",
		EventTime: created.Format(time.RFC3339), Mode: "ReadWrite", EventID: "cs-1"}
	if err := s.PutSession(ctx, "KEY1", sess); err != nil {
		t.Fatal(err)
	}
	got, exp, err := s.Session(ctx, "KEY1")
	if err != nil || got == nil || *got != *sess {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, sess)
	}
	if want := created.Add(20 * time.Minute); !exp.Equal(want) {
		t.Errorf("expires %v; want %v (5 min lifetime + 15 min margin)", exp, want)
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: key("session#KEY1")})
	if err != nil {
		t.Fatal(err)
	}
	if getN(out.Item, "expires") != created.Add(20*time.Minute).Unix() {
		t.Errorf("TTL attribute expires = %d; want the expiry in seconds", getN(out.Item, "expires"))
	}

	// The first write wins: a second CreateSession for the same key (a
	// replay, or someone moving where the session "was created") changes
	// nothing, and is not an error.
	moved := *sess
	moved.SourceIP, moved.EventID = "203.0.113.9", "cs-forged"
	if err := s.PutSession(ctx, "KEY1", &moved); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Session(ctx, "KEY1"); err != nil || got == nil || got.SourceIP != "10.1.2.3" || got.EventID != "cs-1" {
		t.Fatalf("after a second write: %+v, %v; want the first kept", got, err)
	}

	if got, _, err := s.Session(ctx, "NOPE"); got != nil || err != nil {
		t.Fatalf("unknown key: %+v, %v; want nil, nil", got, err)
	}

	// TTL deletes lazily (and moto not at all): an expired item is absent.
	now.Add((20 * time.Minute).Milliseconds())
	if got, _, err := s.Session(ctx, "KEY1"); got != nil || err != nil {
		t.Fatalf("after expiry: %+v, %v; want nil", got, err)
	}
	// A CreateSession handled after its session's expiry is not written.
	if err := s.PutSession(ctx, "KEY2", sess); err != nil {
		t.Fatal(err)
	}
	if out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: key("session#KEY2")}); err != nil || len(out.Item) != 0 {
		t.Fatalf("expired session: %v, %v; want no item", out, err)
	}
	bad := *sess
	bad.EventTime = "yesterday"
	if err := s.PutSession(ctx, "KEY3", &bad); err == nil {
		t.Fatal("a session without a parseable eventTime was accepted")
	}
}

package state

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/s3xguard/s3xguard/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// newStore is a Store on a fresh table in moto, with a clock the test sets.
func newStore(t *testing.T) (*Store, *atomic.Int64) {
	m := harness.StartMoto(t)
	db := dynamodb.NewFromConfig(harness.AWSConfig(m.URL))
	_, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String("state"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli())
	return &Store{DB: db, Table: "state", Now: func() time.Time { return time.UnixMilli(now.Load()) }}, &now
}

func TestDedupOneFirstAmongRacers(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			tk, err := s.Dedup(ctx, "k", 5*time.Minute, "subj", map[string]string{"bucket": "b"})
			if err != nil {
				t.Error(err)
			}
			if tk.First {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d firsts among 12 racers; want 1", firsts.Load())
	}
	if due, _ := s.DueSummaries(ctx); len(due) != 0 {
		t.Fatalf("summaries due inside the window: %v", due)
	}
	now.Add((5 * time.Minute).Milliseconds())
	due, err := s.DueSummaries(ctx)
	if err != nil || len(due) != 1 {
		t.Fatalf("due after the window: %v, %v; want 1", due, err)
	}
	w, ok, err := s.ClaimSummary(ctx, due[0])
	if err != nil || !ok || w.Repeats != 11 || w.Attrs["bucket"] != "b" || w.Subject != "subj" {
		t.Fatalf("claim: %+v %v %v; want 11 repeats", w, ok, err)
	}
	if _, ok, _ := s.ClaimSummary(ctx, due[0]); ok {
		t.Fatal("claimed twice")
	}
}

func TestDedupNewWindowCarriesUnsummarizedRepeats(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	for range 4 {
		if _, err := s.Dedup(ctx, "k", time.Minute, "subj", nil); err != nil {
			t.Fatal(err)
		}
	}
	now.Add(time.Minute.Milliseconds())
	tk, err := s.Dedup(ctx, "k", time.Minute, "subj", nil)
	if err != nil || !tk.First || tk.Prev == nil || tk.Prev.Repeats != 3 {
		t.Fatalf("new window: %+v %v; want first, carrying 3 repeats", tk, err)
	}
	// Unsent: undo restores the old window, so the retry carries it again.
	if err := s.Undo(ctx, tk); err != nil {
		t.Fatal(err)
	}
	tk, err = s.Dedup(ctx, "k", time.Minute, "subj", nil)
	if err != nil || !tk.First || tk.Prev == nil || tk.Prev.Repeats != 3 {
		t.Fatalf("after undo: %+v %v", tk, err)
	}
}

package state

import (
	"context"
	"fmt"
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

func TestLockSerializes(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			unlock, err := s.Lock(ctx, "bucket#b")
			if err != nil {
				t.Errorf("lock %d: %v", i, err)
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
			inside.Add(-1)
			if err := unlock(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once; want 1", most.Load())
	}
}

func TestLockLeaseExpires(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	if _, err := s.Lock(ctx, "x"); err != nil { // never unlocked: its holder died
		t.Fatal(err)
	}
	now.Add((LockLease + 2*time.Second).Milliseconds())
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Lock(short, "x"); err != nil {
		t.Fatalf("lock after the lease ran out: %v", err)
	}
}

func TestCircuitBreaker(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	var got []bool
	for range 4 {
		ok, err := s.TakeQuarantineSlot(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if fmt.Sprint(got) != "[true true true false]" {
		t.Fatalf("slots = %v; want 3 then tripped", got)
	}
	if err := s.ReturnQuarantineSlot(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.TakeQuarantineSlot(ctx, 3); !ok {
		t.Fatal("a returned slot was not available")
	}
	now.Add(time.Hour.Milliseconds())
	if ok, _ := s.TakeQuarantineSlot(ctx, 3); !ok {
		t.Fatal("the next hour started tripped")
	}
	if ok, _ := s.TakeQuarantineSlot(ctx, 0); ok {
		t.Fatal("max 0 allowed a quarantine")
	}
}

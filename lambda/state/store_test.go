package state

import (
	"context"
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

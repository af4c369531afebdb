package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dynamoDB is the part of the DynamoDB client the store calls.
type dynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store keeps events, their counters and idempotency records, and the
// device API keys (apikeys.go), in one table.
type Store struct {
	db        dynamoDB
	table     string
	retention time.Duration
	now       func() time.Time
	// readBudget is ReadBudget; tests lower it to page small tables.
	readBudget float64

	// tableName (&table) and newItem (the condition of an event's put) are
	// shared by the inputs of the write path: the SDK only reads them.
	tableName, newItem *string
	exprs              *exprCache
	// compactBudget is how many counter items an aggregate may move, and
	// aggregateBudget how many uncompacted ones it may read.
	compactBudget, aggregateBudget int
}

// Options tune a Store; the zero value is the contract's defaults.
type Options struct {
	// Retention is how long an event is kept after its time. Zero means
	// DefaultRetention; negative keeps events forever.
	Retention time.Duration
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// New returns a store over the named table.
func New(db dynamoDB, table string, opts Options) *Store {
	s := &Store{db: db, table: table, retention: opts.Retention, now: opts.Now,
		tableName: aws.String(table), newItem: aws.String("attribute_not_exists(pk)"),
		exprs: &exprCache{m: map[string]cachedExpr{}}, readBudget: ReadBudget,
		compactBudget: defaultCompactBudget, aggregateBudget: readBudgetItems}
	if s.retention == 0 {
		s.retention = DefaultRetention
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Now is the store's clock: the creation time it gives new events, and
// the time their own times may be at most a day ahead of. Whoever validates
// events for it reads the same clock.
func (s *Store) Now() time.Time { return s.now() }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		PartitionKey: &types.AttributeValueMemberS{Value: pk},
		SortKey:      &types.AttributeValueMemberS{Value: sk},
	}
}

// Get returns one event with its history, read strongly consistent.
func (s *Store) Get(ctx context.Context, device, id string) (Event, error) {
	it, err := s.getItem(ctx, device, id)
	if err != nil {
		return Event{}, err
	}
	evs := []Event{it.event()}
	return evs[0], s.withHistory(ctx, evs, true)
}

func (s *Store) getItem(ctx context.Context, device, id string) (*eventItem, error) {
	if !ValidEventID(id) || !ValidDeviceID(device) {
		return nil, ErrNotFound
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              aws.String(s.table),
		Key:                    key(eventPK(device), id),
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		return nil, classify(err)
	}
	meterRead(ctx, out.ConsumedCapacity)
	if out.Item == nil {
		return nil, ErrNotFound
	}
	var it eventItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("decode event item: %w", err)
	}
	return &it, nil
}

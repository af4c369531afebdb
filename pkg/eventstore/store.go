package eventstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dynamoDB is the part of the DynamoDB client the store calls.
type dynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store keeps events, their counters and idempotency records in one table.
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

const maxConflictRetries = 8

// backoff waits before retrying a transaction that collided with another
// (full jitter, capped), or returns when the context ends.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1<<min(attempt, 6)) * 5 * time.Millisecond
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	d = d * time.Duration(int(b[0])<<8|int(b[1])) / 65536
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return &storeError{ErrUnavailable, ctx.Err()}
	case <-t.C:
		return nil
	}
}

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

// Delete removes one event and lowers its counts in the same transaction,
// then deletes its history. ifVersion, when not zero, makes the delete
// conditional on the event's version (ErrVersionMismatch otherwise).
func (s *Store) Delete(ctx context.Context, device, id string, ifVersion int64) error {
	for attempt := 0; ; attempt++ {
		it, err := s.getItem(ctx, device, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && it.Version != ifVersion {
			return ErrVersionMismatch
		}
		err = s.deleteItems(ctx, []*eventItem{it})
		if err == nil && it.Version > 1 {
			// From version 2 on, a patch may have put a history item
			// (one that failed after its put, at version 2). After the
			// event, so that a failure leaves unread items, which expire
			// with the event, rather than an event without its history.
			err = s.deleteHistory(ctx, device, id)
		}
		if !errors.Is(err, errChanged) {
			return err
		}
		// Patched or deleted between the read and the write: look again.
		if attempt >= maxConflictRetries {
			return ErrConflict
		}
	}
}

var errChanged = errors.New("event changed since it was read")

// deleteItems deletes events read before, on condition that each still has
// the version read, and lowers their counts, all in one transaction.
func (s *Store) deleteItems(ctx context.Context, items []*eventItem) error {
	err := s.deleteItemsIf(ctx, items, true)
	var gone *goneError
	if errors.As(err, &gone) {
		return errChanged
	}
	return err
}

// deleteItemsIf deletes items and lowers their counts in one transaction,
// on condition that each still exists (and, with sameVersion, still has the
// version read). Counts depend only on the type and time, which never
// change, so existence is enough to keep them exact. Which counter items a
// delete lowers follows the put's rule by the deleter's clock (counters.go):
// whichever items a count sits in, reads add them all up. It returns a
// *goneError naming the items that failed their condition.
func (s *Store) deleteItemsIf(ctx context.Context, items []*eventItem, sameVersion bool) error {
	tx := make([]types.TransactWriteItem, 0, len(items)+4)
	deltas := counterDeltas{}
	now, shard := s.now(), newShard()
	for _, it := range items {
		c := expression.AttributeExists(expression.Name(PartitionKey))
		if sameVersion {
			c = expression.Name("version").Equal(expression.Value(it.Version))
		}
		cond, err := expression.NewBuilder().WithCondition(c).Build()
		if err != nil {
			return err
		}
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{
			TableName:                 aws.String(s.table),
			Key:                       key(it.PK, it.SK),
			ConditionExpression:       cond.Condition(),
			ExpressionAttributeNames:  cond.Names(),
			ExpressionAttributeValues: cond.Values(),
		}})
		ev := it.event()
		var refs [3]counterRef
		deltas.add(eventCounters(&refs, ev.DeviceID, ev.Type, ev.Time, shard, now), ev.Time, -1)
	}
	cu, err := deltas.updates(s.tableName, s.exprs)
	if err != nil {
		return err
	}
	tx = append(tx, cu...)
	out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:          tx,
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err == nil {
		meter(ctx, true, out.ConsumedCapacity)
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if g := cancellationGone(tce, len(items)); g != nil {
			return g
		}
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return errChanged
			}
		}
	}
	return classify(err)
}

package eventstore

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Delete removes one event and lowers its counts in the same transaction,
// then deletes its history. ifVersion, when not zero, makes the delete
// conditional on the event's version (ErrVersionMismatch otherwise).
func (s *Store) Delete(ctx context.Context, device, id string, ifVersion int64) error {
	b := newBackoff(maxRetries)
	for {
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
		if err := b.wait(ctx, ErrConflict); err != nil {
			return err
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
	if c, ok := reasonsOf(err); ok {
		if g := c.gone(len(items)); g != nil {
			return g
		}
		if c.conflict() {
			return errChanged
		}
	}
	return classify(err)
}

package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// An event's history lives beside it, so that a PATCH writes what changed
// whatever the length of the history. The event item keeps its newest
// update (attribute "upd", the update that made its version); the older
// ones are items of their own:
//
//	history  pk U#<device>  sk <event id>#<slot>
//
// where the slot is the update's version modulo historySlots. The slots are
// a ring: the update of version v+100 overwrites that of version v, which
// has left the hundred an event keeps, so an event never has more than
// historySlots history items, and deleting it deletes a bounded number.
// A history item carries its version, and a reader takes from each slot
// only the version the event's own version says belongs there.
//
// A PATCH of an event at version v first puts the event's inline update as
// the history item of version v, then updates the event to version v+1 on
// condition that it is still at v. The put writes the same content however
// often it is repeated (a retry, a writer that loses the race), so a crash
// between the two writes loses nothing, and the event never reaches v+1
// before the update of v is in the history.
const historySlots = MaxUpdatesKept

// maxHistoryBytes bounds the history an event is read with, beyond its
// newest update: the newest updates are kept up to this much of their
// changes, so that an event's answer stays within a few hundred KB even
// when every update of a hundred carried a large data patch.
const maxHistoryBytes = MaxEventBytes

// historyReads bounds the history Queries one listing makes at once.
const historyReads = 16

const historyPrefix = "U#" // U#<device> / <event id>#<slot>

func historyPK(device string) string { return historyPrefix + device }

func historySK(id string, slot int) string { return fmt.Sprintf("%s#%02d", id, slot) }

func slotOf(version int64) int { return int(version % historySlots) }

// historyItem is one update of an event's history, as stored.
type historyItem struct {
	PK      string     `dynamodbav:"pk"`
	SK      string     `dynamodbav:"sk"`
	Version int64      `dynamodbav:"v"`
	Time    int64      `dynamodbav:"t"`
	By      string     `dynamodbav:"by"`
	Changes jsonObject `dynamodbav:"c"`
	Expires int64      `dynamodbav:"expiresAt,omitempty"`
}

// putHistory stores the inline update of the event read as it (the update
// that made its version) as a history item. A slot already holding a newer
// version is left alone: this update has then left the window already, and
// a put that arrives late (a resend) must not overwrite a newer one.
func (s *Store) putHistory(ctx context.Context, it *eventItem) error {
	device := it.PK[len(eventPrefix):]
	h := historyItem{
		PK: historyPK(device), SK: historySK(it.SK, slotOf(it.Version)), Version: it.Version,
		Time: it.Last.Time, By: it.Last.By, Changes: it.Last.Changes, Expires: it.Expires,
	}
	item, err := attributevalue.MarshalMap(h)
	if err != nil {
		return err
	}
	cond, err := expression.NewBuilder().WithCondition(expression.Or(
		expression.AttributeNotExists(expression.Name(PartitionKey)),
		expression.Name("v").LessThanEqual(expression.Value(it.Version)),
	)).Build()
	if err != nil {
		return err
	}
	out, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.tableName,
		Item:                      item,
		ConditionExpression:       cond.Condition(),
		ExpressionAttributeNames:  cond.Names(),
		ExpressionAttributeValues: cond.Values(),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	})
	if conditionalCheckFailed(err) {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	meterWrite(ctx, out.ConsumedCapacity)
	return nil
}

// withHistory completes the updates of events read from their items (which
// hold only the newest update) from their history items: the newest
// MaxUpdatesKept at most, newest last, fewer when their changes pass
// maxHistoryBytes. Only events past version 2 have history items; their
// Queries run in parallel. consistent reads them strongly consistent, for
// an event read so.
func (s *Store) withHistory(ctx context.Context, evs []Event, consistent bool) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(historyReads)
	for i := range evs {
		if evs[i].Version > 2 {
			g.Go(func() error { return s.readHistory(ctx, &evs[i], consistent) })
		}
	}
	return g.Wait()
}

// readHistory reads the history of e, at version v: the updates of versions
// v-99 to v-1 (from 2, the first version an update made), newest first, in
// one Query of their slots, or two when the slots wrap around the ring.
func (s *Store) readHistory(ctx context.Context, e *Event, consistent bool) error {
	v := e.Version
	oldest := max(2, v-historySlots+1)
	newestSlot, oldestSlot := slotOf(v-1), slotOf(oldest)
	ranges := [][2]int{{oldestSlot, newestSlot}}
	if oldestSlot > newestSlot {
		ranges = [][2]int{{0, newestSlot}, {oldestSlot, historySlots - 1}}
	}
	var older []Update // newest first
	budget := maxHistoryBytes
	for _, r := range ranges {
		kc := expression.Key(PartitionKey).Equal(expression.Value(historyPK(e.DeviceID))).
			And(expression.Key(SortKey).Between(expression.Value(historySK(e.ID, r[0])), expression.Value(historySK(e.ID, r[1]))))
		expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
		if err != nil {
			return err
		}
		in := &dynamodb.QueryInput{
			TableName:                 s.tableName,
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ScanIndexForward:          aws.Bool(false),
			ConsistentRead:            aws.Bool(consistent),
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
		}
		for {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return classify(err)
			}
			meterRead(ctx, out.ConsumedCapacity)
			for _, av := range out.Items {
				var h historyItem
				if err := attributevalue.UnmarshalMap(av, &h); err != nil {
					return fmt.Errorf("decode history item: %w", err)
				}
				// A slot holds one version of the window; a version outside
				// it is an update that left the window or a put ahead of
				// its event (a crash, or a writer that lost a race).
				if h.Version < oldest || h.Version >= v {
					continue
				}
				if budget -= historyBytes(av); budget < 0 {
					return finishHistory(e, older)
				}
				older = append(older, Update{Time: time.UnixMilli(h.Time).UTC(), By: h.By, Changes: h.Changes})
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return finishHistory(e, older)
}

// finishHistory puts the older updates, read newest first, before the
// event's newest.
func finishHistory(e *Event, older []Update) error {
	slices.Reverse(older)
	e.Updates = append(older, e.Updates...)
	return nil
}

// historyBytes is about what a history item adds to its event's answer.
func historyBytes(item map[string]types.AttributeValue) int {
	n := 64
	for _, a := range []string{"by", "c"} {
		if sv, ok := item[a].(*types.AttributeValueMemberS); ok {
			n += len(sv.Value)
		}
	}
	return n
}

// deleteHistory deletes the history items of one event, after the event.
func (s *Store) deleteHistory(ctx context.Context, device, id string) error {
	kc := expression.Key(PartitionKey).Equal(expression.Value(historyPK(device))).
		And(expression.Key(SortKey).BeginsWith(id + "#"))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).
		WithProjection(expression.NamesList(expression.Name(PartitionKey), expression.Name(SortKey))).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName,
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	}
	var keys []map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return classify(err)
		}
		meterRead(ctx, out.ConsumedCapacity)
		keys = append(keys, out.Items...)
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return s.deleteKeys(ctx, keys)
}

// deleteKeys deletes items by key, 25 to a BatchWriteItem, sending again
// what DynamoDB leaves unprocessed (throttled) after a pause.
func (s *Store) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
	for start := 0; start < len(keys); start += batchWriteMax {
		reqs := make([]types.WriteRequest, 0, batchWriteMax)
		for _, k := range keys[start:min(start+batchWriteMax, len(keys))] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		b := newBackoff(maxRetries)
		for len(reqs) > 0 {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems:           map[string][]types.WriteRequest{s.table: reqs},
				ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
			})
			if err != nil {
				return classify(err)
			}
			meter(ctx, true, out.ConsumedCapacity)
			reqs = out.UnprocessedItems[s.table]
			if len(reqs) == 0 {
				break
			}
			if err := b.wait(ctx, &storeError{ErrThrottled, errors.New(strconv.Itoa(len(reqs)) + " history items left unprocessed")}); err != nil {
				return err
			}
		}
	}
	return nil
}

// batchWriteMax is the most requests one BatchWriteItem takes.
const batchWriteMax = 25

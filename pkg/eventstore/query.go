package eventstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Query selects events, newest first unless Ascending.
type Query struct {
	// DeviceID selects one device's events. Empty means every device, and
	// then Types is required (the type index is read).
	DeviceID   string
	Types      []string
	From, To   time.Time // [From, To); zero leaves that side open
	Status     string
	Severities []Severity
	States     []State
	Ascending  bool
	Limit      int
	// After continues a listing after the event with this id (the last one
	// of the previous page).
	After string
}

// Page is one page of a listing.
type Page struct {
	Events []Event
	// Next is the cursor for the next page (Query.After); empty on the last.
	Next string
}

// Limits of a listing.
const (
	MaxLimit     = 1000
	DefaultLimit = 100
)

// List returns one page of events.
//
// A device's events are one item collection sorted by id, and ids sort by
// time, so a time range is a key range. Across devices, each type is read
// from its Shards partitions of the type index in parallel and the streams
// are merged by id. A page reads one event past its end to know whether
// another page exists, so Next is never a cursor to an empty page.
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	items, next, err := s.listItems(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Events: make([]Event, len(items)), Next: next}
	for i, it := range items {
		page.Events[i] = it.event()
	}
	return page, s.withHistory(ctx, page.Events, false)
}

func (s *Store) listItems(ctx context.Context, q Query) ([]*eventItem, string, error) {
	if q.Limit <= 0 || q.Limit > MaxLimit {
		return nil, "", &FieldError{"limit", fmt.Sprintf("must be 1 to %d", MaxLimit)}
	}
	if q.DeviceID == "" && len(q.Types) == 0 {
		return nil, "", &FieldError{"type", "required when listing across devices"}
	}
	lo, hi := idBounds(q.From, q.To)
	if q.After != "" {
		adj, ok := adjacentID(q.After, q.Ascending)
		if !ok {
			return nil, "", nil
		}
		if q.Ascending && adj > lo {
			lo = adj
		}
		if !q.Ascending && adj < hi {
			hi = adj
		}
	}
	if lo > hi {
		return nil, "", nil
	}
	streams, err := s.streams(q, lo, hi)
	if err != nil {
		return nil, "", err
	}
	items, err := merge(ctx, s, streams, q.Limit+1, q.Ascending)
	if err != nil {
		return nil, "", err
	}
	if len(items) > q.Limit {
		return items[:q.Limit], items[q.Limit-1].SK, nil
	}
	return items, "", nil
}

// stream is one Query, read a page at a time as the merge needs it.
type stream struct {
	in   dynamodb.QueryInput
	buf  []*eventItem
	done bool
}

func (s *Store) streams(q Query, lo, hi string) ([]*stream, error) {
	var filters []expression.ConditionBuilder
	if q.DeviceID != "" && len(q.Types) > 0 {
		filters = append(filters, in("type", q.Types))
	}
	if q.Status != "" {
		filters = append(filters, expression.Name("status").Equal(expression.Value(q.Status)))
	}
	if len(q.Severities) > 0 {
		filters = append(filters, in("severity", q.Severities))
	}
	if len(q.States) > 0 {
		filters = append(filters, in("state", q.States))
	}
	build := func(pkName, pk string, index *string) (*stream, error) {
		kc := expression.Key(pkName).Equal(expression.Value(pk)).
			And(expression.Key(SortKey).Between(expression.Value(lo), expression.Value(hi)))
		b := expression.NewBuilder().WithKeyCondition(kc)
		if len(filters) == 1 {
			b = b.WithFilter(filters[0])
		} else if len(filters) > 1 {
			b = b.WithFilter(expression.And(filters[0], filters[1], filters[2:]...))
		}
		expr, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build query: %w", err)
		}
		return &stream{in: dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 index,
			KeyConditionExpression:    expr.KeyCondition(),
			FilterExpression:          expr.Filter(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ScanIndexForward:          aws.Bool(q.Ascending),
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
		}}, nil
	}
	if q.DeviceID != "" {
		st, err := build(PartitionKey, eventPK(q.DeviceID), nil)
		if err != nil {
			return nil, err
		}
		return []*stream{st}, nil
	}
	var out []*stream
	for _, t := range q.Types {
		for shard := 0; shard < Shards; shard++ {
			st, err := build(TypeIndexKey, typeIndexKey(t, shard), aws.String(TypeIndex))
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func in[T ~string](name string, values []T) expression.ConditionBuilder {
	if len(values) == 1 {
		return expression.Name(name).Equal(expression.Value(string(values[0])))
	}
	ops := make([]expression.OperandBuilder, len(values)-1)
	for i, v := range values[1:] {
		ops[i] = expression.Value(string(v))
	}
	return expression.Name(name).In(expression.Value(string(values[0])), ops...)
}

// fill reads until the stream has an event buffered or has ended.
func (st *stream) fill(ctx context.Context, s *Store, limit int) error {
	for len(st.buf) == 0 && !st.done {
		st.in.Limit = aws.Int32(int32(min(max(limit, 2), MaxLimit)))
		out, err := s.db.Query(ctx, &st.in)
		if err != nil {
			return classify(err)
		}
		meterRead(ctx, out.ConsumedCapacity)
		for _, av := range out.Items {
			it := &eventItem{}
			if err := attributevalue.UnmarshalMap(av, it); err != nil {
				return fmt.Errorf("decode event item: %w", err)
			}
			st.buf = append(st.buf, it)
		}
		st.in.ExclusiveStartKey = out.LastEvaluatedKey
		st.done = out.LastEvaluatedKey == nil
	}
	return nil
}

// merge takes up to want events from the streams in id order.
func merge(ctx context.Context, s *Store, streams []*stream, want int, asc bool) ([]*eventItem, error) {
	var out []*eventItem
	for len(out) < want {
		need := want - len(out)
		per := need
		if len(streams) > 1 {
			per = need/len(streams) + 2
		}
		var wg sync.WaitGroup
		errs := make([]error, len(streams))
		for i, st := range streams {
			if len(st.buf) == 0 && !st.done {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = st.fill(ctx, s, per)
				}()
			}
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		var best *stream
		for _, st := range streams {
			if len(st.buf) == 0 {
				continue
			}
			if best == nil || (asc && st.buf[0].SK < best.buf[0].SK) || (!asc && st.buf[0].SK > best.buf[0].SK) {
				best = st
			}
		}
		if best == nil {
			break
		}
		// Take from the best stream while it stays ahead of every other
		// stream's head: one comparison per event instead of a refill check.
		for len(best.buf) > 0 && len(out) < want {
			head := best.buf[0]
			ahead := true
			for _, st := range streams {
				if st == best {
					continue
				}
				if len(st.buf) == 0 && !st.done {
					ahead = false // unknown: this stream must be read first
					break
				}
				if len(st.buf) > 0 && ((asc && st.buf[0].SK < head.SK) || (!asc && st.buf[0].SK > head.SK)) {
					ahead = false
					break
				}
			}
			if !ahead {
				break
			}
			out = append(out, head)
			best.buf = best.buf[1:]
		}
	}
	return out, nil
}

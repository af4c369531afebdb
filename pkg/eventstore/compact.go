package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// Compaction on read.
//
// Reads fold the deltas of a device, and the fleet shards of a type, into
// the items they read once a day is closed (three days old: see
// closedBefore). Each move is one transaction that deletes the source
// items, on condition that their write count (versionAttr) is still the
// one read, and adds what they held to their targets. A count is therefore
// always in exactly one place: in its source, or (after the transaction)
// in its targets. Two readers compacting at once cannot both move an item
// (the second's condition fails, its whole transaction with it), and a
// write that reached a source between the read and the move fails the move
// rather than being lost.
//
// A watermark per device (C#<h(device)>/W) and per type (G#<h(type)>/W)
// records the day before which every source has been moved, so that a read
// of one type's counts looks for sources only from there on. It only ever
// moves forward, and only after the moves before it succeeded.

// ErrCompacting: the counts asked for lie in more uncompacted counters than
// one request may read; the request compacted a share of them, and a retry
// in a moment goes further. Only the first read of a device or type whose
// counters were never read for a long time meets it.
var ErrCompacting = errors.New("the counters are being compacted; retry in a moment")

// Budgets of one request: a read reads at most readBudgetItems uncompacted
// counter items (about 1 MB when every hour is counted: 140 read units),
// and moves at most compactBudget of them (about 40 transactions).
const (
	readBudgetItems      = 4000
	defaultCompactBudget = 2000
)

// ledger is what compaction folds: a device's deltas into its per-type and
// device items, or a type's fleet shards into its roll-up.
type ledger struct {
	// watermark is the item that holds the ledger's watermark.
	watermark counterRef
	// sources are the partitions of the moved items.
	sources []string
}

func deviceLedger(device string) ledger {
	return ledger{
		watermark: counterRef{hashedPK(devicePrefix, device), watermarkSK},
		sources:   []string{hashedPK(deltaPrefix, device)},
	}
}

func fleetLedger(eventType string) ledger {
	l := ledger{watermark: counterRef{hashedPK(rollupPrefix, eventType), watermarkSK}}
	for shard := range Shards {
		l.sources = append(l.sources, fleetPK(shard, eventType))
	}
	return l
}

// sourceRange is the sort key range of the sources of days [from, to].
// A delta's sort key starts with its day and goes on with its type's hash,
// which sorts before '~'.
func sourceRange(pk, from, to string) (lo, hi string) {
	if strings.HasPrefix(pk, deltaPrefix) {
		return from, to + "~"
	}
	return from, to
}

// sourceDay is the day of a source item.
func sourceDay(r counterRef) string { return r.sk[:len(dayLayout)] }

// targets lists the items a source moves into.
func targets(src counterRef) []counterRef {
	day := sourceDay(src)
	if h, ok := strings.CutPrefix(src.pk, deltaPrefix); ok {
		return []counterRef{{perTypePrefix + h, src.sk[len(dayLayout):] + day}, {devicePrefix + h, day}}
	}
	h := src.pk[len(fleetPrefix)+len(shardName(0)):]
	return []counterRef{{rollupPrefix + h, day}}
}

// counterItem is a counter item as read: its counts, and its write count
// (0 when it has none).
type counterItem struct {
	ref     counterRef
	counts  map[string]int64
	version int64
}

func decodeCounter(item map[string]types.AttributeValue) (counterItem, error) {
	c := counterItem{counts: make(map[string]int64, len(item))}
	for name, av := range item {
		switch name {
		case PartitionKey:
			c.ref.pk = av.(*types.AttributeValueMemberS).Value
			continue
		case SortKey:
			c.ref.sk = av.(*types.AttributeValueMemberS).Value
			continue
		}
		var n int64
		if err := attributevalue.Unmarshal(av, &n); err != nil {
			return c, fmt.Errorf("counter attribute %s: %w", name, err)
		}
		if name == versionAttr {
			c.version = n
		} else {
			c.counts[name] = n
		}
	}
	return c, nil
}

// queryCounters reads the counter items of pk with sort keys in [lo, hi],
// oldest first, strongly consistent when consistent, and passes each to
// emit. With a limit (0: none), it stops after limit+1 items and reports
// more when there were that many.
func (s *Store) queryCounters(ctx context.Context, pk, lo, hi string, consistent bool, limit int, emit func(counterItem)) (more bool, err error) {
	kc := expression.Key(PartitionKey).Equal(expression.Value(pk)).
		And(expression.Key(SortKey).Between(expression.Value(lo), expression.Value(hi)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return false, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName,
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(consistent),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	}
	read := 0
	for {
		if limit > 0 {
			// One past the limit: a query stopped by its Limit reports a
			// next key even when nothing follows.
			in.Limit = aws.Int32(int32(limit + 1 - read))
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return false, classify(err)
		}
		meterRead(ctx, out.ConsumedCapacity)
		for _, item := range out.Items {
			c, err := decodeCounter(item)
			if err != nil {
				return false, fmt.Errorf("counter %s: %w", pk, err)
			}
			emit(c)
		}
		read += len(out.Items)
		if limit > 0 && read > limit {
			return true, nil
		}
		if out.LastEvaluatedKey == nil {
			return false, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// getCounter reads one counter item, eventually consistent.
func (s *Store) getCounter(ctx context.Context, ref counterRef) (counterItem, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              s.tableName,
		Key:                    key(ref.pk, ref.sk),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		return counterItem{}, false, classify(err)
	}
	meterRead(ctx, out.ConsumedCapacity)
	if out.Item == nil {
		return counterItem{}, false, nil
	}
	c, err := decodeCounter(out.Item)
	return c, err == nil, err
}

// watermark reads a ledger's watermark: "" when it has none. Eventually
// consistent: an older value only makes a read look at more days.
func (s *Store) watermark(ctx context.Context, l ledger) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              s.tableName,
		Key:                    key(l.watermark.pk, l.watermark.sk),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		return "", classify(err)
	}
	meterRead(ctx, out.ConsumedCapacity)
	var w struct {
		Day string `dynamodbav:"day"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &w); err != nil {
		return "", fmt.Errorf("watermark: %w", err)
	}
	return w.Day, nil
}

// compact moves the sources of l's days from `from` (its watermark) up to
// the day before `closed`, at most *budget of them (which it lowers), and
// then moves the watermark as far as every source before it has moved.
func (s *Store) compact(ctx context.Context, l ledger, from, closed string, budget *int) error {
	if from >= closed || *budget <= 0 {
		return nil
	}
	lo := from
	if lo == "" {
		lo = "0" // before every day
	}
	last := prevDay(closed)
	var mu sync.Mutex
	var moves []counterItem
	reach := closed // the watermark the moves reach
	per := max(1, *budget/len(l.sources))
	g, gctx := errgroup.WithContext(ctx)
	for _, pk := range l.sources {
		g.Go(func() error {
			var lastDay string
			rlo, rhi := sourceRange(pk, lo, last)
			more, err := s.queryCounters(gctx, pk, rlo, rhi, true, per, func(c counterItem) {
				mu.Lock()
				defer mu.Unlock()
				moves = append(moves, c)
				lastDay = sourceDay(c.ref)
			})
			if err != nil {
				return err
			}
			if more {
				// The day of the last item read may hold more: it is
				// where the watermark stops.
				mu.Lock()
				reach = min(reach, lastDay)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	*budget -= len(moves)
	if err := s.move(ctx, moves); err != nil {
		return err
	}
	if reach <= from {
		return nil
	}
	// Also when nothing moved: the next read then skips this scan. (A read
	// of a device never written leaves a watermark item behind.)
	return s.advance(ctx, l, reach)
}

// prevDay is the day before a day key.
func prevDay(day string) string {
	t, err := parseDay(day)
	if err != nil {
		return day
	}
	return dayKey(t.AddDate(0, 0, -1))
}

// errMoved: a source changed or vanished between its read and its move
// (another reader moved it, or a write reached it).
var errMoved = errors.New("a counter changed while it was being moved")

// move moves sources into their targets, in transactions of at most
// maxTxActions actions, a few at a time. It returns errMoved if any
// transaction found a source changed: what the others moved stays moved,
// and the watermark must then stay where it is.
func (s *Store) move(ctx context.Context, moves []counterItem) error {
	var txs [][]counterItem
	var cur []counterItem
	seen := map[counterRef]bool{}
	for _, m := range moves {
		extra := 1
		for _, t := range targets(m.ref) {
			if !seen[t] {
				extra++
			}
		}
		if len(cur) > 0 && len(cur)+len(seen)+extra > maxTxActions {
			txs = append(txs, cur)
			cur = nil
			clear(seen)
		}
		cur = append(cur, m)
		for _, t := range targets(m.ref) {
			seen[t] = true
		}
	}
	if len(cur) > 0 {
		txs = append(txs, cur)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	var changed bool
	var mu sync.Mutex
	for _, tx := range txs {
		g.Go(func() error {
			err := s.moveTx(gctx, tx)
			if errors.Is(err, errMoved) {
				mu.Lock()
				changed = true
				mu.Unlock()
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if changed {
		return errMoved
	}
	return nil
}

// moveTx moves sources into their targets in one transaction.
func (s *Store) moveTx(ctx context.Context, sources []counterItem) error {
	items := make([]types.TransactWriteItem, 0, 2*len(sources))
	deltas := counterDeltas{}
	for _, src := range sources {
		c := expression.Name(versionAttr).Equal(expression.Value(src.version))
		if src.version == 0 {
			c = expression.AttributeExists(expression.Name(PartitionKey)).
				And(expression.AttributeNotExists(expression.Name(versionAttr)))
		}
		cond, err := expression.NewBuilder().WithCondition(c).Build()
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName:                 s.tableName,
			Key:                       key(src.ref.pk, src.ref.sk),
			ConditionExpression:       cond.Condition(),
			ExpressionAttributeNames:  cond.Names(),
			ExpressionAttributeValues: cond.Values(),
		}})
		for _, t := range targets(src.ref) {
			for a, n := range src.counts {
				if n == 0 {
					continue
				}
				if deltas[t] == nil {
					deltas[t] = map[string]int64{}
				}
				deltas[t][a] += n
			}
		}
	}
	ups, err := deltas.updates(s.tableName, nil)
	if err != nil {
		return err
	}
	items = append(items, ups...)
	b := newBackoff(maxRetries)
	for {
		out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems:          items,
			ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
		})
		if err == nil {
			meter(ctx, true, out.ConsumedCapacity)
			return nil
		}
		c, ok := reasonsOf(err)
		switch {
		case ok && c.anyConditionFailed():
			return errMoved
		case !ok || !c.conflict():
			return classify(err)
		}
		// A late write to a target, or a parallel move sharing one.
		if err := b.wait(ctx, classify(err)); err != nil {
			return err
		}
	}
}

// advance moves l's watermark forward to day, never back.
func (s *Store) advance(ctx context.Context, l ledger, day string) error {
	name := expression.Name("day")
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(name, expression.Value(day))).
		WithCondition(expression.AttributeNotExists(name).Or(name.LessThan(expression.Value(day)))).
		Build()
	if err != nil {
		return err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.tableName,
		Key:                       key(l.watermark.pk, l.watermark.sk),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	})
	if conditionalCheckFailed(err) {
		return nil // another reader got further
	}
	if err != nil {
		return classify(err)
	}
	meterWrite(ctx, out.ConsumedCapacity)
	return nil
}

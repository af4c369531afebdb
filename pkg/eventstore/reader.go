package eventstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// stream is one partition's Queries, read as the merge needs them.
type stream struct {
	pk     string
	lo, hi string       // the ids still to read, inclusive
	buf    []*eventItem // read and matching, not yet taken
	// seen is the id of the last item the stream has evaluated, whether
	// the filter kept it or not: the stream holds nothing more before it in
	// the listing's order.
	seen string
	done bool
	// limit and until shape the next Query: at most limit items, and none
	// past until (when set).
	limit int
	until string
}

// maxQueryLimit bounds the Limit of one Query; DynamoDB stops at 1 MB
// anyway, which 32 768 items of the smallest events exceed.
const maxQueryLimit = 1 << 15

// reader merges the streams of one listing request by id, within the
// request's read budget.
//
// A stream that has evaluated up to seen holds nothing unread before seen,
// so an event may be taken once every unfinished stream has read up to it
// (safe). When the budget is spent, every event before the frontier (the
// least advanced of the unfinished streams' seen) has been taken, and the
// frontier is where the next page goes on: the last evaluated position,
// not only the last event returned, so that a filter that drops everything
// still moves the listing forward. What a stream read past the frontier
// is read again by the next page, so streams that lag behind the most
// advanced one catch up before any reads further (their densities differ:
// types of different rates, or chance).
type reader struct {
	s       *Store
	index   *string
	keyName string
	filter  *expression.ConditionBuilder
	asc     bool
	streams []*stream
	budget  float64
	raised  bool // by coverHeads
	// used, scanned and matched add up the request's Queries: read units,
	// items evaluated, and items the filter kept (of matchedBytes).
	used             float64
	scanned, matched int
	matchedBytes     int
}

// page takes up to limit events.
//
// One stream reads one event ahead, so that a full last page has no
// cursor. Merged streams do not: the extra event would cost each of them
// its own read, and a full page's cursor leads to an empty one only when
// the listing ends exactly there.
func (r *reader) page(ctx context.Context, limit int) ([]*eventItem, string, error) {
	want := limit
	if len(r.streams) == 1 {
		want++
	}
	var out []*eventItem
	for {
		out = r.take(out, want)
		switch {
		case len(out) > limit:
			return out[:limit], out[limit-1].SK, nil
		case len(out) == limit && r.exhausted():
			return out, "", nil
		case len(out) == limit && want == limit:
			return out, out[limit-1].SK, nil
		}
		next := r.blocking()
		if len(next) == 0 {
			return out, "", nil // every stream read to its end
		}
		next = r.catchUp(next)
		if r.itemBytes() == 0 && len(next) > 1 {
			// Nothing tells yet what an item weighs: streams read side by
			// side could each bring DynamoDB's 1 MB. One reads its share
			// first (DynamoDB's 1 MB bounds it), and what that costs sizes
			// the others' Queries.
			next = next[:1]
		}
		if !r.size(next, want-len(out)) {
			return out, r.frontier(), nil
		}
		if err := r.read(ctx, next); err != nil {
			return nil, "", err
		}
		r.coverHeads()
	}
}

// coverHeads raises the budget, once every stream has been read, to twice
// one item of each stream when the budget cannot pay for that one item
// (many streams of large items): a merged page can take nothing before
// every stream has read an item, and after that each event taken costs
// about one more. Stopping at the budget there would answer one event a
// page and read every stream's first item again for the next. A request
// then reads at most about twice one item of each stream.
func (r *reader) coverHeads() {
	if r.raised || r.scanned == 0 || slices.ContainsFunc(r.streams, func(st *stream) bool { return st.seen == "" && !st.done }) {
		return
	}
	r.raised = true
	if heads := (r.used/float64(r.scanned) + 0.5) * float64(len(r.streams)); heads > r.budget {
		r.budget = 2 * heads
	}
}

// before reports whether id a comes before id b in the listing's order.
func (r *reader) before(a, b string) bool {
	if r.asc {
		return a < b
	}
	return a > b
}

// head is the stream whose next buffered event comes first.
func (r *reader) head() *stream {
	var best *stream
	for _, st := range r.streams {
		if len(st.buf) > 0 && (best == nil || r.before(st.buf[0].SK, best.buf[0].SK)) {
			best = st
		}
	}
	return best
}

// safe reports whether every unfinished stream has read up to id.
func (r *reader) safe(id string) bool {
	for _, st := range r.streams {
		if !st.done && (st.seen == "" || r.before(st.seen, id)) {
			return false
		}
	}
	return true
}

// take moves the safe events, in order, to out.
func (r *reader) take(out []*eventItem, want int) []*eventItem {
	for len(out) < want {
		best := r.head()
		if best == nil || !r.safe(best.buf[0].SK) {
			break
		}
		out = append(out, best.buf[0])
		best.buf = best.buf[1:]
	}
	return out
}

// blocking returns the unfinished streams that have not read up to the
// next event buffered (all unfinished streams when none is).
func (r *reader) blocking() []*stream {
	var next string
	if h := r.head(); h != nil {
		next = h.buf[0].SK
	}
	var out []*stream
	for _, st := range r.streams {
		if !st.done && (next == "" || st.seen == "" || r.before(st.seen, next)) {
			out = append(out, st)
		}
	}
	return out
}

// catchUp keeps, of the streams to read, those behind the most advanced
// unfinished stream, and bounds their next Query at its position; when
// none lags (or a stream has not been read yet), all are read unbounded.
func (r *reader) catchUp(next []*stream) []*stream {
	lead := ""
	for _, st := range r.streams {
		if st.done {
			continue
		}
		if st.seen == "" {
			lead = ""
			break
		}
		if lead == "" || r.before(lead, st.seen) {
			lead = st.seen
		}
	}
	var behind []*stream
	for _, st := range next {
		st.until = ""
		if lead != "" && r.before(st.seen, lead) {
			st.until = lead
			behind = append(behind, st)
		}
	}
	if len(behind) == 0 {
		return next
	}
	return behind
}

// frontier is the least advanced position of the unfinished streams.
func (r *reader) frontier() string {
	f := ""
	for _, st := range r.streams {
		if !st.done && (f == "" || r.before(st.seen, f)) {
			f = st.seen
		}
	}
	return f
}

// size sets the Limit of the next Query of each stream of next, for need
// more events, and reports false when the budget left cannot pay for them.
//
// Each stream is asked for its share of what the page still needs, scaled
// up by how many items the filter has dropped so far, and cut to what its
// share of the budget left buys at the read units per item seen so far (a
// Query costs at least half a unit and rounds up to 4 KB, hence the half
// unit kept aside). Streams read side by side spend at most half of what
// is left, so that the ones that lag behind can still catch up. The limit
// is then raised to fill the 4 KB units it pays for anyway, at the size of
// the items seen so far. The first
// Query of a request knows no item size: one stream alone reads its share
// of the page, and DynamoDB's 1 MB per Query bounds what that costs; of
// streams read side by side, one reads first (page), so that they do not
// each bring 1 MB: a request reads at most about 1 MB and one item of each
// other stream.
func (r *reader) size(next []*stream, need int) bool {
	per := need
	if open := r.unfinished(); open > 1 {
		per = (need + open - 1) / open
	}
	if r.matched < r.scanned {
		per = min(per*r.scanned/max(r.matched, 1), maxQueryLimit)
	}
	if r.scanned > 0 && r.used > 0 {
		perItem := r.used / float64(r.scanned)
		share := (r.budget - r.used) / float64(len(next))
		if len(next) > 1 && next[0].until == "" {
			share /= 2
		}
		afford := (share - 0.5) / perItem
		if afford < 1 {
			// A stream never read has no position to stop at: it reads
			// one item, whatever is left of the budget.
			if !slices.ContainsFunc(next, func(st *stream) bool { return st.seen == "" }) {
				return false
			}
			afford = 1
		}
		per = min(per, int(afford))
	}
	if size := r.itemBytes(); size > 0 {
		// What the 4 KB units already paid for still holds.
		per = max(per, (per*size+4095)/4096*4096/size)
	}
	per = min(max(per, 1), maxQueryLimit)
	for _, st := range next {
		st.limit = per
	}
	return true
}

// itemBytes estimates the size of the items read, from those the filter
// kept or else from the units paid (which round up), or 0 before any read.
func (r *reader) itemBytes() int {
	switch {
	case r.matched > 0:
		return max(r.matchedBytes/r.matched, 1)
	case r.scanned > 0:
		return max(int(r.used*8192)/r.scanned, 1)
	}
	return 0
}

// exhausted reports whether every stream was read to its end and taken.
func (r *reader) exhausted() bool {
	return !slices.ContainsFunc(r.streams, func(st *stream) bool { return !st.done || len(st.buf) > 0 })
}

func (r *reader) unfinished() int {
	n := 0
	for _, st := range r.streams {
		if !st.done {
			n++
		}
	}
	return n
}

// query builds a stream's next Query: the ids it has still to read, up
// to until when set.
func (r *reader) query(st *stream) (*dynamodb.QueryInput, error) {
	lo, hi := st.lo, st.hi
	if st.until != "" {
		if r.asc {
			hi = min(hi, st.until)
		} else {
			lo = max(lo, st.until)
		}
	}
	kc := expression.Key(r.keyName).Equal(expression.Value(st.pk)).
		And(expression.Key(SortKey).Between(expression.Value(lo), expression.Value(hi)))
	b := expression.NewBuilder().WithKeyCondition(kc)
	if r.filter != nil {
		b = b.WithFilter(*r.filter)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	return &dynamodb.QueryInput{
		TableName:                 r.s.tableName,
		IndexName:                 r.index,
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(r.asc),
		Limit:                     aws.Int32(int32(st.limit)),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	}, nil
}

// read runs the next Query of each stream of next, in parallel.
func (r *reader) read(ctx context.Context, next []*stream) error {
	outs := make([]*dynamodb.QueryOutput, len(next))
	g, gctx := errgroup.WithContext(ctx)
	for i, st := range next {
		in, err := r.query(st)
		if err != nil {
			return err
		}
		g.Go(func() (err error) {
			outs[i], err = r.s.db.Query(gctx, in)
			return classify(err)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, st := range next {
		out := outs[i]
		meterRead(ctx, out.ConsumedCapacity)
		if out.ConsumedCapacity != nil {
			r.used += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		}
		r.scanned += int(out.ScannedCount)
		r.matched += int(out.Count)
		for _, av := range out.Items {
			r.matchedBytes += itemSize(av)
			it := &eventItem{}
			if err := attributevalue.UnmarshalMap(av, it); err != nil {
				return fmt.Errorf("decode event item: %w", err)
			}
			st.buf = append(st.buf, it)
		}
		if err := r.advance(st, out.LastEvaluatedKey); err != nil {
			return err
		}
	}
	return nil
}

// advance moves a stream past what its last Query evaluated.
func (r *reader) advance(st *stream, last map[string]types.AttributeValue) error {
	switch {
	case last != nil:
		sk, ok := last[SortKey].(*types.AttributeValueMemberS)
		if !ok {
			return fmt.Errorf("query: last evaluated key without %s", SortKey)
		}
		st.seen = sk.Value
	case st.until != "" && r.before(st.until, r.end(st)):
		st.seen = st.until // read up to until, not to the end
	default:
		st.done = true
		return nil
	}
	if adj, ok := adjacentID(st.seen, r.asc); !ok {
		st.done = true
	} else if r.asc {
		st.lo = adj
	} else {
		st.hi = adj
	}
	if st.lo > st.hi {
		st.done = true
	}
	return nil
}

// end is the last id of a stream's range in the listing's order.
func (r *reader) end(st *stream) string {
	if r.asc {
		return st.hi
	}
	return st.lo
}

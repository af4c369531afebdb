package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Interval is the width of an aggregate's buckets.
type Interval string

// The intervals.
const (
	Hour Interval = "hour"
	Day  Interval = "day"
)

// MaxBuckets bounds one aggregate request.
const MaxBuckets = 10000

// Aggregate errors; callers report them as bad parameters.
var (
	ErrTooManyBuckets = fmt.Errorf("more than %d buckets", MaxBuckets)
	// ErrUnsupportedZone: a day of the zone starts at an instant the counters
	// cannot split at (not a UTC hour nor a split point): some zones did
	// before 2010.
	ErrUnsupportedZone = errors.New("days of this time zone start at an instant the counters cannot split at")
)

// AggregateQuery asks for event counts per bucket.
type AggregateQuery struct {
	// DeviceID counts one device's events; empty counts every device's, and
	// then Types is required.
	DeviceID string
	// Types to count, summed; empty (for a device) counts every type.
	Types    []string
	Interval Interval
	// From and To are rounded out to whole buckets.
	From, To time.Time
	// Location of the days (Day only); nil is UTC.
	Location *time.Location
}

// Bucket is the count of one bucket, starting at Start.
type Bucket struct {
	Start time.Time
	Count int64
}

// AggregateResult lists the non-empty buckets, oldest first, and their sum.
type AggregateResult struct {
	Buckets []Bucket
	Total   int64
}

// BucketBounds returns the boundaries of the buckets covering [from, to):
// n+1 instants for n buckets, the first at or before from and the last at
// or after to.
func BucketBounds(interval Interval, from, to time.Time, loc *time.Location) ([]time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	var bounds []time.Time
	switch interval {
	case Hour:
		for t := from.UTC().Truncate(time.Hour); ; t = t.Add(time.Hour) {
			bounds = append(bounds, t)
			if !t.Before(to) {
				break
			}
			if len(bounds) > MaxBuckets {
				return nil, ErrTooManyBuckets
			}
		}
	case Day:
		y, m, d := from.In(loc).Date()
		for i := 0; ; i++ {
			t := dayStart(y, m, d+i, loc)
			bounds = append(bounds, t)
			if !t.Before(to) {
				break
			}
			if len(bounds) > MaxBuckets {
				return nil, ErrTooManyBuckets
			}
		}
	default:
		return nil, fmt.Errorf("unknown interval %q", interval)
	}
	if len(bounds) == 1 { // from == to on a boundary: one empty-width range
		bounds = append(bounds, bounds[0])
	}
	return bounds, nil
}

// dayStart is the first instant of a local date. Where a DST change skips
// midnight, that is the instant of the change.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // normalises d past month ends
	ly, lm, ld := t.Date()
	if ly != want.Year() || lm != want.Month() || ld != want.Day() {
		// Go resolved the missing midnight to the evening before: the day
		// begins where that zone period ends.
		_, end := t.ZoneBounds()
		t = end
	}
	return t.UTC()
}

// Aggregate counts events per bucket from the counter items: a day of one
// device and type is one item, so the cost grows with the days covered and
// the types counted, never with the number of events.
func (s *Store) Aggregate(ctx context.Context, q AggregateQuery) (AggregateResult, error) {
	if q.DeviceID == "" && len(q.Types) == 0 {
		return AggregateResult{}, &FieldError{"type", "required when counting across devices"}
	}
	bounds, err := BucketBounds(q.Interval, q.From, q.To, q.Location)
	if err != nil {
		return AggregateResult{}, err
	}
	for _, b := range bounds {
		if _, ok := splitOf(b); !ok {
			return AggregateResult{}, ErrUnsupportedZone
		}
	}
	first, last := dayKey(bounds[0]), dayKey(bounds[len(bounds)-1].Add(-time.Nanosecond))
	if last < first {
		last = first
	}
	days, err := s.readCounters(ctx, q, first, last)
	if err != nil {
		return AggregateResult{}, err
	}
	return bucketsFrom(days, bounds), nil
}

// dayCounts are the counts of one UTC day: per hour, and per split point
// (the events of the split's hour before it).
type dayCounts struct {
	hours  [24]int64
	splits map[int]int64
}

func (d *dayCounts) add(attr string, n int64) {
	switch {
	case len(attr) == 1 && attr[0] >= 'a' && attr[0] <= 'x':
		d.hours[attr[0]-'a'] += n
	case len(attr) == 2 && attr[0] >= 'A' && attr[0] <= 'X' && attr[1] >= '1' && attr[1] <= '3':
		if d.splits == nil {
			d.splits = map[int]int64{}
		}
		d.splits[int(attr[0]-'A')*60+int(attr[1]-'0')*15] += n
	}
}

// splitOf says where t falls in its UTC day: a whole hour (split 0 of that
// hour) or a split point; false for any other instant.
func splitOf(t time.Time) (minuteOfDay int, ok bool) {
	t = t.UTC()
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return 0, false
	}
	m := t.Hour()*60 + t.Minute()
	return m, t.Minute() == 0 || isSplitPoint(m)
}

// before counts the events of day d before minute-of-day m (a whole hour or
// a split point).
func (d *dayCounts) before(m int) int64 {
	var n int64
	for h := 0; h < m/60; h++ {
		n += d.hours[h]
	}
	if m%60 != 0 {
		n += d.splits[m]
	}
	return n
}

func (d *dayCounts) total() int64 { return d.before(24 * 60) }

// bucketsFrom turns day counts into bucket counts: the count of [a, b) is
// P(b) - P(a), where P(t) counts every event before t from the first day on.
func bucketsFrom(days map[string]*dayCounts, bounds []time.Time) AggregateResult {
	keys := make([]string, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// prefix[i] counts the events of the days before keys[i].
	prefix := make([]int64, len(keys)+1)
	for i, k := range keys {
		prefix[i+1] = prefix[i] + days[k].total()
	}
	p := func(t time.Time) int64 {
		dk := dayKey(t)
		i := sort.SearchStrings(keys, dk)
		n := prefix[i]
		if i < len(keys) && keys[i] == dk {
			m, _ := splitOf(t)
			n += days[dk].before(m)
		}
		return n
	}
	var res AggregateResult
	prev := p(bounds[0])
	for i := 1; i < len(bounds); i++ {
		next := p(bounds[i])
		if c := next - prev; c != 0 {
			res.Buckets = append(res.Buckets, Bucket{Start: bounds[i-1], Count: c})
			res.Total += c
		}
		prev = next
	}
	return res
}

// readCounters reads the counter items of the days [first, last].
func (s *Store) readCounters(ctx context.Context, q AggregateQuery, first, last string) (map[string]*dayCounts, error) {
	var ranges []counterRange
	switch {
	case q.DeviceID == "":
		for _, t := range q.Types {
			for shard := 0; shard < Shards; shard++ {
				ranges = append(ranges, counterRange{fleetPK(shard, t), first, last})
			}
		}
	case len(q.Types) > 0:
		for _, t := range q.Types {
			h := keyHash(t)
			ranges = append(ranges, counterRange{counterPK(q.DeviceID), counterSK(h, first), counterSK(h, last)})
		}
	default:
		hashes, err := s.deviceTypeHashes(ctx, q.DeviceID)
		if err != nil {
			return nil, err
		}
		for _, h := range hashes {
			ranges = append(ranges, counterRange{counterPK(q.DeviceID), counterSK(h, first), counterSK(h, last)})
		}
	}
	days := map[string]*dayCounts{}
	var mu sync.Mutex
	err := parallel(ctx, len(ranges), 16, func(ctx context.Context, i int) error {
		return s.queryCounters(ctx, ranges[i], func(day string, attrs map[string]int64) {
			mu.Lock()
			defer mu.Unlock()
			d := days[day]
			if d == nil {
				d = &dayCounts{}
				days[day] = d
			}
			for a, n := range attrs {
				d.add(a, n)
			}
		})
	})
	return days, err
}

type counterRange struct{ pk, lo, hi string }

func (s *Store) queryCounters(ctx context.Context, r counterRange, emit func(day string, attrs map[string]int64)) error {
	kc := expression.Key(PartitionKey).Equal(expression.Value(r.pk)).
		And(expression.Key(SortKey).Between(expression.Value(r.lo), expression.Value(r.hi)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return classify(err)
		}
		meterRead(ctx, out.ConsumedCapacity)
		for _, item := range out.Items {
			sk := item[SortKey].(*types.AttributeValueMemberS).Value
			day := sk[len(sk)-len(dayLayout):]
			attrs := map[string]int64{}
			for name, av := range item {
				if name == PartitionKey || name == SortKey {
					continue
				}
				var n int64
				if err := attributevalue.Unmarshal(av, &n); err != nil {
					return fmt.Errorf("counter %s/%s: %w", r.pk, sk, err)
				}
				attrs[name] = n
			}
			emit(day, attrs)
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// deviceTypeHashes lists the types a device has counters for (as the
// hashes their keys hold), one short query per type: each skips past every
// day of the type before.
func (s *Store) deviceTypeHashes(ctx context.Context, device string) ([]string, error) {
	var out []string
	from := ""
	for {
		kc := expression.Key(PartitionKey).Equal(expression.Value(counterPK(device)))
		if from != "" {
			kc = kc.And(expression.Key(SortKey).GreaterThanEqual(expression.Value(from)))
		}
		expr, err := expression.NewBuilder().WithKeyCondition(kc).
			WithProjection(expression.NamesList(expression.Name(SortKey))).Build()
		if err != nil {
			return nil, err
		}
		res, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    expr.KeyCondition(),
			ProjectionExpression:      expr.Projection(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			Limit:                     aws.Int32(1),
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
		})
		if err != nil {
			return nil, classify(err)
		}
		meterRead(ctx, res.ConsumedCapacity)
		if len(res.Items) == 0 {
			return out, nil
		}
		sk := res.Items[0][SortKey].(*types.AttributeValueMemberS).Value
		h := sk[:hashLen]
		out = append(out, h)
		// The next type sorts after every "<h><digits>": "<h>:" sorts after
		// them all (':' follows '9') and before any other hash.
		from = h + ":"
	}
}

// parallel runs n jobs, at most limit at a time, and returns the first error.
func parallel(ctx context.Context, n, limit int, job func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, limit)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := job(ctx, i); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

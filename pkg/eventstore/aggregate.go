package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
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

// Aggregate counts events per bucket from the counter items: a day is one
// item (of the device and type, of the device, or of the type across the
// fleet) once compacted, so the cost grows with the days covered, never
// with the number of events, and for a device's every type nor with the
// number of types (counters.go, compact.go).
func (s *Store) Aggregate(ctx context.Context, q AggregateQuery) (AggregateResult, error) {
	if q.DeviceID == "" && len(q.Types) == 0 {
		return AggregateResult{}, &FieldError{"type", "required when counting across devices"}
	}
	bounds, err := bucketBounds(q.Interval, q.From, q.To, q.Location)
	if err != nil {
		return AggregateResult{}, err
	}
	for _, b := range bounds {
		if _, ok := splitOf(b); !ok {
			return AggregateResult{}, ErrUnsupportedZone
		}
	}
	// A type named twice counts once.
	q.Types = slices.Compact(slices.Sorted(slices.Values(q.Types)))
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

// countSource is one set of counters an aggregate adds up: a ledger, the
// ranges of its folded items, and which of its deltas count.
type countSource struct {
	ledger ledger
	folded []counterRange
	// types are the hashes of the types whose deltas count; nil counts
	// every type's.
	types map[string]bool
	// watermark as read.
	watermark string
}

type counterRange struct{ pk, lo, hi string }

// maxDeltaGets is how many deltas a read of a device's types fetches one
// by one (half a unit each) rather than by a query of every type's deltas
// of those days: the few days after the watermark, for a type or two.
const maxDeltaGets = 4

// fewDeltas lists the deltas of the days [from, last] of src's types when
// there are at most maxDeltaGets of them; nil otherwise.
func (src *countSource) fewDeltas(from, last string) []counterRef {
	if src.types == nil || len(src.types) > maxDeltaGets {
		return nil
	}
	start, err1 := parseDay(from)
	end, err2 := parseDay(last)
	if err1 != nil || err2 != nil || int(end.Sub(start).Hours()/24+1)*len(src.types) > maxDeltaGets {
		return nil
	}
	var refs []counterRef
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		for _, h := range sortedKeys(src.types) {
			refs = append(refs, counterRef{src.ledger.sources[0], dayKey(d) + h})
		}
	}
	return refs
}

// readCounters adds up the counter items of the days [first, last]: the
// folded items of those days, and the sources (deltas or fleet shards)
// from the watermark on. Then it compacts the ledgers whose watermark is
// behind, after the answer is read, so that the answer needs no strongly
// consistent read. A read that finds more sources than readBudgetItems
// compacts a share and answers ErrCompacting.
func (s *Store) readCounters(ctx context.Context, q AggregateQuery, first, last string) (map[string]*dayCounts, error) {
	var sources []*countSource
	switch {
	case q.DeviceID == "":
		for _, t := range q.Types {
			sources = append(sources, &countSource{
				ledger: fleetLedger(t),
				folded: []counterRange{{hashedPK(rollupPrefix, t), first, last}},
			})
		}
	case len(q.Types) > 0:
		src := &countSource{ledger: deviceLedger(q.DeviceID), types: map[string]bool{}}
		for _, t := range q.Types {
			h := keyHash(t)
			src.types[h] = true
			src.folded = append(src.folded, counterRange{hashedPK(perTypePrefix, q.DeviceID), h + first, h + last})
		}
		sources = append(sources, src)
	default:
		sources = append(sources, &countSource{
			ledger: deviceLedger(q.DeviceID),
			folded: []counterRange{{hashedPK(devicePrefix, q.DeviceID), first, last}},
		})
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, src := range sources {
		g.Go(func() (err error) {
			src.watermark, err = s.watermark(gctx, src.ledger)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	days := map[string]*dayCounts{}
	var mu sync.Mutex
	count := func(day string, c counterItem) {
		mu.Lock()
		defer mu.Unlock()
		d := days[day]
		if d == nil {
			d = &dayCounts{}
			days[day] = d
		}
		for a, n := range c.counts {
			d.add(a, n)
		}
	}
	var over atomic.Bool
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, src := range sources {
		for _, r := range src.folded {
			g.Go(func() error {
				_, err := s.queryCounters(gctx, r.pk, r.lo, r.hi, false, 0, func(c counterItem) {
					count(c.ref.sk[len(c.ref.sk)-len(dayLayout):], c)
				})
				return err
			})
		}
		from := max(first, src.watermark)
		if from > last {
			continue
		}
		if refs := src.fewDeltas(from, last); refs != nil {
			for _, ref := range refs {
				g.Go(func() error {
					c, ok, err := s.getCounter(gctx, ref)
					if ok {
						count(sourceDay(c.ref), c)
					}
					return err
				})
			}
			continue
		}
		for _, pk := range src.ledger.sources {
			g.Go(func() error {
				lo, hi := sourceRange(pk, from, last)
				more, err := s.queryCounters(gctx, pk, lo, hi, false, max(1, s.aggregateBudget/len(src.ledger.sources)), func(c counterItem) {
					if src.types == nil || src.types[c.ref.sk[len(dayLayout):]] {
						count(sourceDay(c.ref), c)
					}
				})
				if more {
					over.Store(true)
				}
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	closed := closedBefore(s.now())
	moves := s.compactBudget
	var cerr error
	for _, src := range sources {
		if src.watermark < closed {
			cerr = errors.Join(cerr, s.compact(ctx, src.ledger, src.watermark, closed, &moves))
		}
	}
	if over.Load() {
		if cerr != nil && !errors.Is(cerr, errMoved) {
			return nil, cerr
		}
		return nil, ErrCompacting
	}
	// The answer is exact whatever became of the compaction: it was read
	// before, and a move only ever changes where a count is kept. A later
	// read compacts again after a passing failure; any other (a role
	// without the actions compaction needs, a request DynamoDB refuses)
	// would leave every read paying for what it cannot fold, unseen, so it
	// fails the request.
	if cerr != nil && !passing(cerr) {
		return nil, cerr
	}
	return days, nil
}

// passing reports whether a compaction failed for a reason that goes away
// by itself: another writer moved first, throttling, an outage, the
// request's deadline.
func passing(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !passing(e) {
				return false
			}
		}
		return true
	}
	for _, kind := range []error{errMoved, ErrThrottled, ErrUnavailable, ErrConflict, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

package eventstore

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Counter items.
//
// A put or delete transaction has room for two counter updates within a
// single event's 7 write units, yet a read must find one item per bucket
// whether it counts one device and type, one device and every type, or one
// type across the fleet. So writes go to small per-write items ("deltas and
// fleet shards") and reads fold them, once a day has closed, into the
// items they read ("roll-ups"):
//
//	delta      A#<h(device)> / <day><h(type)>  written for recent days
//	per type   B#<h(device)> / <h(type)><day>  folded deltas, late writes
//	device     C#<h(device)> / <day>           folded deltas, late writes (all types)
//	fleet      F#<shard><h(type)> / <day>      written for recent days
//	roll-up    G#<h(type)> / <day>             folded shards, late writes
//
// A day is recent for a write when it is yesterday or later by the
// writer's clock (UTC): such a write changes the event's delta and one
// fleet shard. A write to an earlier day is late: it changes the per-type,
// device and roll-up items directly (three updates: 2 units more). A day is
// closed for compaction when it is three or more days old by the reader's
// clock, so a whole day separates the last recent write to a day from its
// first compaction (compact.go); clocks may disagree by up to that day.
//
// Every counter item holds the same attributes:
//
//   - one count per UTC hour, named "a" (00:00) to "x" (23:00);
//   - one count per split point: the events of a UTC hour that came before
//     a quarter past, half past or a quarter to, named by the hour's capital
//     letter and the quarter ("S2" counts 18:00–18:30).
//
// Deltas and fleet shards also count their writes in versionAttr, which
// compaction's conditional delete checks: it changes with every write,
// where a put and a delete between a read and the move would leave a total
// unchanged.
//
// Hourly buckets and days in whole-hour zones (DST days of 23 or 25 hours
// included) start on UTC hours and are sums of hour counts. Days in zones
// with 30- or 45-minute offsets (Asia/Kolkata starts its days at 18:30 UTC,
// Asia/Kathmandu at 18:15) start on split points, which the split counts
// make exact. Only the split points at which some zone's local midnight
// has fallen since 2010 (or will by 2100, by today's rules) are kept: 16 of
// them. So an item stays under 300 bytes even when every hour and split
// holds a seven-digit count, and a year of daily counts reads 365 such items,
// under 15 read units. A day that starts elsewhere (Singapore before 1982,
// Pitcairn before 1998) is refused rather than miscounted.
//
// splitPoints lists them as minutes after 00:00 UTC. TestSplitPointsCoverZones
// derives the list from the time zone database and fails if it changes.
var splitPoints = []int{
	2*60 + 30, 3*60 + 30, 4*60 + 30, 9*60 + 30, 10*60 + 15, 11*60 + 15, 12*60 + 30, 13*60 + 30,
	14*60 + 30, 15*60 + 15, 15*60 + 30, 17*60 + 30, 18*60 + 15, 18*60 + 30, 19*60 + 30, 20*60 + 30,
}

// versionAttr counts the writes to a delta or a fleet shard. One letter
// outside "a".."x", so that it is no hour.
const versionAttr = "y"

// isSplitPoint reports whether minute-of-day m has a split count.
func isSplitPoint(m int) bool {
	for _, p := range splitPoints {
		if p == m {
			return true
		}
	}
	return false
}

func hourAttr(h int) string { return string(rune('a' + h)) }

func splitAttr(minuteOfDay int) string {
	return string([]rune{rune('A' + minuteOfDay/60), rune('0' + minuteOfDay%60/15)})
}

// counterAttrs lists the attributes an event at t adds one to: its hour,
// and every split point later in the same hour.
func counterAttrs(t time.Time) []string {
	t = t.UTC()
	h, m := t.Hour(), t.Minute()
	attrs := []string{hourAttr(h)}
	for _, p := range splitPoints {
		if p/60 == h && m < p%60 {
			attrs = append(attrs, splitAttr(p))
		}
	}
	return attrs
}

// dayNumber counts days since 1970-01-01 UTC.
func dayNumber(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// recent reports whether a write at now puts an event at t in a delta and
// a fleet shard (true) or in the folded items directly (false).
func recent(t, now time.Time) bool { return dayNumber(t) >= dayNumber(now)-1 }

// closedBefore is the first day compaction at now leaves alone: days before
// it are closed. Between the last day a write may still treat as recent
// (yesterday) and the last closed day lies one whole day.
func closedBefore(now time.Time) string { return dayKey(now.UTC().AddDate(0, 0, -2)) }

// counterRef names one counter item.
type counterRef struct {
	pk, sk string
}

// moved reports whether compaction moves the item away: deltas and fleet
// shards.
func (r counterRef) moved() bool {
	return strings.HasPrefix(r.pk, deltaPrefix) || strings.HasPrefix(r.pk, fleetPrefix)
}

// eventCounters lists in refs the counter items a write at now changes for
// an event: its delta and the transaction's fleet shard for a recent day,
// or its per-type, device and roll-up items for a late one. (The caller's
// array keeps a put's refs off the heap.)
func eventCounters(refs *[3]counterRef, device, eventType string, t time.Time, shard int, now time.Time) []counterRef {
	if recent(t, now) {
		refs[0] = counterRef{hashedPK(deltaPrefix, device), deltaSK(t, eventType)}
		refs[1] = counterRef{fleetPK(shard, eventType), dayKey(t)}
		return refs[:2]
	}
	day := dayKey(t)
	refs[0] = counterRef{hashedPK(perTypePrefix, device), perTypeSK(eventType, t)}
	refs[1] = counterRef{hashedPK(devicePrefix, device), day}
	refs[2] = counterRef{hashedPK(rollupPrefix, eventType), day}
	return refs[:3]
}

// counterDeltas accumulates the changes a set of writes makes to counters.
type counterDeltas map[counterRef]map[string]int64

// add adds n to the attributes of an event at t in each of refs, and
// counts a write on those that compaction moves.
func (d counterDeltas) add(refs []counterRef, t time.Time, n int64) {
	attrs := counterAttrs(t)
	for _, ref := range refs {
		m := d[ref]
		if m == nil {
			m = make(map[string]int64, len(attrs)+1)
			d[ref] = m
		}
		for _, a := range attrs {
			m[a] += n
		}
		if ref.moved() {
			m[versionAttr]++
		}
	}
}

// updates turns the deltas into transaction updates, in a stable order.
// Expressions come from cache when it is not nil (the write path, where few
// distinct deltas occur).
func (d counterDeltas) updates(table *string, cache *exprCache) ([]types.TransactWriteItem, error) {
	refs := make([]counterRef, 0, len(d))
	for r := range d {
		refs = append(refs, r)
	}
	sortRefs(refs)
	out := make([]types.TransactWriteItem, 0, len(refs))
	for _, r := range refs {
		var expr cachedExpr
		var err error
		if cache != nil {
			expr, err = cache.add(d[r])
		} else {
			expr, err = buildAdd(d[r])
		}
		if err != nil {
			return nil, fmt.Errorf("counter update: %w", err)
		}
		out = append(out, types.TransactWriteItem{Update: &types.Update{
			TableName:                 table,
			Key:                       key(r.pk, r.sk),
			UpdateExpression:          expr.update,
			ExpressionAttributeNames:  expr.names,
			ExpressionAttributeValues: expr.values,
		}})
	}
	return out, nil
}

func sortRefs(refs []counterRef) {
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && (refs[j].pk < refs[j-1].pk || refs[j].pk == refs[j-1].pk && refs[j].sk < refs[j-1].sk); j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
}

// exprCache keeps the update expressions of counter deltas. An expression
// depends only on the attributes and the amounts added to them, and few
// sets of those occur (a put of one event adds 1 to the attribute of its
// hour, and to the splits after it in that hour); building one with the
// expression package was most of a put's allocations. Requests share a
// cached expression's maps: the SDK only reads its input.
type exprCache struct {
	mu sync.RWMutex
	m  map[string]cachedExpr
}

type cachedExpr struct {
	update *string
	names  map[string]string
	values map[string]types.AttributeValue
}

// maxCachedExprs bounds the cache; deltas beyond it (large batches spread
// over many hours) are built every time.
const maxCachedExprs = 4096

// add returns the expression that adds each delta to its attribute.
func (c *exprCache) add(delta map[string]int64) (cachedExpr, error) {
	attrs := sortedKeys(delta)
	var buf [128]byte
	k := buf[:0]
	for _, a := range attrs {
		k = strconv.AppendInt(append(append(k, a...), '+'), delta[a], 10)
		k = append(k, ' ')
	}
	c.mu.RLock()
	e, ok := c.m[string(k)]
	c.mu.RUnlock()
	if ok {
		return e, nil
	}
	e, err := buildAdd(delta)
	if err != nil {
		return cachedExpr{}, err
	}
	c.mu.Lock()
	if len(c.m) < maxCachedExprs {
		c.m[string(k)] = e
	}
	c.mu.Unlock()
	return e, nil
}

// buildAdd builds the expression that adds each delta to its attribute.
func buildAdd(delta map[string]int64) (cachedExpr, error) {
	var upd expression.UpdateBuilder
	for _, a := range sortedKeys(delta) {
		upd = upd.Add(expression.Name(a), expression.Value(delta[a]))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return cachedExpr{}, err
	}
	return cachedExpr{update: expr.Update(), names: expr.Names(), values: expr.Values()}, nil
}

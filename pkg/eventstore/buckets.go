package eventstore

import (
	"fmt"
	"sort"
	"time"
)

// bucketBounds returns the boundaries of the buckets covering [from, to):
// n+1 instants for n buckets, the first at or before from and the last at
// or after to.
func bucketBounds(interval Interval, from, to time.Time, loc *time.Location) ([]time.Time, error) {
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

package eventstore

import (
	"time"
)

// Counter items.
//
// Every put and delete changes, in the same transaction as the event, two
// counter items: the device's item for (device, type, UTC day) and one of
// Shards fleet items for (type, UTC day). Both hold the same attributes:
//
//   - one count per UTC hour, named "a" (00:00) to "x" (23:00);
//   - one count per split point: the events of a UTC hour that came before
//     a quarter past, half past or a quarter to, named by the hour's capital
//     letter and the quarter ("S2" counts 18:00–18:30).
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

// counterRef names one counter item.
type counterRef struct {
	pk, sk string
}

func deviceCounter(device, eventType string, t time.Time) counterRef {
	return counterRef{counterPK(device), counterSKAt(eventType, t)}
}

func fleetCounter(eventType string, shard int, t time.Time) counterRef {
	return counterRef{fleetPK(shard, eventType), dayKey(t)}
}

// counterDeltas accumulates the changes a set of events makes to counters.
type counterDeltas map[counterRef]map[string]int

func (d counterDeltas) add(device, eventType string, shard int, t time.Time, n int) {
	d.addTo(deviceCounter(device, eventType, t), fleetCounter(eventType, shard, t), t, n)
}

// addTo is add for an event whose two counter items (the device's and the
// fleet's, in that order) are known.
func (d counterDeltas) addTo(device, fleet counterRef, t time.Time, n int) {
	attrs := counterAttrs(t)
	for _, ref := range [2]counterRef{device, fleet} {
		m := d[ref]
		if m == nil {
			m = make(map[string]int, len(attrs))
			d[ref] = m
		}
		for _, a := range attrs {
			m[a] += n
		}
	}
}

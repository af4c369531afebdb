package eventstore

import (
	"hash/fnv"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
)

// Shards is how many ways the writes of one event type are spread, both in
// the type index (partition key "<type>#<shard>") and in the fleet-wide
// counters. A partition key takes about 1 000 write units a second; with 16
// shards one type can take 16 000 one-KB events a second in the index and
// 8 000 in the counters (a transactional update costs 2 units) before either
// throttles, and so before the index's back-pressure throttles the table.
const Shards = 16

// Key prefixes. Device ids cannot contain '#', so no two kinds of item share
// a partition key.
const (
	eventPrefix   = "D#" // D#<device>                 / <event id>
	counterPrefix = "A#" // A#<device>                 / <type>\x1f<yyyymmdd>
	fleetPrefix   = "F#" // F#<shard>#<type>           / <yyyymmdd>
	keyPrefix     = "K#" // K#<device>                 / <idempotency key>
	typeDaySep    = "\x1f"
)

func eventPK(device string) string { return eventPrefix + device }

// shardOf spreads events over Shards by a hash of their id: uniform whatever
// the mix of devices, and fixed for the event's life, so a delete lowers the
// same counter its put raised.
func shardOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

func shardName(s int) string { return strconv.FormatInt(int64(s), 16) }

func typeIndexKey(eventType, id string) string {
	return eventType + "#" + shardName(shardOf(id))
}

func typeIndexKeyForShard(eventType string, shard int) string {
	return eventType + "#" + shardName(shard)
}

// TypeIndexKeyForShard is the partition key of one shard of a type in the
// type index; exported for tests and tools that inspect the table.
func TypeIndexKeyForShard(eventType string, shard int) string {
	return typeIndexKeyForShard(eventType, shard)
}

func counterPK(device string) string { return counterPrefix + device }

func counterSK(eventType string, day string) string { return eventType + typeDaySep + day }

func fleetPK(shard int, eventType string) string {
	return fleetPrefix + shardName(shard) + "#" + eventType
}

func idemPK(device string) string { return keyPrefix + device }

// FleetCounterKey is the partition key of the fleet counter an event's
// count goes to. Exported so a test can show how the key spreads writes.
func FleetCounterKey(eventType, id string) string { return fleetPK(shardOf(id), eventType) }

const dayLayout = "20060102"

func dayKey(t time.Time) string { return t.UTC().Format(dayLayout) }

// idBounds turns a time range [from, to) into the inclusive range of event
// ids (ULIDs whose time part is the event time) that fall in it.
func idBounds(from, to time.Time) (lo, hi string) {
	lo = "00000000000000000000000000"
	hi = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
	if !from.IsZero() {
		ms := from.UnixMilli()
		if from.After(time.UnixMilli(ms)) { // round a sub-millisecond bound up
			ms++
		}
		lo = ulidAt(ms, false)
	}
	if !to.IsZero() {
		ms := to.UnixMilli()
		if to.After(time.UnixMilli(ms)) {
			ms++ // to is exclusive: the last ms fully before it is ceil(to)-1
		}
		hi = ulidAt(ms-1, true)
	}
	return lo, hi
}

func ulidAt(ms int64, last bool) string {
	if ms < 0 {
		return "00000000000000000000000000"
	}
	if uint64(ms) > ulid.MaxTime() {
		return "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
	}
	var id ulid.ULID
	_ = id.SetTime(uint64(ms))
	if last {
		for i := 6; i < 16; i++ {
			id[i] = 0xff
		}
	}
	return id.String()
}

// adjacentID returns the id right after (or before) id in sort order, to
// continue a query past the last event a page returned.
func adjacentID(id string, next bool) (string, bool) {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return "", false
	}
	for i := 15; i >= 0; i-- {
		if next {
			u[i]++
			if u[i] != 0 {
				return u.String(), true
			}
		} else {
			u[i]--
			if u[i] != 0xff {
				return u.String(), true
			}
		}
	}
	return "", false // ran off either end
}

// ValidEventID reports whether id could be an event id.
func ValidEventID(id string) bool {
	_, err := ulid.ParseStrict(id)
	return err == nil && len(id) == ulid.EncodedSize
}

func idTime(id string) time.Time {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(u.Time())).UTC()
}

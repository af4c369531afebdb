package eventstore

import (
	"crypto/sha256"
	"encoding/base32"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
)

// Shards is how many fleet counter items one type's writes of a recent
// day are spread over. A partition takes about 1 000 write units a second
// and a transactional counter update costs 2, so one item takes 500 updates
// a second: 12 shards take 5 000 single-event puts of one type a second
// with room to spare (issue 3's bar; TestFleetCountersTakeAtMostAThousand
// WritesASecond checks writes and units), and far more in batches. The type
// index has IndexShards partitions per type, derived from the counter
// shard, so Shards must be a multiple of IndexShards. Reads never see the
// shards of a closed day: compaction folds them into one roll-up item per
// type and day (compact.go); a read of a range that ends today pays half a
// read unit per shard.
const Shards = 12

// IndexShards is how many partitions of the type index hold one type's
// events (and of the fleet alarm index one state's alarms). Fewer than
// Shards: a fleet page reads every index shard of its types, and each
// Query costs at least half a unit and rounds up to 4 KB, so with few
// shards a page of 100 one-KB events of one type reads about what the
// events weigh. Four shards take 4 000 one-KB events of one type a second
// before the index's back-pressure throttles the table. An event's index
// shard is its counter shard modulo IndexShards (Shards is a multiple of
// it), so one random choice spreads both.
const IndexShards = 4

// Key prefixes. Device ids cannot contain '#', so no two kinds of item share
// a partition key.
//
// Counter keys hold hashes of the device and the type rather than the names:
// a year of daily counts reads 365 counter items, and fixed-length keys keep
// that read under 15 units whatever the length of the ids. See counters.go
// for what each counter item is for.
const (
	eventPrefix   = "D#" // D#<device>                   / <event id>
	deltaPrefix   = "A#" // A#<hash(device)>             / <yyyymmdd><hash(type)>
	perTypePrefix = "B#" // B#<hash(device)>             / <hash(type)><yyyymmdd>
	devicePrefix  = "C#" // C#<hash(device)>             / <yyyymmdd>, and "W"
	fleetPrefix   = "F#" // F#<shard><hash(type)>        / <yyyymmdd>
	rollupPrefix  = "G#" // G#<hash(type)>               / <yyyymmdd>, and "W"
	keyPrefix     = "K#" // K#<device>                   / <idempotency key>
	hashLen       = 13   // base32 characters: 65 bits
	// watermarkSK is the sort key of a compaction watermark; it sorts
	// after every day.
	watermarkSK = "W"
)

func eventPK(device string) string { return eventPrefix + device }

// newShard picks the counter shard of one write transaction. All events
// written together share it, so a batch raises one fleet counter item
// rather than up to Shards of them; it is kept on the event item
// (eventItem.CounterShard) because the event's index shards derive from it.
// A delete transaction picks its own: the shards of a day are only ever
// summed, so which one a delete lowers does not matter (an item may go
// below zero). Random shards spread one type's writes evenly whatever the
// mix of devices.
func newShard() int { return mrand.IntN(Shards) }

func shardName(s int) string { return strconv.FormatInt(int64(s), 16) }

// indexShard is the index partition of an event written with counterShard.
func indexShard(counterShard int) int { return counterShard % IndexShards }

func typeIndexKey(eventType string, indexShard int) string {
	return eventType + "#" + shardName(indexShard)
}

// typeIndexPartition is the partition key in the type index of an event of
// eventType written with the counter shard counterShard.
func typeIndexPartition(eventType string, counterShard int) string {
	return typeIndexKey(eventType, indexShard(counterShard))
}

// The alarm indexes are sparse: only events of severity warning or above
// carry their key attributes. An alarm is open while it is new or
// acknowledged and closed once resolved, and both indexes keep the two
// apart in their partition keys, so that open alarms are read without a
// filter.
const (
	alarmOpen   = "o"
	alarmClosed = "c"
)

// alarmKeys returns an event's partition keys in the device alarm index
// ("<device>#<o|c>") and in the fleet alarm index ("<o|c>#<index shard>"),
// or false when the event is no alarm (info) and must carry neither. Every
// write that sets an event's severity or state sets (or removes) the two
// attributes as this says.
func alarmKeys(device string, severity Severity, state State, counterShard int) (deviceKey, fleetKey string, ok bool) {
	if !isAlarm(severity) {
		return "", "", false
	}
	p := alarmPartition(state)
	return deviceAlarmKey(device, p), fleetAlarmKey(p, indexShard(counterShard)), true
}

func deviceAlarmKey(device, partition string) string { return device + "#" + partition }

func fleetAlarmKey(partition string, indexShard int) string {
	return partition + "#" + shardName(indexShard)
}

func alarmPartition(state State) string {
	if state == StateResolved {
		return alarmClosed
	}
	return alarmOpen
}

// The counter keys are built in one buffer each: a put computes four of
// them per event, and this is on every write's path.

// hashedPK is prefix followed by the hash of s: the partition of a
// device's (A#, B#, C#) or a type's (G#) counters.
func hashedPK(prefix, s string) string {
	var buf [2 + hashLen]byte
	return string(appendKeyHash(append(buf[:0], prefix...), s))
}

// deltaSK is the sort key of a delta: day first, so that a range of days
// reads every type's deltas of those days.
func deltaSK(t time.Time, eventType string) string {
	var buf [len(dayLayout) + hashLen]byte
	return string(appendKeyHash(t.UTC().AppendFormat(buf[:0], dayLayout), eventType))
}

// perTypeSK is the sort key of a per-type item: type first, so that a
// range of days of one type is one key range.
func perTypeSK(eventType string, t time.Time) string {
	var buf [hashLen + len(dayLayout)]byte
	return string(t.UTC().AppendFormat(appendKeyHash(buf[:0], eventType), dayLayout))
}

func fleetPK(shard int, eventType string) string {
	var buf [len(fleetPrefix) + 2 + hashLen]byte
	b := strconv.AppendInt(append(buf[:0], fleetPrefix...), int64(shard), 16) // shardName
	return string(appendKeyHash(b, eventType))
}

// keyHash names a device or type in a counter key: the first hashLen
// characters of the lower-case base32 of its SHA-256.
func keyHash(s string) string {
	var buf [hashLen]byte
	return string(appendKeyHash(buf[:0], s))
}

func appendKeyHash(dst []byte, s string) []byte {
	var in [MaxIDLength]byte
	sum := sha256.Sum256(append(in[:0], s...))
	// Base32 turns each 5 bytes into 8 characters on their own, so the
	// first 16 characters are those of the first 10 bytes.
	var enc [16]byte
	base32.StdEncoding.Encode(enc[:], sum[:10])
	for _, c := range enc[:hashLen] {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func idemPK(device string) string { return keyPrefix + device }

const dayLayout = "20060102"

func dayKey(t time.Time) string { return t.UTC().Format(dayLayout) }

func parseDay(day string) (time.Time, error) { return time.Parse(dayLayout, day) }

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

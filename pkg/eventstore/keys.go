package eventstore

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
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
//
// Counter keys hold hashes of the device and the type rather than the names:
// a year of daily counts reads 365 counter items, and fixed-length keys keep
// that read under 15 units whatever the length of the ids.
const (
	eventPrefix   = "D#" // D#<device>                   / <event id>
	counterPrefix = "A#" // A#<hash(device)>             / <hash(type)><yyyymmdd>
	fleetPrefix   = "F#" // F#<shard><hash(type)>        / <yyyymmdd>
	keyPrefix     = "K#" // K#<device>                   / <idempotency key>
	hashLen       = 13   // base32 characters: 65 bits
)

func eventPK(device string) string { return eventPrefix + device }

// newShard picks the shard of one write transaction. All events written
// together share it, so a batch raises one fleet counter item rather than
// up to Shards of them; the shard is kept in the event's index key
// ("<type>#<shard>"), so a delete lowers the counter its put raised. Random
// shards spread one type's writes evenly whatever the mix of devices.
func newShard() int { return mrand.IntN(Shards) }

func shardName(s int) string { return strconv.FormatInt(int64(s), 16) }

// shardOfIndexKey reads the shard back from an index key.
func shardOfIndexKey(gpk string) (int, error) {
	i := strings.LastIndexByte(gpk, '#')
	n, err := strconv.ParseInt(gpk[i+1:], 16, 8)
	if i < 0 || err != nil || n < 0 || n >= Shards {
		return 0, fmt.Errorf("index key %q has no shard", gpk)
	}
	return int(n), nil
}

func typeIndexKey(eventType string, shard int) string {
	return eventType + "#" + shardName(shard)
}

// TypeIndexPartition is the partition key of one shard of a type in the
// type index; exported for tests and tools that inspect the table.
func TypeIndexPartition(eventType string, shard int) string { return typeIndexKey(eventType, shard) }

func counterPK(device string) string { return counterPrefix + keyHash(device) }

func counterSK(typeHash string, day string) string { return typeHash + day }

func fleetPK(shard int, eventType string) string {
	return fleetPrefix + shardName(shard) + keyHash(eventType)
}

// keyHash names a device or type in a counter key.
func keyHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:hashLen]
}

func idemPK(device string) string { return keyPrefix + device }

// FleetCounterKey is the partition key of a fleet counter. Exported so a
// test can show how the keys spread writes.
func FleetCounterKey(eventType string, shard int) string { return fleetPK(shard, eventType) }

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

// Package eventstore keeps device events in one DynamoDB table, with exact
// hourly and daily counts maintained in the same transactions, idempotent
// puts, lost-update-free patches, and guarded bulk deletes.
//
// # Items
//
//	event          pk D#<device>             sk <event id>          index gpk <type>#<index shard>
//	                                                                 alarms dapk <device>#<o|c>, fapk <o|c>#<index shard>
//	delta          pk A#<hash(device)>       sk <yyyymmdd><hash(type)>
//	per type       pk B#<hash(device)>       sk <hash(type)><yyyymmdd>
//	device         pk C#<hash(device)>       sk <yyyymmdd>, and the watermark W
//	fleet shard    pk F#<shard><hash(type)>  sk <yyyymmdd>
//	roll-up        pk G#<hash(type)>         sk <yyyymmdd>, and the watermark W
//	idempotency    pk K#<device>             sk <key>
//	history        pk U#<device>             sk <event id>#<version mod 100>
//	API key        pk Y#<key id>             sk Y                   (apikeys.go)
//	API key list   pk Y                      sk <key id>
//
// An event id is a ULID whose time part is the event's time, so a device's
// events sort by time and a time range is an id range. The type index
// (TypeIndex) holds every event under "<type>#<index shard>" for the
// fleet-wide listing; the index shard (of IndexShards) is the counter shard
// of the event's put (kept on the item as cs) modulo IndexShards. The alarm
// indexes (DeviceAlarmIndex, FleetAlarmIndex) are sparse: only events of
// severity warning and above carry their keys, open (new, acknowledged) and
// closed (resolved) apart, and a patch of severity or state moves them.
// Data is kept as its JSON text (see jsonObject).
//
// Counter items hold a count per UTC hour and per split point (counters.go).
// A put or delete changes two of them in its transaction when the event's
// day is recent (yesterday or later by the writer's clock): the event's
// delta and one of Shards fleet shards, picked at random per transaction.
// A write to an older day is late: it changes the per-type, device and
// roll-up items, the ones reads add up. Reads fold the deltas and shards of
// closed days (three days old) into those items and record how far they
// got in a watermark (compact.go), so that a read finds one item per day
// whether it counts one type of a device, every type of a device, or a type
// across the fleet.
// An event item holds its newest update; the older ones are history items,
// a ring of 100 per event (history.go), so that a patch writes what changed.
//
// # Cost per write (the service's billing, 1 KB events)
//
//	single event, recent day          7 WCU: event 2, type index 1, delta 2, fleet shard 2
//	single alarm (warning and above)  +2 WCU: 1 in each alarm index
//	single event, late day            9 WCU: event 2, type index 1, per type 2, device 2, roll-up 2
//	an idempotency key               +2 WCU: its record, a put in the first transaction
//	batch of 25, one device and type  3.16 WCU per event: 25×(2+1) + 2 + 2
//	and hour (3.24 under one key,
//	5.16 with a key per event)
//	delete of one event               event 2, index entry 1, and the counters as a put
//	                                  by the deleter's clock (4 recent, 6 late)
//
// A batch takes one shard for all its events, so it raises one fleet shard,
// not up to Shards of them. Reads pay for compaction: 4 WCU per delta
// moved (its delete and its per-type update) and 2 per device and day, 2
// per fleet shard moved and 2 per type and day, 1 per watermark. Each delta
// holds every event of a device, type and day, so a device that writes
// every day costs its first read of the day 4 WCU per type it wrote
// (BENCHMARKS.md: 205 for fifty types).
//
//	a patch after any number of       3 WCU: the previous update into its
//	updates                           history item 1, the changed attributes
//	                                  of the event 1, its type index entry 1
//
// # Ingest ceilings
//
// DynamoDB gives one partition key about 1 000 write units a second, and an
// index partition that falls behind throttles the table's writes
// (back-pressure). The keys above spread load so that:
//
//   - one device takes about 500 one-KB events a second: its events share
//     the partition D#<device> at 2 units each (and its deltas A#<hash> at
//     2 units per transaction);
//   - one type takes about 4 000 one-KB events a second across the fleet:
//     its IndexShards (4) partitions of the type index take 1 000 a second
//     each, batched or not, before the index's back-pressure throttles the
//     table; its Shards (12) fleet shards take 500 transactional updates a
//     second each, 6 000 single puts (far more in batches, where a batch is
//     one update);
//   - late events (two days old or more) of one type go to its one roll-up
//     item per day: about 500 late puts a second per type, far more when
//     batched (a batch is one update per type and day). A backfill beyond
//     that is throttled and retried by the caller;
//   - the fleet's open alarms take about 4 000 one-KB alarms a second (the
//     fleet alarm index has IndexShards partitions per state), and one
//     device's alarms what its events take;
//   - the table takes what its on-demand capacity allows: a new on-demand
//     table serves up to 4 000 write request units a second at once, and a
//     single put costs the table 6 of them (the index's unit is the index's):
//     about 660 single events a second, or 1 850 in batches of 25; it grows
//     to the table quota (40 000 by default: about 6 600 single or 18 500
//     batched events a second). BENCHMARKS.md has the arithmetic.
//
// # Why the counts are exact
//
// A count changes only in the transaction that writes or deletes its event,
// or in a move that takes it out of a delta or shard and into the items it
// folds into. Each holds under:
//
//   - Retries. A key record is put in the first transaction of its request,
//     on condition that it does not exist: it exists exactly when that
//     transaction's events and counts were written. A retry finds it, takes
//     the ids it holds, reads back the events of the transactions it says
//     were written and writes only the others. It never writes an event of
//     a written transaction again: if one was deleted or has expired, the
//     retry is ErrKeyedEventsDeleted and stores nothing. The SDK's own
//     resend of a transaction carries its ClientRequestToken, which
//     DynamoDB answers without applying it twice.
//   - Crashes. Every transaction is all or nothing. A Lambda stopped
//     between two transactions of a put leaves the first ones written with
//     their counts and marked on the key record (a later transaction marks
//     itself, on condition that no other attempt did); the retry writes the
//     rest. Without a key, the caller had the ids of what was stored in the
//     failed put's error (PartialWriteError). A bulk delete stopped halfway
//     leaves each event stored and counted, or gone and uncounted.
//   - Concurrent compaction. A move deletes its sources on condition that
//     their write count is the one read, and adds what they held to their
//     targets, in one transaction: a count is in its source or in its
//     targets, never both. Two readers moving the same items: the second's
//     condition fails, and its transaction with it. A late write adding to
//     a target while a move does collides (TransactionConflict) and one of
//     them retries.
//   - Clock skew. A write treats a day as recent (delta, shard) until the end
//     of the next day by its own clock; compaction moves a day only from
//     the start of the third day after it by its own: a whole day between.
//     The functions' clocks may therefore disagree by up to a day less the
//     longest transaction. A write between a move's read and its
//     transaction fails the move (the write count changed), which the next
//     read makes again. Only a clock more than a day behind could add to a
//     delta after its move: the device's every-type reads still count it,
//     its one-type and the fleet's reads miss it until the next move.
//
// Reads are eventually consistent, as listings are: for the second or so
// DynamoDB takes to replicate a write, a read may miss it, and may see a
// move's sources gone but not yet its targets. Read strongly, an aggregate
// would cost twice as much.
//
// # Reads
//
// A device's listing is one Query over its partition (filters on type,
// status, severity and state are filter expressions), or, for a severity
// of warning and above, over its alarm partitions. The fleet listing reads
// the IndexShards partitions of each type (or of the open and closed
// alarms) in parallel and merges them by id. A listing request reads at
// most about ReadBudget units (1 MB) and answers what it found with a
// cursor at the last position it evaluated (reader.go). Of merged streams
// one reads first, to size the others' Queries by what an item weighs (a
// request then reads at most about 1 MB and one item of each other
// stream); and where one item of each stream costs more than the
// budget (ten types of 100 KB events: forty streams), a request reads up
// to twice that, since a merged page can take nothing before each stream
// has read an item.
//
// An aggregate reads the watermark of its device or type (half a unit),
// then in parallel the folded items of its days and the sources of the
// days from the watermark on: for a device and type, the per-type items and
// the few recent deltas of the type (one GetItem each, or one query of the
// device's recent deltas); for a device's every type, the device items and
// the deltas of the recent days; for a type across the fleet, the roll-up
// items and the eight shards' recent days. A year of daily counts costs
// about 13 read units in steady state (BENCHMARKS.md), whatever the number
// of events, types or shards; a year ending today reads the recent sources
// as well (14.5 for a type of a device, up to 18 for every type of a device
// with fifty busy types, 17.5 for the fleet).
//
// A read whose watermark is behind (the first read of a day, or of a device
// or type nobody read for a while) answers from what it read first, then
// compacts the closed days, at most 2 000 sources a request, and moves the
// watermark. Uncompacted sources count against a read budget of 4 000
// items (about 1 MB): a read that finds more compacts its share and answers
// ErrCompacting (503 with Retry-After), and each retry finds fewer. A
// device never read, with fifty types written every day for a year (18 250
// deltas), takes about eight requests and 75 000 write units (under 5 US
// cents) to fold its year; a type's fleet shards (2 920 for a year) fit
// the first read. The recent days alone cannot be compacted: a device with
// more than about 1 000 types written in each of its last four days is
// over the budget for every-type reads (ask for types instead).
package eventstore

// Package eventstore keeps device events in one DynamoDB table, with exact
// hourly and daily counts maintained in the same transactions, idempotent
// puts, lost-update-free patches, and guarded bulk deletes.
//
// # Items
//
//	event          pk D#<device>             sk <event id>          index gpk <type>#<index shard>
//	                                                                 alarms dapk <device>#<o|c>, fapk <o|c>#<index shard>
//	device counter pk A#<hash(device)>       sk <hash(type)><yyyymmdd>
//	fleet counter  pk F#<shard><hash(type)>  sk <yyyymmdd>
//	idempotency    pk K#<device>             sk <key>
//
// An event id is a ULID whose time part is the event's time, so a device's
// events sort by time and a time range is an id range. The type index
// (TypeIndex) holds every event under "<type>#<index shard>" for the
// fleet-wide listing; the index shard (of IndexShards) is the counter shard
// of the event's put (kept on the item as cs) modulo IndexShards. The alarm
// indexes (DeviceAlarmIndex, FleetAlarmIndex) are sparse: only events of
// severity warning and above carry their keys, open (new, acknowledged) and
// closed (resolved) apart, and a patch of severity or state moves them.
//
// Counter items hold a count per UTC hour and per split point (see
// counters.go); every put and delete changes them in the same
// TransactWriteItems as the events, so counts never drift from the events
// stored. Data is kept as its JSON text (see jsonObject).
//
// # Cost per write (the service's billing, 1 KB events)
//
//	single event                      7 WCU: event 2, type index 1, device counter 2, fleet counter 2
//	single alarm (warning and above)  9 WCU: and 1 in each alarm index
//	single event with an idempotency  8 WCU: the key's reservation adds 1
//	key
//	batch of 25, one device and type  3.16 WCU per event: 25×(2+1) + 2 + 2
//
// A batch takes one random shard for all its events, so it raises one
// fleet counter, not up to 16.
//
// # Ingest ceilings
//
// DynamoDB gives one partition key about 1 000 write units a second, and an
// index partition that falls behind throttles the table's writes
// (back-pressure). The keys above spread load so that:
//
//   - one device takes about 500 one-KB events a second: its events share
//     the partition D#<device> at 2 units each (and its counters A#<hash>
//     at 2 units per transaction);
//   - one type takes about 4 000 one-KB events a second across the fleet:
//     its IndexShards (4) partitions of the type index take 1 000 a second
//     each, batched or not, before the index's back-pressure throttles the
//     table; its Shards fleet counter items take 500 transactional updates
//     a second each (a batch is one update);
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
// # Reads
//
// A device's listing is one Query over its partition (filters on type,
// status, severity and state are filter expressions), or, for a severity
// of warning and above, over its alarm partitions. The fleet listing reads
// the IndexShards partitions of each type (or of the open and closed
// alarms) in parallel and merges them by id. A listing request reads at
// most about ReadBudget units (1 MB) and answers what it found with a
// cursor at the last position it evaluated (query.go).
//
// Aggregates read counter items only: a year of daily counts for one
// device and type is 365 items of under 300 bytes, under 15 read units,
// whatever the event rate.
package eventstore

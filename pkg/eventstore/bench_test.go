package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/zoneinfo"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The capacity benchmarks. Each reports, per event or per operation:
//
//	WCU/event       write units by the service's billing rules (capacity_test.go)
//	local-WCU/event write units as DynamoDB Local reports them
//	RCU/op          read units as DynamoDB Local reports them (it reports
//	                reads as the service bills them)
//
// Run them with `make bench`.

// deLaval is a typical event of the device registry: about 300 bytes.
func deLaval(device string) NewEvent {
	return NewEvent{DeviceID: device, Type: "get-greengrass-configurations", Status: "Failed",
		Text: "Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment"}
}

// seeded returns a store over a table that seed filled, once per test
// binary: the testing package calls a benchmark function more than once,
// and seeding a week of events each time would be most of the run.
func seeded(b *testing.B, name string, opts Options, seed func(*Store, *dynamodb.Client)) *Store {
	b.Helper()
	seededMu.Lock()
	defer seededMu.Unlock()
	if s, ok := seededStores[name]; ok {
		return s
	}
	c := ddbtest.Client(b)
	table := "bench-" + name
	if err := dynamodblocal.CreateTable(context.Background(), c, tableDef, table); err != nil {
		b.Fatal(err)
	}
	s := New(c, table, keepForever(opts))
	seed(s, c)
	seededStores[name] = s
	return s
}

var (
	seededMu     sync.Mutex
	seededStores = map[string]*Store{}
)

func reportWrites(b *testing.B, bill *billed, m *Meter, events int) {
	_, local := m.Units()
	b.ReportMetric(bill.write/float64(events), "WCU/event")
	b.ReportMetric(local/float64(events), "local-WCU/event")
	if bill.counterMax > 1024 {
		b.Fatalf("a counter item grew to %d bytes: updates would cost more than 2 units", bill.counterMax)
	}
}

func BenchmarkPut(b *testing.B) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		batch int
		key   string // "", "event" or "request"; or "late"
	}{
		{"single", 1, ""},
		{"single_late", 1, "late"}, // an event of three days ago
		{"single_with_key", 1, "event"},
		{"batch25", 25, ""},
		{"batch25_with_request_key", 25, "request"},
		{"batch25_with_event_keys", 25, "event"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s, bill := newBilledStore(b, Options{Now: fixedClock(now)})
			m := &Meter{}
			ctx := WithMeter(context.Background(), m)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := PutRequest{}
				for j := 0; j < tc.batch; j++ {
					ev := deLaval("robot-1")
					if tc.key == "late" {
						ev.Time = now.AddDate(0, 0, -3)
					}
					if tc.key == "event" {
						ev.IdempotencyKey = fmt.Sprintf("k-%d-%d", i, j)
					}
					req.Events = append(req.Events, ev)
				}
				if tc.key == "request" {
					req.RequestKey = fmt.Sprintf("r-%d", i)
				}
				if _, err := s.Put(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportWrites(b, bill, m, b.N*tc.batch)
		})
	}
}

// BenchmarkPatch patches a DeLaval event that already has 100 updates,
// with a comment, as an operator does: what one more PATCH costs once the
// history is full. The warning event is the same at severity warning (the
// indexes that hold only alarms take it).
func BenchmarkPatch(b *testing.B) {
	for _, severity := range []Severity{SeverityInfo, SeverityWarning} {
		name := "after_100_updates"
		if severity != SeverityInfo {
			name += "_" + string(severity)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var id string
			s := seeded(b, "patch-"+string(severity), Options{Now: fixedClock(t0)}, func(s *Store, _ *dynamodb.Client) {
				ev := deLaval("robot-1")
				ev.Severity = severity
				id = mustPutB(b, s, ev)
				for i := 0; i < MaxUpdatesKept; i++ {
					if _, err := s.Patch(ctx, "robot-1", id, notePatch(i)); err != nil {
						b.Fatal(err)
					}
				}
			})
			if id == "" { // seeded before: the event is the store's only one
				page, err := s.List(ctx, Query{DeviceID: "robot-1", Limit: 1})
				if err != nil || len(page.Events) != 1 {
					b.Fatalf("List: %v, %v", page.Events, err)
				}
				id = page.Events[0].ID
			}
			bill := &billed{Client: s.db.(*dynamodb.Client)}
			bs := New(bill, s.table, keepForever(Options{Now: fixedClock(t0)}))
			m := &Meter{}
			mctx := WithMeter(ctx, m)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ev, err := bs.Patch(mctx, "robot-1", id, notePatch(i))
				if err != nil || len(ev.Updates) != MaxUpdatesKept {
					b.Fatalf("Patch: %d updates, %v; want %d", len(ev.Updates), err, MaxUpdatesKept)
				}
			}
			b.StopTimer()
			read, local := m.Units()
			b.ReportMetric(bill.write/float64(b.N), "WCU/op")
			b.ReportMetric(local/float64(b.N), "local-WCU/op")
			b.ReportMetric(read/float64(b.N), "RCU/op")
		})
	}
}

func notePatch(i int) Patch {
	note := fmt.Sprintf("checked the gateway's deployment, note %d", i)
	return Patch{Comment: note, By: "alice@example.com", Changes: map[string]any{"comment": note}}
}

func mustPutB(b *testing.B, s *Store, ev NewEvent) string {
	b.Helper()
	res, err := s.Put(context.Background(), PutRequest{Events: []NewEvent{ev}})
	if err != nil {
		b.Fatal(err)
	}
	return res.Events[0].ID
}

// BenchmarkListPage100 reads the first page of 100 events of about 1 KB.
func BenchmarkListPage100(b *testing.B) {
	ctx := context.Background()
	s := seeded(b, "list", Options{Now: fixedClock(t0)}, func(s *Store, _ *dynamodb.Client) {
		for i := 0; i < 2; i++ {
			var evs []NewEvent
			for j := 0; j < 100; j++ {
				ev := deLaval("robot-1")
				ev.Text = strings.Repeat("t", 760) // an item of just under 1 KB
				evs = append(evs, ev)
			}
			if _, err := s.Put(ctx, PutRequest{Events: evs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	m := &Meter{}
	mctx := WithMeter(ctx, m)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		page, err := s.List(mctx, Query{DeviceID: "robot-1", Limit: 100})
		if err != nil || len(page.Events) != 100 {
			b.Fatalf("List: %d events, %v", len(page.Events), err)
		}
	}
	b.StopTimer()
	read, _ := m.Units()
	b.ReportMetric(read/float64(b.N), "RCU/op")
}

// BenchmarkList20k lists a table of two devices with 20 000 one-KB events
// each, all of one type, written as single puts would spread them over the
// shards:
//
//	robot-crit   19 990 info events and 10 critical ones (new)
//	robot-alarm  18 990 info events, 1 000 resolved warnings and errors,
//	             and 10 open warnings (new)
//
// None has the status "nomatch". The table is in a DynamoDB Local of its
// own, stopped at the end: one that has held it writes the transactions of
// other tables twenty times slower, even once the table is dropped, which
// would distort the benchmarks that follow.
func BenchmarkList20k(b *testing.B) {
	ctx := context.Background()
	local, err := dynamodblocal.Start(ctx, dynamodblocal.Options{})
	if err != nil {
		b.Fatalf("DynamoDB Local: %v", err)
	}
	defer local.Stop()
	c, err := dynamodblocal.Client(ctx, local.Endpoint)
	if err != nil {
		b.Fatal(err)
	}
	table := "bench-list20k"
	if err := dynamodblocal.CreateTable(ctx, c, tableDef, table); err != nil {
		b.Fatal(err)
	}
	s := New(c, table, keepForever(Options{Now: fixedClock(t0)}))
	start := time.Now()
	var evs []Event
	for i := range 20_000 {
		at := t0.Add(-time.Duration(i) * 13 * time.Second)
		crit := Event{DeviceID: "robot-crit", Type: "get-greengrass-configurations", Time: at, Status: "Failed", Text: oneKB}
		alarm := crit
		alarm.DeviceID, alarm.Time = "robot-alarm", at.Add(time.Second)
		if i%2000 == 1000 {
			crit.Severity = SeverityCritical
			alarm.Severity = SeverityWarning
		} else if i%20 == 7 {
			alarm.Severity, alarm.State = []Severity{SeverityWarning, SeverityError}[i/20%2], StateResolved
		}
		evs = append(evs, crit, alarm)
	}
	seedEvents(b, s, evs)
	b.Logf("seeded 40 000 events in %v", time.Since(start).Round(time.Millisecond))

	// nomatch_device pages robot-crit's 20 000 events with a status filter
	// that matches none, nomatch_fleet the 40 000 of the type across
	// devices. An operation is one request; the requests go through the
	// listing to its end (again from the start if b.N asks for more, and at
	// least once whatever b.N). They report the most any one request read
	// (RCU-max/request), and the requests and read units of a whole pass.
	for _, tc := range []struct {
		name string
		q    Query
	}{
		{"nomatch_device", Query{DeviceID: "robot-crit"}},
		{"nomatch_fleet", Query{Types: []string{"get-greengrass-configurations"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			most, requests, passes, total := 0.0, 0, 0, 0.0
			q := tc.q
			q.Status, q.Limit = "nomatch", DefaultLimit
			for i := 0; i < b.N || passes == 0; i++ {
				m := &Meter{}
				page, err := s.List(WithMeter(context.Background(), m), q)
				if err != nil || len(page.Events) != 0 {
					b.Fatalf("List: %d events, %v; want none", len(page.Events), err)
				}
				read, _ := m.Units()
				most = max(most, read)
				if passes == 0 {
					requests++
					total += read
				}
				q.After = page.Next
				if page.Next == "" {
					passes++
				}
			}
			b.ReportMetric(most, "RCU-max/request")
			b.ReportMetric(float64(requests), "requests/pass")
			b.ReportMetric(total, "RCU/pass")
		})
	}

	// critical_of_20k and open_alarms_of_20k list the few events a
	// selective filter picks (one page, to its end).
	for _, tc := range []struct {
		name string
		q    Query
	}{
		{"critical_of_20k", Query{DeviceID: "robot-crit", Severities: []Severity{SeverityCritical}}},
		{"open_alarms_of_20k", Query{DeviceID: "robot-alarm", Severities: []Severity{SeverityWarning, SeverityError, SeverityCritical},
			States: []State{StateNew, StateAcknowledged}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.Limit = DefaultLimit
			m := &Meter{}
			ctx := WithMeter(context.Background(), m)
			for range b.N {
				page, err := s.List(ctx, q)
				if err != nil || len(page.Events) != 10 || page.Next != "" {
					b.Fatalf("List: %d events, next %q, %v; want the 10 and no next page", len(page.Events), page.Next, err)
				}
			}
			read, _ := m.Units()
			b.ReportMetric(read/float64(b.N), "RCU/op")
		})
	}

	// fleet_page100 reads pages of 100 events of the type across devices,
	// newest first: the first 20 pages in turn, each request on its own.
	b.Run("fleet_page100", func(b *testing.B) {
		m := &Meter{}
		ctx := WithMeter(context.Background(), m)
		q := Query{Types: []string{"get-greengrass-configurations"}, Limit: 100}
		for i := range b.N {
			if i%20 == 0 {
				q.After = ""
			}
			page, err := s.List(ctx, q)
			if err != nil || len(page.Events) != 100 {
				b.Fatalf("List: %d events, %v", len(page.Events), err)
			}
			q.After = page.Next
		}
		read, _ := m.Units()
		b.ReportMetric(read/float64(b.N), "RCU/op")
	})
}

// The aggregate benchmarks read a year of counters as a device and a type
// at DynamoDB's per-partition limit would leave them: every hour and every
// split of every day holding a seven-digit count (eight digits across the
// fleet), the largest items the counters can have. Writing them directly
// is the cheap way to a year of data; the items are what writes and
// compaction leave. The clock stands at benchNow: days before the 23rd are
// compacted (the watermarks say so), the 23rd to the 25th still sit in
// deltas and fleet shards, for fifty types of the device.
var (
	benchNow    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	benchDevice = "e8613951-216a-4ad7-85e3-dd963d0823c4"
	benchType   = "get-greengrass-configurations"
	// benchYear is a year of days before the watermark: the steady state.
	benchYear = time.Date(2025, 11, 22, 0, 0, 0, 0, time.UTC)
	// benchToday is a year ending today: it reads the recent sources too.
	benchToday = time.Date(2025, 11, 26, 0, 0, 0, 0, time.UTC)
)

const benchTypes = 50

func benchTypeName(i int) string {
	if i == 0 {
		return benchType
	}
	return fmt.Sprintf("%s-%02d", benchType, i)
}

// denseItem is a counter item with every hour and split counted; sources
// (deltas, fleet shards) carry a write count as well.
func denseItem(ref counterRef, fleet bool) map[string]types.AttributeValue {
	hour, split := "1234567", "617283"
	if fleet {
		hour, split = "17999999", "8999999"
	}
	item := key(ref.pk, ref.sk)
	for h := 0; h < 24; h++ {
		item[hourAttr(h)] = &types.AttributeValueMemberN{Value: hour}
	}
	for _, p := range splitPoints {
		item[splitAttr(p)] = &types.AttributeValueMemberN{Value: split}
	}
	if ref.moved() {
		item[versionAttr] = &types.AttributeValueMemberN{Value: "1234567"}
	}
	return item
}

func watermarkItem(l ledger, day time.Time) map[string]types.AttributeValue {
	item := key(l.watermark.pk, l.watermark.sk)
	item["day"] = &types.AttributeValueMemberS{Value: dayKey(day)}
	return item
}

// writeItems writes items 25 at a time.
func writeItems(tb testing.TB, c *dynamodb.Client, table string, items []map[string]types.AttributeValue) {
	tb.Helper()
	var reqs []types.WriteRequest
	for _, it := range items {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	batchWrite(tb, c, table, reqs)
}

// deleteItems deletes the items of the keys given, 25 at a time.
func deleteItems(tb testing.TB, c *dynamodb.Client, table string, keys []map[string]types.AttributeValue) {
	tb.Helper()
	var reqs []types.WriteRequest
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	batchWrite(tb, c, table, reqs)
}

// batchWrite sends reqs 25 at a time, and each batch's unprocessed items
// again until none is left.
func batchWrite(tb testing.TB, c *dynamodb.Client, table string, reqs []types.WriteRequest) {
	tb.Helper()
	for batch := range slices.Chunk(reqs, 25) {
		in := map[string][]types.WriteRequest{table: batch}
		for len(in) > 0 {
			out, err := c.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: in})
			if err != nil {
				tb.Fatal(err)
			}
			in = out.UnprocessedItems
		}
	}
}

// benchCounters are the items of the benchmark's device and type: folded
// items for the days [from, compacted), sources for [compacted, to].
func benchCounters(from, compacted, to time.Time) []map[string]types.AttributeValue {
	var items []map[string]types.AttributeValue
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if d.Before(compacted) {
			items = append(items,
				denseItem(counterRef{hashedPK(perTypePrefix, benchDevice), perTypeSK(benchType, d)}, false),
				denseItem(counterRef{hashedPK(devicePrefix, benchDevice), dayKey(d)}, false),
				denseItem(counterRef{hashedPK(rollupPrefix, benchType), dayKey(d)}, true))
			continue
		}
		for i := range benchTypes {
			items = append(items, denseItem(counterRef{hashedPK(deltaPrefix, benchDevice), deltaSK(d, benchTypeName(i))}, false))
		}
		for shard := range Shards {
			items = append(items, denseItem(counterRef{fleetPK(shard, benchType), dayKey(d)}, true))
		}
	}
	return items
}

func seedAggregates(b *testing.B, s *Store, c *dynamodb.Client) {
	compacted := benchNow.Truncate(24*time.Hour).AddDate(0, 0, -2)
	items := benchCounters(benchYear.AddDate(0, 0, -3), compacted, benchNow)
	items = append(items, watermarkItem(deviceLedger(benchDevice), compacted), watermarkItem(fleetLedger(benchType), compacted))
	writeItems(b, c, s.table, items)
	b.Logf("a dense counter item is %d bytes (%d across the fleet)", itemSize(items[0]), itemSize(items[2]))
}

func BenchmarkAggregate(b *testing.B) {
	s := seeded(b, "dense", Options{Now: fixedClock(benchNow)}, func(s *Store, c *dynamodb.Client) { seedAggregates(b, s, c) })
	zone := func(name string) *time.Location {
		loc, err := zoneinfo.Load(name)
		if err != nil {
			b.Fatal(err)
		}
		return loc
	}
	device, fleet := AggregateQuery{DeviceID: benchDevice}, AggregateQuery{}
	year := func(q AggregateQuery, from time.Time, loc *time.Location) AggregateQuery {
		q.Interval, q.From, q.To, q.Location = Day, from, from.AddDate(1, 0, 0), loc
		q.Types = []string{benchType}
		return q
	}
	alltypes := func(from time.Time) AggregateQuery {
		q := year(device, from, nil)
		q.Types = nil
		return q
	}
	cases := []struct {
		name string
		q    AggregateQuery
	}{
		{"year_daily_utc", year(device, benchYear, nil)},
		{"year_daily_amsterdam", year(device, benchYear, zone("Europe/Amsterdam"))},
		{"year_daily_kolkata", year(device, benchYear, zone("Asia/Kolkata"))},
		{"year_daily_to_today", year(device, benchToday, nil)},
		{"day_hourly", AggregateQuery{DeviceID: benchDevice, Types: []string{benchType}, Interval: Hour, From: benchYear.AddDate(0, 3, 0), To: benchYear.AddDate(0, 3, 1)}},
		{"device_alltypes_year_50types", alltypes(benchYear)},
		{"device_alltypes_year_50types_to_today", alltypes(benchToday)},
		{"fleet_year_daily", year(fleet, benchYear, nil)},
		{"fleet_year_daily_kolkata", year(fleet, benchYear, zone("Asia/Kolkata"))},
		{"fleet_year_daily_to_today", year(fleet, benchToday, nil)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			m := &Meter{}
			ctx := WithMeter(context.Background(), m)
			for i := 0; i < b.N; i++ {
				res, err := s.Aggregate(ctx, tc.q)
				if err != nil || res.Total == 0 {
					b.Fatalf("Aggregate: %d, %v", res.Total, err)
				}
			}
			read, write := m.Units()
			if write != 0 {
				b.Fatalf("a steady-state read wrote %v units", write)
			}
			b.ReportMetric(read/float64(b.N), "RCU/op")
		})
	}
}

// BenchmarkAggregateFirstRead is the first read of a day: the day that
// just closed (the 22nd, for fifty types of the device, and eight fleet
// shards of the type) is compacted by it. Its read units include the
// strongly consistent reads of what it moves; its write units (billed by
// the service's rules, capacity_test.go) are the moves and the watermark.
func BenchmarkAggregateFirstRead(b *testing.B) {
	c := ddbtest.Client(b)
	bill := &billed{Client: c}
	s := New(bill, ddbtest.Table(b, c, tableDef), keepForever(Options{Now: fixedClock(benchNow)}))
	closed := benchNow.Truncate(24*time.Hour).AddDate(0, 0, -3)
	writeItems(b, c, s.table, benchCounters(benchYear.AddDate(0, 0, -3), closed, benchNow))
	// What compaction of the closed day writes, to take away between runs.
	var moved []map[string]types.AttributeValue
	for i := range benchTypes {
		moved = append(moved, key(hashedPK(perTypePrefix, benchDevice), perTypeSK(benchTypeName(i), closed)))
	}
	moved = append(moved, key(hashedPK(devicePrefix, benchDevice), dayKey(closed)), key(hashedPK(rollupPrefix, benchType), dayKey(closed)))
	device, fleet := AggregateQuery{DeviceID: benchDevice, Interval: Day, From: benchToday, To: benchToday.AddDate(1, 0, 0)}, AggregateQuery{Types: []string{benchType}, Interval: Day, From: benchToday, To: benchToday.AddDate(1, 0, 0)}
	cases := []struct {
		name string
		q    AggregateQuery
	}{
		{"device_alltypes_year_50types", device},
		{"fleet_year_daily", fleet},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			m := &Meter{}
			ctx := WithMeter(context.Background(), m)
			var billedWrites float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// The closed day back in its sources, its targets and the
				// watermarks as they were.
				reset := benchCounters(closed, closed, closed)
				reset = append(reset, watermarkItem(deviceLedger(benchDevice), closed), watermarkItem(fleetLedger(benchType), closed))
				writeItems(b, c, s.table, reset)
				deleteItems(b, c, s.table, moved)
				bill.mu.Lock()
				before := bill.write
				bill.mu.Unlock()
				b.StartTimer()
				res, err := s.Aggregate(ctx, tc.q)
				if err != nil || res.Total == 0 {
					b.Fatalf("Aggregate: %d, %v", res.Total, err)
				}
				bill.mu.Lock()
				billedWrites += bill.write - before
				bill.mu.Unlock()
				if w, _ := s.watermark(context.Background(), deviceLedger(benchDevice)); tc.q.DeviceID != "" && w != dayKey(closed.AddDate(0, 0, 1)) {
					b.Fatalf("the device's watermark is %s after the read, want the day after %s", w, dayKey(closed))
				}
			}
			read, _ := m.Units()
			b.ReportMetric(read/float64(b.N), "RCU/op")
			b.ReportMetric(billedWrites/float64(b.N), "WCU/op")
		})
	}
}

// BenchmarkAggregateVsNaive counts a week of one event a minute both ways:
// by querying the events and counting them, and from the counters.
func BenchmarkAggregateVsNaive(b *testing.B) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	const events = 7 * 24 * 60
	// The clock stands three days after the week: its days are closed.
	s := seeded(b, "week", Options{Now: fixedClock(start.AddDate(0, 0, 10))}, func(s *Store, _ *dynamodb.Client) {
		var batch []NewEvent
		for i := 0; i < events; i++ {
			ev := deLaval("robot-1")
			ev.Time = start.Add(time.Duration(i) * time.Minute)
			batch = append(batch, ev)
			if len(batch) == MaxBatch || i == events-1 {
				if _, err := s.Put(ctx, PutRequest{Events: batch}); err != nil {
					b.Fatal(err)
				}
				batch = nil
			}
		}
	})
	c := s.db.(*dynamodb.Client)
	lo, hi := idBounds(start, start.AddDate(0, 0, 7))
	naive := func(ctx context.Context) (int, float64) {
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
			FilterExpression:          aws.String("#t = :t"),
			ExpressionAttributeNames:  map[string]string{"#t": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: eventPK("robot-1")}, ":lo": &types.AttributeValueMemberS{Value: lo}, ":hi": &types.AttributeValueMemberS{Value: hi}, ":t": &types.AttributeValueMemberS{Value: "get-greengrass-configurations"}},
			Select:                    types.SelectCount,
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
		}
		n, rcu := 0, 0.0
		for {
			out, err := c.Query(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			n += int(out.Count)
			rcu += *out.ConsumedCapacity.CapacityUnits
			if out.LastEvaluatedKey == nil {
				return n, rcu
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	q := AggregateQuery{DeviceID: "robot-1", Types: []string{"get-greengrass-configurations"}, Interval: Hour, From: start, To: start.AddDate(0, 0, 7)}
	var naiveTime, counterTime time.Duration
	var naiveRCU float64
	m := &Meter{}
	mctx := WithMeter(ctx, m)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		n, rcu := naive(ctx)
		naiveTime += time.Since(t)
		naiveRCU += rcu
		t = time.Now()
		res, err := s.Aggregate(mctx, q)
		counterTime += time.Since(t)
		if err != nil || int(res.Total) != n || n != events {
			b.Fatalf("naive count %d, counters %d (%v), want %d", n, res.Total, err, events)
		}
	}
	b.StopTimer()
	counterRCU, _ := m.Units()
	b.ReportMetric(naiveRCU/float64(b.N), "naive-RCU/op")
	b.ReportMetric(counterRCU/float64(b.N), "counter-RCU/op")
	b.ReportMetric(naiveRCU/counterRCU, "RCU-ratio")
	b.ReportMetric(float64(naiveTime)/float64(counterTime), "time-ratio")
}

// The write path builds counter keys in one buffer each (keys.go), where
// they once were concatenations of the plain forms below; stored counters
// carry those keys, so the two must agree.
func TestCounterKeysKeepTheirForm(t *testing.T) {
	plainHash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:hashLen]
	}
	at := time.Date(2026, 11, 22, 23, 59, 0, 0, time.FixedZone("UTC-1", -3600))
	for _, s := range []string{"", "d", "e8613951-216a-4ad7-85e3-dd963d0823c4", "get-greengrass-configurations", strings.Repeat("é", 200)} {
		if got, want := keyHash(s), plainHash(s); got != want {
			t.Errorf("keyHash(%q) = %q, want %q", s, got, want)
		}
		for _, prefix := range []string{deltaPrefix, perTypePrefix, devicePrefix, rollupPrefix} {
			if got, want := hashedPK(prefix, s), prefix+plainHash(s); got != want {
				t.Errorf("hashedPK(%q, %q) = %q, want %q", prefix, s, got, want)
			}
		}
		if got, want := deltaSK(at, s), at.UTC().Format(dayLayout)+plainHash(s); got != want {
			t.Errorf("deltaSK(%q) = %q, want %q", s, got, want)
		}
		if got, want := perTypeSK(s, at), plainHash(s)+at.UTC().Format(dayLayout); got != want {
			t.Errorf("perTypeSK(%q) = %q, want %q", s, got, want)
		}
		for shard := range Shards {
			if got, want := fleetPK(shard, s), fleetPrefix+shardName(shard)+plainHash(s); got != want {
				t.Errorf("fleetPK(%d, %q) = %q, want %q", shard, s, got, want)
			}
		}
	}
}

// Counter updates come from a cache of built expressions (store.go); each
// must be what the expression package builds for its deltas, the first
// time and from the cache.
func TestCachedCounterUpdatesAreTheBuiltOnes(t *testing.T) {
	c := &exprCache{m: map[string]cachedExpr{}}
	for _, delta := range []map[string]int64{{"k": 1}, {"k": 2}, {"k": 1, "K2": 1}, {"a": -3, "b": 25, "S1": 4}, {"x": 1}} {
		var upd expression.UpdateBuilder
		for _, a := range sortedKeys(delta) {
			upd = upd.Add(expression.Name(a), expression.Value(delta[a]))
		}
		want, err := expression.NewBuilder().WithUpdate(upd).Build()
		if err != nil {
			t.Fatal(err)
		}
		for _, when := range []string{"built", "cached"} {
			got, err := c.add(delta)
			if err != nil {
				t.Fatal(err)
			}
			if *got.update != *want.Update() || !reflect.DeepEqual(got.names, want.Names()) || !reflect.DeepEqual(got.values, want.Values()) {
				t.Errorf("%v, %s: got %s %v %v, want %s %v %v", delta, when, *got.update, got.names, got.values, *want.Update(), want.Names(), want.Values())
			}
		}
	}
}

// BenchmarkPageNumbers is what the dialects' page numbers and totals cost
// on a device with 20 000 events of about 1 KB over 20 days, written by Put
// (so with their counters): page 100 of 100 events (Skip to the 10 000th,
// then the page) and the total (Count), at steady state (the closed days'
// counters already compacted by a first read). naive-RCU/op is what reading
// the 10 000 events before the page costs, the way to a page number
// without counters; the floor of the page is its own 100 events (12 RCU,
// list.page100.rcu).
func BenchmarkPageNumbers(b *testing.B) {
	const device, events, page = "robot-pages", 20_000, 100
	now := benchNow
	s := seeded(b, "pages", Options{Now: fixedClock(now)}, func(s *Store, _ *dynamodb.Client) {
		start := time.Now()
		var wg sync.WaitGroup
		batches := make(chan []NewEvent)
		for range 8 {
			wg.Go(func() {
				for batch := range batches {
					if _, err := s.Put(context.Background(), PutRequest{Events: batch}); err != nil {
						b.Error(err)
					}
				}
			})
		}
		step := 20 * 24 * time.Hour / events
		for i := 0; i < events; i += 25 {
			var batch []NewEvent
			for j := i; j < i+25; j++ {
				batch = append(batch, NewEvent{DeviceID: device, Type: benchType, Status: "Failed", Text: oneKB,
					Time: now.Add(-time.Duration(j+1) * step)})
			}
			batches <- batch
		}
		close(batches)
		wg.Wait()
		b.Logf("put %d events in %v", events, time.Since(start).Round(time.Millisecond))
	})
	q := Query{DeviceID: device, Types: []string{benchType}, Limit: page}
	ctx := context.Background()
	pageAt := func(ctx context.Context, n int64) (Page, int64) {
		after, total, err := s.Skip(ctx, q, n)
		if err != nil {
			b.Fatal(err)
		}
		pq := q
		pq.After = after
		p, err := s.List(ctx, pq)
		if err != nil || len(p.Events) != page {
			b.Fatalf("List after Skip: %d events, %v; want %d", len(p.Events), err, page)
		}
		return p, total
	}
	if _, total := pageAt(ctx, 100*page); total != events { // compacts the closed days
		b.Fatalf("Skip's total %d, want %d", total, events)
	}
	b.Run("page100_of_20k", func(b *testing.B) {
		m := &Meter{}
		for i := 0; i < b.N; i++ {
			pageAt(WithMeter(ctx, m), 100*page)
		}
		read, write := m.Units()
		if write != 0 {
			b.Fatalf("a steady-state page wrote %v units", write)
		}
		naive := &Meter{}
		nq := q
		nq.Limit = MaxLimit
		for seen := 0; seen < 100*page; {
			p, err := s.List(WithMeter(ctx, naive), nq)
			if err != nil {
				b.Fatal(err)
			}
			seen += len(p.Events)
			nq.After = p.Next
		}
		naiveRead, _ := naive.Units()
		b.ReportMetric(read/float64(b.N), "RCU/op")
		b.ReportMetric(naiveRead, "naive-RCU/op")
	})
	b.Run("count_20k", func(b *testing.B) {
		m := &Meter{}
		for i := 0; i < b.N; i++ {
			if n, err := s.Count(WithMeter(ctx, m), q); err != nil || n != events {
				b.Fatalf("Count = %d, %v; want %d", n, err, events)
			}
		}
		read, _ := m.Units()
		b.ReportMetric(read/float64(b.N), "RCU/op")
	})
}

package eventstore

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetlog/device-events/pkg/zoneinfo"
)

// zoneNames lists the zones of Go's time zone database.
func zoneNames(t *testing.T) []string {
	t.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	zr, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(goroot)), "lib/time/zoneinfo.zip"))
	if err != nil {
		t.Fatalf("Go's zoneinfo.zip: %v", err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			names = append(names, f.Name)
		}
	}
	return names
}

// TestSplitPointsCoverZones derives the split points from the time zone
// database: every minute of the UTC day at which some zone's local midnight
// fell since 2010, or will fall by 2100, that is not a whole hour. The
// list in counters.go must be exactly those.
func TestSplitPointsCoverZones(t *testing.T) {
	start := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	quarter := map[int]bool{}
	var odd []string
	for _, name := range zoneNames(t) {
		loc, err := zoneinfo.Load(name)
		if err != nil {
			continue
		}
		for at := start; at.Before(end); {
			_, off := at.In(loc).Zone()
			if off%3600 != 0 {
				sod := ((-off)%86400 + 86400) % 86400
				if sod%900 == 0 {
					quarter[sod/60] = true
				} else if !slices.Contains(odd, name) {
					odd = append(odd, name)
					t.Errorf("%s in %d starts days at %02d:%02d:%02d UTC, no quarter hour", name, at.Year(), sod/3600, sod%3600/60, sod%60)
				}
			}
			_, next := at.In(loc).ZoneBounds()
			if next.IsZero() || !next.After(at) {
				break
			}
			at = next
		}
	}
	var got []int
	for m := range quarter {
		got = append(got, m)
	}
	sort.Ints(got)
	if !slices.Equal(got, splitPoints) {
		t.Fatalf("split points from the zone database = %v\nwant (counters.go) %v", got, splitPoints)
	}
	t.Logf("%d split points", len(got))
}

// TestFleetCountersTakeAtMostAThousandWritesASecond puts one type at 5 000
// events a second through the shard choice the store makes per write:
// singly, every event is a counter write; in batches, a batch is one.
func TestFleetCountersTakeAtMostAThousandWritesASecond(t *testing.T) {
	for _, batch := range []int{1, 25, 100} {
		t.Run(fmt.Sprintf("in batches of %d", batch), func(t *testing.T) {
			writes := map[string]int{} // counter item -> writes in the second
			events := map[string]int{} // index partition -> events in the second
			for sent := 0; sent < 5000; sent += batch {
				shard := newShard()
				writes[fleetPK(shard, "door_opened")]++
				events[typeIndexPartition("door_opened", shard)] += batch
			}
			most := 0
			for _, n := range writes {
				most = max(most, n)
			}
			// A transactional update of a counter item (under 1 KB) is 2
			// write units, and a partition takes 1 000 a second.
			if most > 1000 || 2*most > 1000 {
				t.Fatalf("the busiest counter item takes %d writes/s (%d write units/s), want at most 1000 of each", most, 2*most)
			}
			if batch == 1 && (len(writes) != Shards || most > 2*5000/Shards) {
				t.Fatalf("%d counter items, busiest %d writes/s; want all %d used, none over twice the mean", len(writes), most, Shards)
			}
			t.Logf("busiest counter item %d writes/s (%d write units/s); busiest index partition %d events/s", most, 2*most, maxOf(events))
		})
	}
}

func maxOf(m map[string]int) int {
	most := 0
	for _, n := range m {
		most = max(most, n)
	}
	return most
}

func TestBucketBoundsFollowLocalDays(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := zoneinfo.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	cases := []struct {
		name  string
		zone  string
		day   string
		hours float64
		start string
	}{
		{"a spring-forward day has 23 hours", "Europe/Amsterdam", "2026-03-29", 23, "2026-03-28T23:00:00Z"},
		{"a fall-back day has 25 hours", "Europe/Amsterdam", "2026-10-25", 25, "2026-10-24T22:00:00Z"},
		{"a Kolkata day starts at 18:30 UTC", "Asia/Kolkata", "2026-11-22", 24, "2026-11-21T18:30:00Z"},
		{"a Kathmandu day starts at 18:15 UTC", "Asia/Kathmandu", "2026-11-22", 24, "2026-11-21T18:15:00Z"},
		{"Lord Howe moves by half an hour", "Australia/Lord_Howe", "2026-10-04", 23.5, "2026-10-03T13:30:00Z"},
		{"a day that skips midnight starts at the change", "America/Santiago", "2026-09-06", 23, "2026-09-06T04:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loc := load(tc.zone)
			day, _ := time.ParseInLocation("2006-01-02", tc.day, loc)
			b, err := bucketBounds(Day, day.Add(time.Hour), day.Add(2*time.Hour), loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != 2 {
				t.Fatalf("%d bounds, want 2", len(b))
			}
			if got := b[0].Format(time.RFC3339); got != tc.start {
				t.Errorf("day starts %s, want %s", got, tc.start)
			}
			if got := b[1].Sub(b[0]).Hours(); got != tc.hours {
				t.Errorf("day lasts %v hours, want %v", got, tc.hours)
			}
		})
	}
	if _, err := bucketBounds(Hour, time.Unix(0, 0), time.Unix(0, 0).Add(10001*time.Hour), nil); !errors.Is(err, ErrTooManyBuckets) {
		t.Errorf("10 001 hours: %v, want ErrTooManyBuckets", err)
	}
	if b, err := bucketBounds(Hour, time.Unix(0, 0), time.Unix(0, 0).Add(10000*time.Hour), nil); err != nil || len(b) != 10001 {
		t.Errorf("10 000 hours: %d bounds, %v; want 10 001 bounds", len(b), err)
	}
}

// bruteForce counts times into buckets the slow, obvious way.
func bruteForce(times []time.Time, bounds []time.Time) AggregateResult {
	var res AggregateResult
	for i := 1; i < len(bounds); i++ {
		var n int64
		for _, t := range times {
			if !t.Before(bounds[i-1]) && t.Before(bounds[i]) {
				n++
			}
		}
		if n > 0 {
			res.Buckets = append(res.Buckets, Bucket{Start: bounds[i-1], Count: n})
			res.Total += n
		}
	}
	return res
}

func TestAggregatesEqualABruteForceCountInEveryZone(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s, _ := newTestStore(t, Options{Now: fixedClock(now)})
	rng := mrand.New(mrand.NewPCG(1, 2))
	// 400 events over 40 days around the 2026 DST changes and on the
	// quarter hours where fractional zones start their days.
	begin := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	var doors, all, other []time.Time
	var batch []NewEvent
	for i := 0; i < 400; i++ {
		at := begin.Add(time.Duration(rng.Int64N(int64(40 * 24 * time.Hour)))).Truncate(time.Millisecond)
		if i%5 == 0 { // right on or next to a split point
			at = time.Date(at.Year(), at.Month(), at.Day(), 18, 14+rng.IntN(3)+15*rng.IntN(2), 59+rng.IntN(2), 0, time.UTC)
			at = at.Add(time.Duration(rng.IntN(2)) * 999 * time.Millisecond)
		}
		typ, dev := "door", "robot-1"
		switch i % 3 {
		case 1:
			typ = "milk"
		case 2:
			dev = "robot-2"
		}
		batch = append(batch, NewEvent{DeviceID: dev, Type: typ, Time: at})
		if dev == "robot-1" {
			all = append(all, at)
			if typ == "door" {
				doors = append(doors, at)
			}
		} else {
			other = append(other, at)
		}
		if len(batch) == MaxBatch {
			mustPut(t, s, batch...)
			batch = nil
		}
	}
	fleetDoors := append(slices.Clone(doors), other...)
	queries := []struct {
		name  string
		q     AggregateQuery
		times []time.Time
	}{
		{"one device and type", AggregateQuery{DeviceID: "robot-1", Types: []string{"door"}}, doors},
		{"one device, two types", AggregateQuery{DeviceID: "robot-1", Types: []string{"door", "milk"}}, all},
		{"one device, every type", AggregateQuery{DeviceID: "robot-1"}, all},
		{"every device, one type", AggregateQuery{Types: []string{"door"}}, fleetDoors},
	}
	zones := []string{"UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns", "Pacific/Chatham"}
	for _, qc := range queries {
		for _, zone := range zones {
			loc, _ := zoneinfo.Load(zone)
			for _, iv := range []Interval{Hour, Day} {
				if iv == Hour && zone != "UTC" {
					continue
				}
				t.Run(fmt.Sprintf("%s by %s in %s", qc.name, iv, zone), func(t *testing.T) {
					q := qc.q
					q.Interval, q.Location = iv, loc
					q.From, q.To = begin.Add(-24*time.Hour), begin.Add(42*24*time.Hour)
					got, err := s.Aggregate(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					bounds, _ := bucketBounds(iv, q.From, q.To, loc)
					want := bruteForce(qc.times, bounds)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("got total %d in %d buckets, want %d in %d\n got %v\nwant %v", got.Total, len(got.Buckets), want.Total, len(want.Buckets), got.Buckets, want.Buckets)
					}
				})
			}
		}
	}
}

func TestCountsStayExactAfterRetriesAndDeletes(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	ctx := context.Background()
	count := func() int64 {
		t.Helper()
		res, err := s.Aggregate(ctx, AggregateQuery{DeviceID: "d", Types: []string{"t"}, Interval: Hour, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Total
	}
	ev := NewEvent{DeviceID: "d", Type: "t", IdempotencyKey: "once"}
	first := mustPut(t, s, ev)
	for i := 0; i < 3; i++ {
		mustPut(t, s, ev)
	}
	other := mustPut(t, s, NewEvent{DeviceID: "d", Type: "t"})
	if got := count(); got != 2 {
		t.Fatalf("after a put retried 3 times and another put: %d, want 2", got)
	}
	if err := s.Delete(ctx, "d", first.Events[0].ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d", first.Events[0].ID, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if got := count(); got != 1 {
		t.Fatalf("after deleting one (twice): %d, want 1", got)
	}
	_ = other
}

func TestAggregateRefusesZonesItCannotSplit(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	for _, tc := range []struct {
		zone string
		year int
	}{{"Africa/Monrovia", 1971}, {"Asia/Singapore", 1980}, {"Pacific/Pitcairn", 1995}} {
		loc, _ := zoneinfo.Load(tc.zone)
		_, err := s.Aggregate(context.Background(), AggregateQuery{DeviceID: "d", Interval: Day, Location: loc,
			From: time.Date(tc.year, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(tc.year, 1, 3, 0, 0, 0, 0, time.UTC)})
		if !errors.Is(err, ErrUnsupportedZone) {
			t.Errorf("%s in %d: %v, want ErrUnsupportedZone", tc.zone, tc.year, err)
		}
	}
}

// testClock is a clock tests move by hand; stores may share one.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *testClock) skewed(d time.Duration) func() time.Time {
	return func() time.Time { return c.Now().Add(d) }
}

// model is what the store should hold: each stored event's device, type
// and time, by id.
type model struct {
	mu     sync.Mutex
	events map[string]Event
}

func newModel() *model { return &model{events: map[string]Event{}} }

func (m *model) add(evs ...Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range evs {
		m.events[e.ID] = e
	}
}

func (m *model) remove(ids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		delete(m.events, id)
	}
}

// times lists the times of the events a query counts.
func (m *model) times(q AggregateQuery) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Time
	for _, e := range m.events {
		if (q.DeviceID == "" || e.DeviceID == q.DeviceID) && (len(q.Types) == 0 || slices.Contains(q.Types, e.Type)) {
			out = append(out, e.Time)
		}
	}
	return out
}

// aggregate asks until the store answers: a read over its budget
// compacts a share and answers ErrCompacting.
func aggregate(t *testing.T, s *Store, q AggregateQuery) AggregateResult {
	t.Helper()
	for range 200 {
		res, err := s.Aggregate(context.Background(), q)
		if errors.Is(err, ErrCompacting) {
			continue
		}
		if err != nil {
			t.Fatalf("Aggregate(%+v): %v", q, err)
		}
		return res
	}
	t.Fatalf("Aggregate(%+v): still compacting after 200 tries", q)
	return AggregateResult{}
}

var (
	allZones  = []string{"UTC", "Europe/Amsterdam", "Asia/Kolkata", "Asia/Kathmandu"}
	someZones = []string{"UTC", "Asia/Kolkata"}
)

// checkCounts compares every shape of aggregate over [from, to) with a
// brute-force count of the model: by hour, and by day in zones.
func checkCounts(t *testing.T, s *Store, m *model, from, to time.Time, zones []string, when string) {
	t.Helper()
	shapes := []AggregateQuery{
		{DeviceID: "d1", Types: []string{"door"}},
		{DeviceID: "d1", Types: []string{"door", "milk"}},
		{DeviceID: "d1"},
		{DeviceID: "d2"},
		{Types: []string{"door"}},
		{Types: []string{"milk", "gate"}},
	}
	for _, shape := range shapes {
		for _, zone := range zones {
			loc, _ := zoneinfo.Load(zone)
			for _, iv := range []Interval{Hour, Day} {
				if iv == Hour && zone != "UTC" {
					continue
				}
				q := shape
				q.Interval, q.Location, q.From, q.To = iv, loc, from, to
				got := aggregate(t, s, q)
				bounds, err := bucketBounds(iv, from, to, loc)
				if err != nil {
					t.Fatal(err)
				}
				if want := bruteForce(m.times(q), bounds); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s: device %q types %v by %s in %s: got total %d in %d buckets, want %d in %d\n got %v\nwant %v",
						when, shape.DeviceID, shape.Types, iv, zone, got.Total, len(got.Buckets), want.Total, len(want.Buckets), got.Buckets, want.Buckets)
				}
			}
		}
	}
}

// TestCountsStayExactThroughWritesDeletesAndCompaction runs a random mix
// of puts (recent and late, keyed and not), retries, deletes, bulk deletes
// and reads (which compact) while the clock crosses midnight after
// midnight, through three stores whose clocks disagree by up to 20 hours,
// and checks every count against the events stored at every step.
func TestCountsStayExactThroughWritesDeletesAndCompaction(t *testing.T) {
	start := time.Date(2026, 3, 25, 21, 0, 0, 0, time.UTC) // Amsterdam's spring forward is the 29th
	clock := newTestClock(start)
	s, c := newTestStore(t, Options{Now: clock.Now})
	behind := New(c, s.table, keepForever(Options{Now: clock.skewed(-10 * time.Hour)}))
	ahead := New(c, s.table, keepForever(Options{Now: clock.skewed(10 * time.Hour)}))
	for _, st := range []*Store{s, behind, ahead} {
		st.compactBudget = 7 // moves span several reads
	}
	stores := []*Store{s, behind, ahead}
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(3, 4))
	m := newModel()
	type keyed struct {
		req PutRequest
		ids []string
	}
	var sent []keyed
	devices, kinds := []string{"d1", "d2"}, []string{"door", "milk", "gate"}
	for step := range 100 {
		clock.Add(time.Duration(rng.Int64N(int64(9 * time.Hour))))
		now := clock.Now()
		w := stores[rng.IntN(len(stores))]
		switch op := rng.IntN(10); {
		case op < 4: // a put: 1 to 6 events from six days ago to tomorrow
			req := PutRequest{}
			dev := devices[rng.IntN(2)]
			for range 1 + rng.IntN(6) {
				at := now.Add(-time.Duration(rng.Int64N(int64(6 * 24 * time.Hour)))).Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
				req.Events = append(req.Events, NewEvent{DeviceID: dev, Type: kinds[rng.IntN(3)], Time: at.Truncate(time.Millisecond)})
			}
			switch rng.IntN(3) {
			case 0:
				req.RequestKey = fmt.Sprintf("batch-%d", step)
			case 1:
				for i := range req.Events {
					req.Events[i].IdempotencyKey = fmt.Sprintf("event-%d-%d", step, i)
				}
			}
			res, err := w.Put(ctx, req)
			if err != nil {
				t.Fatalf("step %d: Put: %v", step, err)
			}
			m.add(res.Events...)
			if req.RequestKey != "" || req.Events[0].IdempotencyKey != "" {
				k := keyed{req: req}
				for _, e := range res.Events {
					k.ids = append(k.ids, e.ID)
				}
				sent = append(sent, k)
			}
		case op < 5 && len(sent) > 0: // a retry of a keyed put
			k := sent[rng.IntN(len(sent))]
			res, err := w.Put(ctx, k.req)
			m.mu.Lock()
			gone := slices.ContainsFunc(k.ids, func(id string) bool { _, ok := m.events[id]; return !ok })
			m.mu.Unlock()
			switch {
			case gone && !errors.Is(err, ErrKeyedEventsDeleted):
				t.Fatalf("step %d: a retry after a delete: %v, want ErrKeyedEventsDeleted", step, err)
			case !gone && err != nil:
				t.Fatalf("step %d: a retry: %v", step, err)
			case !gone:
				for i, e := range res.Events {
					if e.ID != k.ids[i] || res.Created[i] {
						t.Fatalf("step %d: a retry answered %s (created %v), want the stored %s", step, e.ID, res.Created[i], k.ids[i])
					}
				}
			}
		case op < 7: // a delete of one event
			m.mu.Lock()
			var victim Event
			for _, e := range m.events {
				if victim.ID == "" || e.ID < victim.ID == (rng.IntN(2) == 0) {
					victim = e
				}
			}
			m.mu.Unlock()
			if victim.ID == "" {
				continue
			}
			if err := w.Delete(ctx, victim.DeviceID, victim.ID, 0); err != nil {
				t.Fatalf("step %d: Delete: %v", step, err)
			}
			m.remove(victim.ID)
		case op < 8: // a bulk delete of a type over a day and a half
			q := Query{DeviceID: devices[rng.IntN(2)], Types: []string{kinds[rng.IntN(3)]}, From: now.Add(-4 * 24 * time.Hour), To: now.Add(-36 * time.Hour)}
			items, _, err := w.listItems(ctx, Query{DeviceID: q.DeviceID, Types: q.Types, From: q.From, To: q.To, Ascending: true, Limit: MaxBulkDelete})
			if err != nil {
				t.Fatal(err)
			}
			res, err := w.DeleteMatching(ctx, q, false)
			if err != nil || res.Deleted != len(items) {
				t.Fatalf("step %d: DeleteMatching: %d, %v; want %d", step, res.Deleted, err, len(items))
			}
			for _, it := range items {
				m.remove(it.SK)
			}
		default: // a read, which compacts what has closed
			checkCounts(t, w, m, start.AddDate(0, 0, -7), now.Add(48*time.Hour), someZones, fmt.Sprintf("step %d", step))
		}
	}
	checkCounts(t, s, m, start.AddDate(0, 0, -7), clock.Now().Add(48*time.Hour), allZones, "at the end")
	// Past every margin, a read compacts everything: the counts hold, and
	// nothing is left to move.
	clock.Add(4 * 24 * time.Hour)
	checkCounts(t, s, m, start.AddDate(0, 0, -7), clock.Now(), allZones, "after the last compaction")
	if n := countItems(t, c, s.table, deltaPrefix, fleetPrefix); n != 0 {
		t.Fatalf("%d deltas and fleet shards left after every day closed and was read, want 0", n)
	}
	t.Logf("%d events stored at the end", len(m.events))
}

// countItems counts the items whose partition key starts with one of the
// prefixes.
func countItems(t *testing.T, c *dynamoClient, table string, prefixes ...string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			pk := it[PartitionKey].(*types.AttributeValueMemberS).Value
			if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(pk, p) }) {
				n++
			}
		}
	}
	return n
}

// TestAFirstReadOfANeverReadDeviceTakesAFewRequests: a month of deltas
// that no read compacted is more than one request may read; each read
// compacts a share and answers ErrCompacting until the rest fits, and the
// counts are exact then.
func TestAFirstReadOfANeverReadDeviceTakesAFewRequests(t *testing.T) {
	clock := newTestClock(time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC))
	s, _ := newTestStore(t, Options{Now: clock.Now})
	m := newModel()
	start := clock.Now()
	for range 30 { // every day, an event of each of three types, written that day
		for _, typ := range []string{"door", "milk", "gate"} {
			m.add(mustPut(t, s, NewEvent{DeviceID: "d1", Type: typ}).Events...)
		}
		clock.Add(24 * time.Hour)
	}
	s.aggregateBudget, s.compactBudget = 20, 25
	q := AggregateQuery{DeviceID: "d1", Interval: Day, From: start.AddDate(0, 0, -1), To: clock.Now().AddDate(0, 0, 1)}
	answers := 0
	for {
		res, err := s.Aggregate(context.Background(), q)
		if errors.Is(err, ErrCompacting) {
			answers++
			if answers > 5 {
				t.Fatalf("still ErrCompacting after %d reads; 90 deltas at 25 a read take 3 or 4", answers)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		bounds, _ := bucketBounds(Day, q.From, q.To, nil)
		if want := bruteForce(m.times(q), bounds); fmt.Sprint(res) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v", res, want)
		}
		break
	}
	if answers == 0 {
		t.Fatalf("the first read answered at once; want ErrCompacting while more than 20 deltas were left")
	}
	t.Logf("%d reads answered ErrCompacting first", answers)
}

// TestWritersDuringCompactionLoseAndDoubleNothing: ten days of deltas are
// compacted by readers in small moves while writers put late events into
// the same days (the moves' targets), put recent ones and delete, all at
// once.
func TestWritersDuringCompactionLoseAndDoubleNothing(t *testing.T) {
	clock := newTestClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	s, _ := newTestStore(t, Options{Now: clock.Now})
	s.compactBudget = 6
	m := newModel()
	first := clock.Now()
	var victims []Event
	for range 10 {
		for _, dev := range []string{"d1", "d2"} {
			res := mustPut(t, s, NewEvent{DeviceID: dev, Type: "door"}, NewEvent{DeviceID: dev, Type: "milk"}, NewEvent{DeviceID: dev, Type: "gate"})
			m.add(res.Events...)
			victims = append(victims, res.Events[0])
		}
		clock.Add(24 * time.Hour)
	}
	ctx := context.Background()
	var g errgroup.Group
	for _, q := range []AggregateQuery{{DeviceID: "d1"}, {DeviceID: "d2", Types: []string{"door"}}, {Types: []string{"door"}}, {Types: []string{"milk"}}} {
		q.Interval, q.From, q.To = Day, first.AddDate(0, 0, -1), clock.Now()
		g.Go(func() error {
			for range 6 { // each read moves a share
				if _, err := s.Aggregate(ctx, q); err != nil && !errors.Is(err, ErrCompacting) {
					return err
				}
			}
			return nil
		})
	}
	for w := range 2 {
		g.Go(func() error {
			for i := range 15 {
				at := first.Add(time.Duration(i*13+w) * time.Hour) // late: days being compacted
				if i%3 == 0 {
					at = clock.Now().Add(-time.Duration(i) * time.Minute) // recent
				}
				res, err := s.Put(ctx, PutRequest{Events: []NewEvent{{DeviceID: []string{"d1", "d2"}[w], Type: "door", Time: at}}})
				if err != nil {
					return err
				}
				m.add(res.Events...)
			}
			return nil
		})
	}
	g.Go(func() error {
		for _, e := range victims[:10] {
			if err := s.Delete(ctx, e.DeviceID, e.ID, 0); err != nil {
				return err
			}
			m.remove(e.ID)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, m, first.AddDate(0, 0, -1), clock.Now().Add(24*time.Hour), someZones, "after the writers and the readers")
}

// raceClient runs before, once, ahead of the first transaction that
// deletes a delta: between a compaction's read and its move.
type raceClient struct {
	*dynamodb.Client
	once   sync.Once
	before func()
}

func (r *raceClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if d := in.TransactItems[0].Delete; d != nil && strings.HasPrefix(d.Key[PartitionKey].(*types.AttributeValueMemberS).Value, deltaPrefix) {
		r.once.Do(r.before)
	}
	return r.Client.TransactWriteItems(ctx, in, opts...)
}

// TestAWriteDuringAMoveFailsTheMoveNotTheCount: a write reaches a delta
// after compaction read it and before the move (only a clock more than a
// day behind could do that): the move's condition fails, nothing is lost
// or counted twice, the watermark stays, and the next read moves it all.
func TestAWriteDuringAMoveFailsTheMoveNotTheCount(t *testing.T) {
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clock := newTestClock(day.Add(time.Hour))
	base, c := newTestStore(t, Options{Now: clock.Now})
	mustPut(t, base, NewEvent{DeviceID: "d", Type: "door", Time: day})
	clock.Add(3 * 24 * time.Hour) // the 20th is closed
	slow := New(c, base.table, keepForever(Options{Now: fixedClock(day.Add(2 * time.Hour))}))
	race := &raceClient{Client: c, before: func() {
		if _, err := slow.Put(context.Background(), PutRequest{Events: []NewEvent{{DeviceID: "d", Type: "door", Time: day.Add(time.Minute)}}}); err != nil {
			t.Errorf("the write in between: %v", err)
		}
	}}
	s := New(race, base.table, keepForever(Options{Now: clock.Now}))
	q := AggregateQuery{DeviceID: "d", Types: []string{"door"}, Interval: Day, From: day.Add(-24 * time.Hour), To: day.Add(24 * time.Hour)}
	if got := aggregate(t, s, q).Total; got != 1 {
		t.Fatalf("the read whose move failed: %d, want 1 (the count when it read)", got)
	}
	if w, _ := s.watermark(context.Background(), deviceLedger("d")); w != "" {
		t.Fatalf("watermark %q after a failed move, want none", w)
	}
	if got := aggregate(t, s, q).Total; got != 2 {
		t.Fatalf("the next read: %d, want 2", got)
	}
	if w, _ := s.watermark(context.Background(), deviceLedger("d")); w != closedBefore(clock.Now()) {
		t.Fatalf("watermark %q, want %s", w, closedBefore(clock.Now()))
	}
	if got := aggregate(t, s, q).Total; got != 2 || countItems(t, c, base.table, deltaPrefix) != 0 {
		t.Fatalf("after the moves: %d and %d deltas, want 2 and none", got, countItems(t, c, base.table, deltaPrefix))
	}
}

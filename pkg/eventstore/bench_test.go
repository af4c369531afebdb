package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal"
	"github.com/fleetlog/device-events/infra/local/dynamodblocal/ddbtest"

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
		key   string // "", "event" or "request"
	}{
		{"single", 1, ""},
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

// seedDenseCounters writes a year of counter items for one device and type
// as a device at DynamoDB's per-partition limit would leave them: every
// hour and every split holding a seven-digit count, the largest items the
// counters can have. Writing them directly is the cheap way to a year of
// data; the items are what Put would write.
func seedDenseCounters(b *testing.B, s *Store, c *dynamodb.Client, device, eventType string, from time.Time, days int) {
	b.Helper()
	for d := 0; d < days; d++ {
		day := from.AddDate(0, 0, d)
		item := key(counterPK(device), counterSK(keyHash(eventType), dayKey(day)))
		for h := 0; h < 24; h++ {
			item[hourAttr(h)] = &types.AttributeValueMemberN{Value: "1234567"}
		}
		for _, p := range splitPoints {
			item[splitAttr(p)] = &types.AttributeValueMemberN{Value: "617283"}
		}
		if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
			b.Fatal(err)
		}
		if d == 0 {
			b.Logf("a dense counter item is %d bytes", itemSize(item))
		}
	}
}

func BenchmarkAggregate(b *testing.B) {
	year := time.Date(2025, 11, 22, 0, 0, 0, 0, time.UTC)
	s := seeded(b, "dense", Options{}, func(s *Store, c *dynamodb.Client) {
		seedDenseCounters(b, s, c, "e8613951-216a-4ad7-85e3-dd963d0823c4", "get-greengrass-configurations", year.AddDate(0, 0, -2), 370)
	})
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			b.Fatal(err)
		}
		return loc
	}
	cases := []struct {
		name string
		q    AggregateQuery
	}{
		{"year_daily_utc", AggregateQuery{Interval: Day, From: year, To: year.AddDate(1, 0, 0)}},
		{"year_daily_amsterdam", AggregateQuery{Interval: Day, From: year, To: year.AddDate(1, 0, 0), Location: zone("Europe/Amsterdam")}},
		{"year_daily_kolkata", AggregateQuery{Interval: Day, From: year, To: year.AddDate(1, 0, 0), Location: zone("Asia/Kolkata")}},
		{"day_hourly", AggregateQuery{Interval: Hour, From: year.AddDate(0, 3, 0), To: year.AddDate(0, 3, 1)}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.DeviceID, q.Types = "e8613951-216a-4ad7-85e3-dd963d0823c4", []string{"get-greengrass-configurations"}
			m := &Meter{}
			ctx := WithMeter(context.Background(), m)
			for i := 0; i < b.N; i++ {
				res, err := s.Aggregate(ctx, q)
				if err != nil || res.Total == 0 {
					b.Fatalf("Aggregate: %d, %v", res.Total, err)
				}
			}
			read, _ := m.Units()
			b.ReportMetric(read/float64(b.N), "RCU/op")
		})
	}
}

// BenchmarkAggregateVsNaive counts a week of one event a minute both ways:
// by querying the events and counting them, and from the counters.
func BenchmarkAggregateVsNaive(b *testing.B) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	const events = 7 * 24 * 60
	s := seeded(b, "week", Options{Now: fixedClock(start.AddDate(0, 0, 8))}, func(s *Store, _ *dynamodb.Client) {
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
		if got, want := counterPK(s), counterPrefix+plainHash(s); got != want {
			t.Errorf("counterPK(%q) = %q, want %q", s, got, want)
		}
		if got, want := counterSKAt(s, at), counterSK(plainHash(s), at.UTC().Format(dayLayout)); got != want {
			t.Errorf("counterSKAt(%q) = %q, want %q", s, got, want)
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
	for _, delta := range []map[string]int{{"k": 1}, {"k": 2}, {"k": 1, "K2": 1}, {"a": -3, "b": 25, "S1": 4}, {"x": 1}} {
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

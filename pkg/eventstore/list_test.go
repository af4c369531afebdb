package eventstore

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
)

// seedEvents writes events straight into the table as Put stores them,
// each with a random counter shard (as single puts spread them), but
// without their counters: listings never read counters, and
// BatchWriteItem from several goroutines writes the tens of thousands of
// events the listing tests and benchmarks need in seconds. Each event gets
// an id of its time.
func seedEvents(tb testing.TB, s *Store, evs []Event) []Event {
	tb.Helper()
	entropy := ulid.DefaultEntropy()
	reqs := make([]types.WriteRequest, len(evs))
	for i := range evs {
		e := &evs[i]
		e.ID = ulid.MustNew(uint64(e.Time.UnixMilli()), entropy).String()
		e.Time = idTime(e.ID)
		if e.CreationTime.IsZero() {
			e.CreationTime, e.LastUpdated = e.Time, e.Time
		}
		if e.Severity == "" {
			e.Severity = SeverityInfo
		}
		if e.State == "" {
			e.State = StateNew
		}
		e.Version, e.Updates = 1, []Update{}
		item, err := attributevalue.MarshalMap(itemOf(e, mrand.IntN(Shards), 0, ""))
		if err != nil {
			tb.Fatal(err)
		}
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
	}
	batches := make(chan []types.WriteRequest)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for b := range batches {
				for len(b) > 0 {
					out, err := s.db.(interface {
						BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
					}).BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: b}})
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						break
					}
					b = out.UnprocessedItems[s.table]
				}
			}
		})
	}
	for i := 0; i < len(reqs); i += 25 {
		batches <- reqs[i:min(i+25, len(reqs))]
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errs:
		tb.Fatalf("seeding events: %v", err)
	default:
	}
	return evs
}

// oneKB is the text that makes an event item just under 1 KB.
var oneKB = strings.Repeat("t", 760)

// listed is what paging a listing to its end gave.
type listed struct {
	ids      []string
	requests int
	rcu      []float64 // per request
	empty    int       // pages with no event but a cursor
}

// listAll pages q to its end, one request per page, metering each.
func listAll(t *testing.T, s *Store, q Query) listed {
	t.Helper()
	var l listed
	for {
		m := &Meter{}
		page, err := s.List(WithMeter(context.Background(), m), q)
		if err != nil {
			t.Fatalf("List after %d requests: %v", l.requests, err)
		}
		read, _ := m.Units()
		l.requests++
		l.rcu = append(l.rcu, read)
		for _, e := range page.Events {
			l.ids = append(l.ids, e.ID)
		}
		if page.Next == "" {
			return l
		}
		if len(page.Events) == 0 {
			l.empty++
		}
		if l.requests > 10_000 {
			t.Fatalf("still paging after %d requests", l.requests)
		}
		q.After = page.Next
	}
}

// matches is the listing's selection, by brute force over events.
func matches(q Query, e Event) bool {
	return (q.DeviceID == "" || e.DeviceID == q.DeviceID) &&
		(len(q.Types) == 0 || slices.Contains(q.Types, e.Type)) &&
		(q.Status == "" || e.Status == q.Status) &&
		(len(q.Severities) == 0 || slices.Contains(q.Severities, e.Severity)) &&
		(len(q.States) == 0 || slices.Contains(q.States, e.State)) &&
		(q.From.IsZero() || !e.Time.Before(q.From)) && (q.To.IsZero() || e.Time.Before(q.To))
}

// expected lists the ids of the events q selects, in its order.
func expected(q Query, evs []Event) []string {
	var ids []string
	for _, e := range evs {
		if matches(q, e) {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	if !q.Ascending {
		slices.Reverse(ids)
	}
	return ids
}

// sameIDs fails with the first difference between two listings.
func sameIDs(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("event %s listed %d times; got %d events, want %d", id, n, len(got), len(want))
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			t.Fatalf("event %s never listed; got %d events, want %d", id, len(got), len(want))
		}
	}
	t.Fatalf("got %d events %v,\nwant %d %v", len(got), got, len(want), want)
}

// scanCost is what reading every item of the partitions once costs, in
// read units: the least any listing that filters them can spend.
func scanCost(t *testing.T, s *Store, index, keyName string, pks ...string) float64 {
	t.Helper()
	total := 0.0
	for _, pk := range pks {
		in := &dynamodb.QueryInput{TableName: aws.String(s.table), KeyConditionExpression: aws.String("#k = :k"),
			ExpressionAttributeNames:  map[string]string{"#k": keyName},
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: pk}},
			ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal}
		if index != "" {
			in.IndexName = aws.String(index)
		}
		for {
			out, err := s.db.Query(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			total += *out.ConsumedCapacity.CapacityUnits
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return total
}

// TestListingsPageWithinTheReadBudget lists a thousand one-KB events with
// filters that match nothing, some or everything, on a device and across
// devices, both ways, with a read budget of 16 units (128 KB). Every
// request stays within the budget; pages may be partial or empty but carry
// a cursor; the pages together hold exactly the events selected, in order;
// and all the requests together read the events about once.
func TestListingsPageWithinTheReadBudget(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	s.readBudget = 32
	var evs []Event
	for i := range 1200 {
		status := "ok"
		if i%7 == 3 {
			status = "hit"
		}
		evs = append(evs, Event{DeviceID: []string{"d1", "d2"}[i%2], Type: []string{"a", "b", "a"}[i%3],
			Time: t0.Add(-time.Duration(i) * 41 * time.Second), Status: status, Text: oneKB})
	}
	evs = seedEvents(t, s, evs)
	var fleet []string
	for _, typ := range []string{"a", "b"} {
		for shard := range IndexShards {
			fleet = append(fleet, typeIndexKey(typ, shard))
		}
	}
	cases := []struct {
		name  string
		q     Query
		reads float64 // what reading the partitions once costs
	}{
		{"a device's events, a status none has", Query{DeviceID: "d1", Status: "nomatch", Limit: 100},
			scanCost(t, s, "", PartitionKey, eventPK("d1"))},
		{"a device's events, a status one in seven has", Query{DeviceID: "d1", Status: "hit", Limit: 25},
			scanCost(t, s, "", PartitionKey, eventPK("d1"))},
		{"a device's events of a type, a status one in seven has", Query{DeviceID: "d2", Types: []string{"a"}, Status: "hit", Limit: 10},
			scanCost(t, s, "", PartitionKey, eventPK("d2"))},
		{"a device's events, no filter", Query{DeviceID: "d2", Limit: 100},
			scanCost(t, s, "", PartitionKey, eventPK("d2"))},
		{"two types across devices, a status none has", Query{Types: []string{"a", "b"}, Status: "nomatch", Limit: 100},
			scanCost(t, s, TypeIndex, TypeIndexKey, fleet...)},
		{"two types across devices, a status one in seven has", Query{Types: []string{"a", "b"}, Status: "hit", Limit: 30},
			scanCost(t, s, TypeIndex, TypeIndexKey, fleet...)},
		{"one type across devices, no filter", Query{Types: []string{"b"}, Limit: 50},
			scanCost(t, s, TypeIndex, TypeIndexKey, fleet[IndexShards:]...)},
	}
	for _, tc := range cases {
		for _, asc := range []bool{false, true} {
			q := tc.q
			q.Ascending = asc
			t.Run(fmt.Sprintf("%s, ascending %v", tc.name, asc), func(t *testing.T) {
				got := listAll(t, s, q)
				sameIDs(t, got.ids, expected(q, evs))
				total := 0.0
				for i, rcu := range got.rcu {
					if rcu > s.readBudget {
						t.Errorf("request %d of %d read %v units, want at most the budget %v", i+1, got.requests, rcu, s.readBudget)
					}
					total += rcu
				}
				if total > 1.5*tc.reads+s.readBudget {
					t.Errorf("the %d requests read %v units, want about the %v of one pass over the events", got.requests, total, tc.reads)
				}
				t.Logf("%d events in %d requests (%d empty pages), %v units; one pass %v", len(got.ids), got.requests, got.empty, total, tc.reads)
			})
		}
	}
}

func TestAlarmKeysFollowSeverityAndState(t *testing.T) {
	cases := []struct {
		severity         Severity
		state            State
		counterShard     int
		ok               bool
		device, fleetKey string
	}{
		{SeverityInfo, StateNew, 3, false, "", ""},
		{SeverityInfo, StateResolved, 3, false, "", ""},
		{SeverityWarning, StateNew, 5, true, "robot-7#o", "o#1"},
		{SeverityError, StateAcknowledged, 12, true, "robot-7#o", "o#0"},
		{SeverityCritical, StateResolved, 3, true, "robot-7#c", "c#3"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("a %s event %s on counter shard %d", tc.severity, tc.state, tc.counterShard), func(t *testing.T) {
			d, f, ok := alarmKeys("robot-7", tc.severity, tc.state, tc.counterShard)
			if d != tc.device || f != tc.fleetKey || ok != tc.ok {
				t.Fatalf("alarmKeys = %q, %q, %v; want %q, %q, %v", d, f, ok, tc.device, tc.fleetKey, tc.ok)
			}
			it := itemOf(&Event{DeviceID: "robot-7", Type: "door", Severity: tc.severity, State: tc.state}, tc.counterShard, 0, "")
			if it.DeviceAlarmKey != tc.device || it.FleetAlarmKey != tc.fleetKey {
				t.Fatalf("the item carries %q, %q; want %q, %q", it.DeviceAlarmKey, it.FleetAlarmKey, tc.device, tc.fleetKey)
			}
			if want := typeIndexPartition("door", tc.counterShard); it.GPK != want || it.CounterShard != tc.counterShard {
				t.Fatalf("type index key %q, counter shard %d; want %q, %d", it.GPK, it.CounterShard, want, tc.counterShard)
			}
		})
	}
}

// TestAlarmListingsMatchBruteForce puts events of every severity, then
// patches many of them to other states and severities (in and out of the
// alarm indexes), and lists them with every kind of severity and state
// filter, on a device and across devices, both ways, in small pages: each
// listing must be exactly what filtering every stored event gives.
func TestAlarmListingsMatchBruteForce(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(7, 12))
	devices, kinds := []string{"d1", "d2", "d3"}, []string{"t1", "t2", "t3"}
	var stored []Event
	for i := 0; i < 120; {
		var batch []NewEvent
		for n := 1 + rng.IntN(3); n > 0 && i < 120; n, i = n-1, i+1 {
			batch = append(batch, NewEvent{DeviceID: devices[rng.IntN(3)], Type: kinds[rng.IntN(3)],
				Time: t0.Add(-time.Duration(i) * time.Minute), Severity: Severities[rng.IntN(4)]})
		}
		stored = append(stored, mustPut(t, s, batch...).Events...)
	}
	for _, i := range rng.Perm(len(stored))[:70] {
		state, severity := States[rng.IntN(3)], Severities[rng.IntN(4)]
		p := Patch{State: &state, By: "test", Changes: map[string]any{"state": string(state)}}
		if rng.IntN(2) == 0 {
			p.Severity = &severity
		}
		ev, err := s.Patch(ctx, stored[i].DeviceID, stored[i].ID, p)
		if err != nil {
			t.Fatalf("Patch: %v", err)
		}
		stored[i] = ev
	}
	alarms := 0
	for _, e := range stored {
		if isAlarm(e.Severity) && e.State != StateResolved {
			alarms++
		}
	}
	t.Logf("%d events, %d open alarms", len(stored), alarms)

	severities := [][]Severity{{SeverityWarning}, {SeverityCritical}, {SeverityError, SeverityCritical},
		{SeverityWarning, SeverityError, SeverityCritical}, {SeverityInfo, SeverityError}}
	states := [][]State{nil, {StateAcknowledged}, {StateResolved}, {StateNew, StateAcknowledged}, {StateNew, StateResolved}}
	scopes := []Query{{DeviceID: "d1"}, {}, {Types: []string{"t1", "t3"}}, {DeviceID: "d2", Types: []string{"t2"}}}
	for _, scope := range scopes {
		for _, sev := range severities {
			if scope.DeviceID == "" && len(scope.Types) == 0 && !AlarmsOnly(sev) {
				continue // needs a type
			}
			for _, st := range states {
				for _, asc := range []bool{false, true} {
					q := scope
					q.Severities, q.States, q.Ascending, q.Limit = sev, st, asc, 7
					t.Run(fmt.Sprintf("device %q types %v severity %v state %v ascending %v", q.DeviceID, q.Types, sev, st, asc), func(t *testing.T) {
						sameIDs(t, listAll(t, s, q).ids, expected(q, stored))
					})
				}
			}
		}
	}
}

// TestABulkDeleteGoesByTheReadBudget deletes a type that is one event in
// eleven of a device's 1 430 one-KB events (1.4 MB): calls stop at the read
// budget with partial counts and a cursor, the dry run counts exactly what
// the real delete then removes, and the rest stays stored and counted.
func TestABulkDeleteGoesByTheReadBudget(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	var keep []Event
	var drop []NewEvent
	for i := range 1430 {
		at := t0.Add(-time.Duration(i) * time.Minute)
		if i%11 != 0 {
			keep = append(keep, Event{DeviceID: "d", Type: "keep", Time: at, Text: oneKB})
		} else {
			drop = append(drop, NewEvent{DeviceID: "d", Type: "drop", Time: at, Text: oneKB})
		}
	}
	// The events to keep go in without counts (quicker); those to delete
	// with theirs, which the deletes must bring back to zero.
	seedEvents(t, s, keep)
	mustPut(t, s, drop[:MaxBatch]...)
	mustPut(t, s, drop[MaxBatch:]...)
	for _, dryRun := range []bool{true, false} {
		t.Run(fmt.Sprintf("dry run %v", dryRun), func(t *testing.T) {
			q := Query{DeviceID: "d", Types: []string{"drop"}}
			deleted, calls, partial := 0, 0, 0
			for {
				m := &Meter{}
				res, err := s.DeleteMatching(WithMeter(context.Background(), m), q, dryRun)
				if err != nil {
					t.Fatal(err)
				}
				if read, _ := m.Units(); read > s.readBudget {
					t.Errorf("call %d read %v units, want at most %v", calls+1, read, s.readBudget)
				}
				deleted += res.Deleted
				calls++
				if res.Next == "" {
					break
				}
				if calls > 100 {
					t.Fatal("still deleting after 100 calls")
				}
				partial++
				q.After = res.Next
			}
			if deleted != 130 || partial == 0 {
				t.Fatalf("%d deleted in %d calls (%d with a cursor), want 130 over several calls", deleted, calls, partial)
			}
		})
	}
	if c := consistent(t, s, "d", "drop"); c["drop"] != 0 {
		t.Fatalf("after the deletes: %v, want drop 0", c)
	}
	if left := listAll(t, s, Query{DeviceID: "d", Limit: MaxLimit}); len(left.ids) != len(keep) {
		t.Fatalf("%d events left, want the %d kept", len(left.ids), len(keep))
	}
}

// TestAnAlarmCostsOneWriteUnitPerAlarmIndex: the alarm indexes are sparse,
// so a plain info event still costs 7 units and an alarm 2 more, whatever
// its state.
func TestAnAlarmCostsOneWriteUnitPerAlarmIndex(t *testing.T) {
	cases := []struct {
		severity Severity
		want     float64
	}{
		{SeverityInfo, 7},
		{SeverityWarning, 9},
		{SeverityCritical, 9},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("a single %s event of about 1 KB costs %v", tc.severity, tc.want), func(t *testing.T) {
			s, bill := newBilledStore(t, Options{Now: fixedClock(t0)})
			ev := deLaval("robot-1")
			ev.Severity, ev.Text = tc.severity, oneKB[:600]
			mustPut(t, s, ev)
			if bill.write != tc.want {
				t.Fatalf("%v write units, want %v", bill.write, tc.want)
			}
		})
	}
}

// TestStreamsReadSideBySideStayWithinTheBudgetWhateverItemsWeigh lists a
// type across devices (its index shards read side by side) whose events
// are 200 KB each: no request may spend DynamoDB's 1 MB per shard, as
// Queries sized before any item's weight is known would (602 units a
// request): at most about 1 MB, and one event of each other shard.
func TestStreamsReadSideBySideStayWithinTheBudgetWhateverItemsWeigh(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	big := strings.Repeat("x", 200<<10)
	var evs []Event
	for i := range 40 {
		evs = append(evs, Event{DeviceID: fmt.Sprintf("d%d", i%5), Type: "a", Time: t0.Add(-time.Duration(i) * time.Minute), Text: big})
	}
	evs = seedEvents(t, s, evs)
	q := Query{Types: []string{"a"}, Limit: 100}
	got := listAll(t, s, q)
	sameIDs(t, got.ids, expected(q, evs))
	const item = 25.0 // the read units of one event
	for i, rcu := range got.rcu {
		if rcu > s.readBudget+IndexShards*item {
			t.Errorf("request %d of %d read %v units, want at most the budget %v and one event of each shard", i+1, got.requests, rcu, s.readBudget)
		}
	}
}

// TestManyStreamsOfLargeItemsStillPageEfficiently lists ten types across
// devices (forty index shards) of 100 KB events, whose first items alone
// cost more than the budget: a request then reads up to twice one item of
// each stream, so that pages hold many events and the listing costs a few
// passes over the events, not a pass per event.
func TestManyStreamsOfLargeItemsStillPageEfficiently(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	big := strings.Repeat("x", 100<<10)
	var types, pks []string
	for i := range 10 {
		typ := fmt.Sprintf("t%d", i)
		types = append(types, typ)
		for shard := range IndexShards {
			pks = append(pks, typeIndexKey(typ, shard))
		}
	}
	var evs []Event
	for i := range 120 {
		evs = append(evs, Event{DeviceID: fmt.Sprintf("d%d", i%7), Type: types[i%10], Time: t0.Add(-time.Duration(i) * time.Minute), Text: big})
	}
	evs = seedEvents(t, s, evs)
	q := Query{Types: types, Limit: 1000}
	got := listAll(t, s, q)
	sameIDs(t, got.ids, expected(q, evs))
	pass := scanCost(t, s, TypeIndex, TypeIndexKey, pks...)
	heads := (pass/float64(len(evs)) + 0.5) * float64(len(pks))
	total := 0.0
	for i, rcu := range got.rcu {
		if rcu > 2*heads+pass/float64(len(evs))*float64(len(pks)) {
			t.Errorf("request %d of %d read %v units, want at most about twice one item of each of the %d streams (%v)", i+1, got.requests, rcu, len(pks), 2*heads)
		}
		total += rcu
	}
	if total > 3*pass {
		t.Errorf("%d requests read %v units, want at most three passes over the events (%v each)", got.requests, total, pass)
	}
	t.Logf("%d events in %d requests, %v units; one pass %v, heads %v", len(evs), got.requests, total, pass, heads)
}

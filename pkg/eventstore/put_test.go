package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/sync/errgroup"

	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
)

// storedIDs lists the ids of a device's events.
func storedIDs(t *testing.T, s *Store, device string) []string {
	t.Helper()
	var ids []string
	q := Query{DeviceID: device, Limit: MaxLimit, Ascending: true}
	for {
		page, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.Next == "" {
			return ids
		}
		q.After = page.Next
	}
}

// total counts a device's events of every type over a year around t0.
func total(t *testing.T, s *Store, device string) int64 {
	t.Helper()
	return aggregate(t, s, AggregateQuery{DeviceID: device, Interval: Day, From: t0.AddDate(0, -6, 0), To: t0.AddDate(0, 6, 0)}).Total
}

// aBatch is n events of one device and type within a minute, each with a
// text of about 300 bytes.
func aBatch(n int, perEventKeys bool) []NewEvent {
	evs := make([]NewEvent, n)
	for i := range evs {
		evs[i] = NewEvent{DeviceID: "d", Type: "door", Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Text: strings.Repeat("x", 300)}
		if perEventKeys {
			evs[i].IdempotencyKey = fmt.Sprintf("k-%d", i)
		}
	}
	return evs
}

func TestAKeyIsRecordedOnlyWithItsEvents(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	crashing := &failingAfter{Client: c}
	s := New(crashing, base.table, keepForever(Options{Now: fixedClock(t0)}))
	ev := NewEvent{DeviceID: "d", Type: "door", IdempotencyKey: "once"}
	if _, err := s.Put(context.Background(), PutRequest{Events: []NewEvent{ev}}); !errors.Is(err, errCrash) {
		t.Fatalf("a put whose transaction failed: %v, want the failure", err)
	}
	if n := countItems(t, c, base.table, keyPrefix); n != 0 {
		t.Fatalf("%d key records after a failed put, want 0", n)
	}
	res := mustPut(t, base, ev)
	if !res.Created[0] || total(t, base, "d") != 1 {
		t.Fatalf("the retry: created %v, count %d; want created and 1", res.Created[0], total(t, base, "d"))
	}
}

func TestABatchRepeatingAKeyIsRefused(t *testing.T) {
	s, c := newTestStore(t, Options{Now: fixedClock(t0)})
	evs := []NewEvent{
		{DeviceID: "d", Type: "door", IdempotencyKey: "a"},
		{DeviceID: "d", Type: "door", IdempotencyKey: "b"},
		{DeviceID: "e", Type: "door", IdempotencyKey: "a"}, // another device's key
		{DeviceID: "d", Type: "milk", IdempotencyKey: "a"},
	}
	_, err := s.Put(context.Background(), PutRequest{Events: evs})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "events[3].idempotencyKey" || !strings.Contains(fe.Message, "events[0]") {
		t.Fatalf("error = %v, want a FieldError on events[3].idempotencyKey naming events[0]", err)
	}
	if n := countItems(t, c, s.table, eventPrefix, keyPrefix); n != 0 {
		t.Fatalf("%d items written, want none", n)
	}
	if _, err := s.Put(context.Background(), PutRequest{Events: evs[:3]}); err != nil {
		t.Fatalf("the same key on two devices: %v, want it stored", err)
	}
}

func TestARetryNeverBringsBackADeletedOrExpiredEvent(t *testing.T) {
	cases := []struct {
		name string
		req  PutRequest
		// undo removes one stored event, by delete or by time.
		undo func(t *testing.T, s *Store, clock *testClock, ids []string)
	}{
		{"a single event deleted", PutRequest{Events: []NewEvent{{DeviceID: "d", Type: "door", IdempotencyKey: "k"}}},
			func(t *testing.T, s *Store, _ *testClock, ids []string) { mustDelete(t, s, ids[0]) }},
		{"one event of a keyed batch deleted", PutRequest{RequestKey: "r", Events: aBatch(3, false)},
			func(t *testing.T, s *Store, _ *testClock, ids []string) { mustDelete(t, s, ids[1]) }},
		{"one event of a batch with event keys deleted", PutRequest{Events: aBatch(3, true)},
			func(t *testing.T, s *Store, _ *testClock, ids []string) { mustDelete(t, s, ids[2]) }},
		{"a single event expired", PutRequest{Events: []NewEvent{{DeviceID: "d", Type: "door", IdempotencyKey: "k"}}},
			func(t *testing.T, _ *Store, clock *testClock, _ []string) { clock.Add(49 * time.Hour) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock(t0)
			c := ddbtest.Client(t)
			s := New(c, ddbtest.Table(t, c, tableDef), Options{Now: clock.Now, Retention: 48 * time.Hour})
			first, err := s.Put(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range first.Events {
				ids = append(ids, e.ID)
			}
			tc.undo(t, s, clock, ids)
			before, count := storedIDs(t, s, "d"), total(t, s, "d")
			_, err = s.Put(context.Background(), tc.req)
			if !errors.Is(err, ErrKeyedEventsDeleted) {
				t.Fatalf("the retry: %v, want ErrKeyedEventsDeleted", err)
			}
			if after := storedIDs(t, s, "d"); !slices.Equal(after, before) {
				t.Fatalf("the retry changed the events: %v, want %v", after, before)
			}
			if got := total(t, s, "d"); got != count {
				t.Fatalf("the retry changed the count: %d, want %d", got, count)
			}
		})
	}
}

func mustDelete(t *testing.T, s *Store, id string) {
	t.Helper()
	if err := s.Delete(context.Background(), "d", id, 0); err != nil {
		t.Fatal(err)
	}
}

// failingOn fails the transactions whose numbers (from 1) it holds.
type failingOn struct {
	*dynamodb.Client
	mu    sync.Mutex
	n     int
	fails []int
}

func (f *failingOn) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	f.n++
	fail := slices.Contains(f.fails, f.n)
	f.mu.Unlock()
	if fail {
		return nil, errCrash
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

// TestAPutThatFailsHalfwayListsWhatItStored: a batch that takes several
// transactions fails at the second; the error lists the events of the
// first, and a retry with the same key stores the rest, once.
func TestAPutThatFailsHalfwayListsWhatItStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  PutRequest
	}{
		{"a batch under one key", PutRequest{RequestKey: "r", Events: aBatch(100, false)}},
		{"a batch with a key per event", PutRequest{Events: aBatch(100, true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, c := newTestStore(t, Options{Now: fixedClock(t0)})
			s := New(&failingOn{Client: c, fails: []int{2}}, base.table, keepForever(Options{Now: fixedClock(t0)}))
			_, err := s.Put(context.Background(), tc.req)
			var pe *PartialWriteError
			if !errors.As(err, &pe) || !errors.Is(err, errCrash) {
				t.Fatalf("error = %v, want a *PartialWriteError of the failure", err)
			}
			stored := storedIDs(t, base, "d")
			if len(stored) == 0 || len(stored) == 100 || !slices.Equal(pe.StoredIDs, stored) {
				t.Fatalf("StoredIDs = %d ids, the table holds %d; want the same ids, some but not all", len(pe.StoredIDs), len(stored))
			}
			if got := total(t, base, "d"); got != int64(len(stored)) {
				t.Fatalf("count %d after the failure, want %d", got, len(stored))
			}
			res, err := base.Put(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("the retry: %v", err)
			}
			for i, e := range res.Events {
				if was := slices.Contains(stored, e.ID); res.Created[i] == was {
					t.Fatalf("event %d: created %v, stored before %v; want created exactly when not stored before", i, res.Created[i], was)
				}
			}
			if n := len(storedIDs(t, base, "d")); n != 100 || total(t, base, "d") != 100 {
				t.Fatalf("after the retry %d events, count %d; want 100 and 100", n, total(t, base, "d"))
			}
		})
	}
}

// TestConcurrentRetriesOfABatchStoreItOnce: retries of a batch of two
// transactions run at once, after its first attempt stored only the
// first: every event is stored and counted once.
func TestConcurrentRetriesOfABatchStoreItOnce(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	req := PutRequest{RequestKey: "r", Events: aBatch(100, false)} // two transactions
	s := New(&failingOn{Client: c, fails: []int{2}}, base.table, keepForever(Options{Now: fixedClock(t0)}))
	if _, err := s.Put(context.Background(), req); err == nil {
		t.Fatal("the first attempt did not fail")
	}
	var g errgroup.Group
	results := make([]PutResult, 4)
	for i := range results {
		g.Go(func() (err error) {
			results[i], err = base.Put(context.Background(), req)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("a retry: %v", err)
	}
	for i := range req.Events {
		created := 0
		for _, r := range results {
			if r.Events[i].ID != results[0].Events[i].ID {
				t.Fatalf("event %d: retries answered %s and %s", i, results[0].Events[i].ID, r.Events[i].ID)
			}
			if r.Created[i] {
				created++
			}
		}
		if created > 1 {
			t.Fatalf("event %d created by %d retries, want at most 1", i, created)
		}
	}
	if n := len(storedIDs(t, base, "d")); n != 100 || total(t, base, "d") != 100 {
		t.Fatalf("%d events, count %d; want 100 and 100", n, total(t, base, "d"))
	}
}

// TestARetryAcrossMidnightsCountsLateWhatItWritesLate: the first
// transaction of a batch is written just before midnight (its day is
// recent: deltas), the rest by a retry two midnights later (late: the
// folded items), after a read compacted the day in between. Every event is
// counted once.
func TestARetryAcrossMidnightsCountsLateWhatItWritesLate(t *testing.T) {
	clock := newTestClock(time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC))
	base, c := newTestStore(t, Options{Now: clock.Now})
	req := PutRequest{RequestKey: "r", Events: aBatch(100, false)}
	for i := range req.Events {
		req.Events[i].Time = clock.Now().Add(-time.Duration(i) * time.Minute)
	}
	s := New(&failingOn{Client: c, fails: []int{2}}, base.table, keepForever(Options{Now: clock.Now}))
	if _, err := s.Put(context.Background(), req); err == nil {
		t.Fatal("the first attempt did not fail")
	}
	clock.Add(3 * 24 * time.Hour)
	day := AggregateQuery{DeviceID: "d", Types: []string{"door"}, Interval: Hour, From: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	first := aggregate(t, base, day).Total // compacts the 22nd
	if n := countItems(t, c, base.table, deltaPrefix); n != 0 {
		t.Fatalf("%d deltas after the read, want the day compacted", n)
	}
	if _, err := base.Put(context.Background(), req); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if got := aggregate(t, base, day).Total; first == 0 || first == 100 || got != 100 {
		t.Fatalf("counts %d after the first attempt, %d after the retry; want some, then 100", first, got)
	}
}

// TestADeleteAfterMidnightLowersTheItemsOfItsOwnClock: an event put as
// recent (a delta) and deleted once its day is late by the deleter's clock
// (the folded items): the two meet in the count, before and after
// compaction.
func TestADeleteAfterMidnightLowersTheItemsOfItsOwnClock(t *testing.T) {
	at := time.Date(2026, 11, 22, 23, 59, 59, 999_000_000, time.UTC)
	clock := newTestClock(at)
	s, c := newTestStore(t, Options{Now: clock.Now})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "door", Time: at}).Events[0].ID
	clock.Add(24*time.Hour + time.Millisecond) // the 24th: the 22nd is late
	mustDelete(t, s, id)
	perType := counterRef{hashedPK(perTypePrefix, "d"), perTypeSK("door", at)}
	if d, p := counts(t, c, s.table, deltaRef("d", "door", at)), counts(t, c, s.table, perType); d["x"] != 1 || p["x"] != -1 {
		t.Fatalf("delta %v, per-type %v; want the put's +1 in the delta, the delete's -1 in the per-type item", d, p)
	}
	q := AggregateQuery{DeviceID: "d", Types: []string{"door"}, Interval: Day, From: at.Add(-time.Hour), To: at.Add(time.Hour)}
	for _, when := range []string{"before compaction", "after compaction"} {
		if got := aggregate(t, s, q).Total; got != 0 {
			t.Fatalf("%s: count %d, want 0", when, got)
		}
		clock.Add(24 * time.Hour) // the 25th: the 22nd is closed, the next read compacts it
	}
	if n := countItems(t, c, s.table, deltaPrefix); n != 0 {
		t.Fatalf("%d deltas left, want the 22nd compacted", n)
	}
	if p := counts(t, c, s.table, perType); len(p) != 0 {
		t.Fatalf("per-type item %v after compaction, want every count 0", p)
	}
}

func TestAKeyRecordOutlivesItsEventsByAWeek(t *testing.T) {
	week := 7 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"an event of now: a week after it expires", t0, t0.Add(48*time.Hour + week)},
		{"an event of a year ago, expired already: a week after the request", t0.AddDate(-1, 0, 0), t0.Add(week)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ddbtest.Client(t)
			s := New(c, ddbtest.Table(t, c, tableDef), Options{Now: fixedClock(t0), Retention: 48 * time.Hour})
			mustPut(t, s, NewEvent{DeviceID: "d", Type: "door", Time: tc.at, IdempotencyKey: "k"})
			out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &s.table, Key: key(idemPK("d"), "k")})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := decodeRecord(out.Item)
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Unix(rec.Expires, 0).UTC(); !got.Equal(tc.want.Truncate(time.Second)) {
				t.Fatalf("the key record expires %v, want %v", got, tc.want)
			}
		})
	}
}

package eventstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestSkipAndCountMatchTheListing writes events over three days at random
// minutes, for two devices and three types, and holds Count and Skip
// against the listing itself: for every n, the page after Skip(q, n)
// starts with the n+1-th event the listing gives, in both orders, for a
// device, a device and types, and a type across the fleet, with ranges that
// start and end inside an hour.
func TestSkipAndCountMatchTheListing(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s, _ := newTestStore(t, Options{Now: fixedClock(now), Retention: -1})
	rng := rand.New(rand.NewPCG(7, 11))
	start := now.Add(-72 * time.Hour)
	var evs []NewEvent
	for i := 0; i < 240; i++ {
		at := start.Add(time.Duration(rng.IntN(72*60)) * time.Minute).Add(time.Duration(rng.IntN(60)) * time.Second)
		evs = append(evs, NewEvent{DeviceID: []string{"d1", "d2"}[rng.IntN(2)], Type: []string{"door", "temp", "power"}[rng.IntN(3)], Time: at})
	}
	// Events on the first and last millisecond of an hour sit on the
	// spans' edges, where a cursor off by one would lose them.
	for h := 0; h < 72; h += 5 {
		at := start.Add(time.Duration(h) * time.Hour)
		evs = append(evs, NewEvent{DeviceID: "d1", Type: "door", Time: at}, NewEvent{DeviceID: "d2", Type: "temp", Time: at},
			NewEvent{DeviceID: "d1", Type: "temp", Time: at.Add(-time.Millisecond)}, NewEvent{DeviceID: "d2", Type: "door", Time: at.Add(-time.Millisecond)})
	}
	for chunk := range slices.Chunk(evs, 25) {
		mustPut(t, s, chunk...)
	}
	ctx := context.Background()
	queries := map[string]Query{
		"a device":                          {DeviceID: "d1"},
		"a device and two types":            {DeviceID: "d2", Types: []string{"door", "power"}},
		"a type across the fleet":           {Types: []string{"temp"}},
		"a device within hours' edges":      {DeviceID: "d1", From: start.Add(90*time.Minute + 17*time.Second), To: now.Add(-5*time.Hour - 23*time.Minute)},
		"a type within one hour":            {Types: []string{"door"}, From: start.Add(30 * time.Hour), To: start.Add(30*time.Hour + 59*time.Minute)},
		"a device from a day on, to no end": {DeviceID: "d2", From: start.Add(24 * time.Hour)},
	}
	for name, q := range queries {
		for _, asc := range []bool{false, true} {
			q := q
			q.Ascending = asc
			t.Run(fmt.Sprintf("%s, ascending %v", name, asc), func(t *testing.T) {
				every := q
				every.Limit = MaxLimit
				want := listAll(t, s, every).ids
				n, err := s.Count(ctx, q)
				if err != nil || n != int64(len(want)) {
					t.Fatalf("Count = %d (%v), want %d", n, err, len(want))
				}
				for skip := 0; skip <= len(want)+1; skip += 1 + skip/7 {
					after, total, err := s.Skip(ctx, q, int64(skip))
					if err != nil || total != int64(len(want)) {
						t.Fatalf("Skip(%d) = total %d (%v), want %d", skip, total, err, len(want))
					}
					page := q
					page.After, page.Limit = after, 3
					p, err := s.List(ctx, page)
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, e := range p.Events {
						got = append(got, e.ID)
					}
					wantPage := want[min(skip, len(want)):min(skip+3, len(want))]
					if !slices.Equal(got, wantPage) {
						t.Fatalf("page after Skip(%d) = %v, want %v", skip, got, wantPage)
					}
				}
			})
		}
	}
	t.Run("filters the counters do not count are refused", func(t *testing.T) {
		for _, q := range []Query{{DeviceID: "d1", Status: "x"}, {DeviceID: "d1", Severities: []Severity{SeverityInfo}}, {Severities: []Severity{SeverityCritical}}} {
			if _, err := s.Count(ctx, q); !errors.Is(err, ErrNotCountable) {
				t.Errorf("Count(%+v) = %v, want ErrNotCountable", q, err)
			}
		}
	})
}

func TestGlobalIDsCarryTheirDevice(t *testing.T) {
	id := "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	gid := GlobalID("robot-7:a.b", id)
	if d, e, ok := ParseGlobalID(gid); !ok || d != "robot-7:a.b" || e != id {
		t.Fatalf("ParseGlobalID(%q) = %q, %q, %v", gid, d, e, ok)
	}
	for _, bad := range []string{"", "!!", GlobalID("bad device", id), GlobalID("d", "not-an-id"), id} {
		if _, _, ok := ParseGlobalID(bad); ok {
			t.Errorf("ParseGlobalID(%q) = ok, want refused", bad)
		}
	}
}

// TestSkipFilteredMatchesTheListing holds SkipFiltered against the listing
// for a filter the counters do not count (a state), and against Skip for
// one they do.
func TestSkipFilteredMatchesTheListing(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s, _ := newTestStore(t, Options{Now: fixedClock(now), Retention: -1})
	ctx := context.Background()
	var evs []NewEvent
	for i := range 30 {
		evs = append(evs, NewEvent{DeviceID: "d1", Type: "door", Time: now.Add(-time.Duration(i) * 7 * time.Minute)})
	}
	res := mustPut(t, s, evs...)
	for i, e := range res.Events {
		if i%3 == 0 {
			if _, err := s.Patch(ctx, "d1", e.ID, Patch{State: ptrTo(StateResolved), By: "test", Changes: map[string]any{"state": "resolved"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, q := range map[string]Query{
		"new events of a device, newest first":   {DeviceID: "d1", States: []State{StateNew}},
		"resolved events of a device, ascending": {DeviceID: "d1", States: []State{StateResolved}, Ascending: true},
		"a device, from the counters":            {DeviceID: "d1"},
	} {
		t.Run(name, func(t *testing.T) {
			every := q
			every.Limit = MaxLimit
			want := listAll(t, s, every).ids
			for skip := 0; skip <= len(want)+1; skip++ {
				after, total, err := s.SkipFiltered(ctx, q, int64(skip))
				if err != nil || total != int64(len(want)) {
					t.Fatalf("SkipFiltered(%d) = total %d (%v), want %d", skip, total, err, len(want))
				}
				page := q
				page.After, page.Limit = after, 4
				p, err := s.List(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range p.Events {
					got = append(got, e.ID)
				}
				if wantPage := want[min(skip, len(want)):min(skip+4, len(want))]; !slices.Equal(got, wantPage) {
					t.Fatalf("page after SkipFiltered(%d) = %v, want %v", skip, got, wantPage)
				}
			}
		})
	}
}

// TestCountFindsARareTypesFirstEventPastTheReadBudget counts a rare type
// on a busy device without a start time: the search for the range's
// oldest event reads past one request's budget rather than counting none.
func TestCountFindsARareTypesFirstEventPastTheReadBudget(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	s.readBudget = 4
	var evs []NewEvent
	for i := range 200 {
		evs = append(evs, NewEvent{DeviceID: "busy", Type: "common", Time: t0.Add(-time.Duration(200-i) * time.Minute), Text: oneKB})
	}
	evs = append(evs, NewEvent{DeviceID: "busy", Type: "rare", Time: t0.Add(-time.Second)})
	for chunk := range slices.Chunk(evs, 25) {
		mustPut(t, s, chunk...)
	}
	q := Query{DeviceID: "busy", Types: []string{"rare"}}
	if one := listAll(t, s, Query{DeviceID: "busy", Types: []string{"rare"}, Ascending: true, Limit: 1}); one.requests < 2 {
		t.Fatalf("the rare event was found in %d request: the budget does not make the search go on", one.requests)
	}
	if n, err := s.Count(context.Background(), q); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDevicesAndTypesAreSeenFromTheirFirstEventOn writes a device's events
// as recent (deltas) and late (folded) writes, reads, compacts and deletes,
// and holds DeviceSince and TypeSeen to what was written.
func TestDevicesAndTypesAreSeenFromTheirFirstEventOn(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s, _ := newTestStore(t, Options{Now: fixedClock(now)})
	today := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	tenDaysAgo := today.AddDate(0, 0, -10)

	// recent: today's events only (deltas).
	mustPut(t, s, NewEvent{DeviceID: "recent", Type: "door", Time: now.Add(-time.Hour)})
	// late: a late write ten days back (folded items) and a recent one.
	mustPut(t, s, NewEvent{DeviceID: "late", Type: "door", Time: tenDaysAgo.Add(3 * time.Hour)})
	mustPut(t, s, NewEvent{DeviceID: "late", Type: "temp", Time: now.Add(-time.Hour)})
	// gone: its only event deleted.
	gone := mustPut(t, s, NewEvent{DeviceID: "gone", Type: "door", Time: now.Add(-time.Hour)})
	if err := s.Delete(ctx, "gone", gone.Events[0].ID, 0); err != nil {
		t.Fatal(err)
	}
	// read: never written, but its counts were read (a watermark item).
	if _, err := s.Aggregate(ctx, AggregateQuery{DeviceID: "read", Interval: Day, From: tenDaysAgo, To: now}); err != nil {
		t.Fatal(err)
	}
	// compacted: a delta written five days ago by its writer's clock, then
	// folded by a read.
	past := New(s.db, s.table, Options{Retention: -1, Now: fixedClock(now.AddDate(0, 0, -5))})
	if _, err := past.Put(ctx, PutRequest{Events: []NewEvent{{DeviceID: "compacted", Type: "door", Time: now.AddDate(0, 0, -5)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Aggregate(ctx, AggregateQuery{DeviceID: "compacted", Interval: Day, From: tenDaysAgo, To: now}); err != nil {
		t.Fatal(err)
	}

	devices := []struct {
		name, device string
		seen         bool
		since        time.Time
	}{
		{"a device with today's events is seen since today", "recent", true, today},
		{"a device with a late event is seen since its day", "late", true, tenDaysAgo},
		{"a device whose events were deleted is still seen", "gone", true, today},
		{"a device whose counts were compacted is seen since their day", "compacted", true, today.AddDate(0, 0, -5)},
		{"a device only read is not seen", "read", false, time.Time{}},
		{"a device never named is not seen", "nobody", false, time.Time{}},
	}
	for _, c := range devices {
		t.Run(c.name, func(t *testing.T) {
			since, seen, err := s.DeviceSince(ctx, c.device)
			if err != nil || seen != c.seen || !since.Equal(c.since) {
				t.Fatalf("DeviceSince(%s) = %v, %v (%v), want %v, %v", c.device, since, seen, err, c.since, c.seen)
			}
		})
	}

	types := []struct {
		name, device, typ string
		seen              bool
	}{
		{"a type of today's deltas is seen", "recent", "door", true},
		{"a type written late is seen", "late", "door", true},
		{"a type written today beside a late one is seen", "late", "temp", true},
		{"a type folded by compaction is seen", "compacted", "door", true},
		{"a deleted type is still seen", "gone", "door", true},
		{"another type of a seen device is not seen", "late", "window", false},
		{"a type of a device never named is not seen", "nobody", "door", false},
	}
	for _, c := range types {
		t.Run(c.name, func(t *testing.T) {
			seen, err := s.TypeSeen(ctx, c.device, c.typ)
			if err != nil || seen != c.seen {
				t.Fatalf("TypeSeen(%s, %s) = %v (%v), want %v", c.device, c.typ, seen, err, c.seen)
			}
		})
	}
}

// TestTypeSeenReadsNoMoreDeltasThanItsBudget gives a device more deltas
// than a request may read: looking for a type among them is ErrCompacting,
// not an unbounded read.
func TestTypeSeenReadsNoMoreDeltasThanItsBudget(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s, _ := newTestStore(t, Options{Now: fixedClock(now)})
	s.aggregateBudget = 3
	for _, typ := range []string{"a", "b", "c", "d", "e"} {
		mustPut(t, s, NewEvent{DeviceID: "busy", Type: typ, Time: now.Add(-time.Hour)})
	}
	if _, err := s.TypeSeen(ctx, "busy", "zzz"); !errors.Is(err, ErrCompacting) {
		t.Fatalf("TypeSeen over the budget = %v, want ErrCompacting", err)
	}
}

func TestExpiredBeforeIsNowLessTheRetention(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		retention time.Duration
		want      time.Time
	}{
		{"a retention of 90 days expires what is older", 90 * 24 * time.Hour, now.AddDate(0, 0, -90)},
		{"events kept forever never expire", -1, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(nil, "t", Options{Retention: c.retention})
			if got := s.ExpiredBefore(now); !got.Equal(c.want) {
				t.Fatalf("ExpiredBefore = %v, want %v", got, c.want)
			}
		})
	}
}

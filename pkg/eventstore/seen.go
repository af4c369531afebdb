package eventstore

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
)

// Whether a device, or a type on a device, was ever seen: for the APIs
// that answer 404 for a device they never heard of (the dialects), where
// the native API lists nothing. The counters answer it: an event's put
// creates its counter items, and counts are history (a delete lowers a
// count but leaves its item, expiry leaves both), so a device is seen from
// its first stored event on, for good. Each answer costs a few Limit-1
// queries, whatever the number of events.

// dayKeys bounds the sort keys that are days ("W", a watermark, sorts after
// them: a read of a device never written leaves one behind).
const (
	firstDayKey = "00000000"
	lastDayKey  = "99999999"
)

// DeviceSince returns the first UTC day on which the counters count an
// event of device, and false when they count none: the device was never
// seen. A device's counts are in its folded items (C#, every day before its
// watermark and every late write) and its deltas (A#, the recent days), so
// the first of each is its first day.
func (s *Store) DeviceSince(ctx context.Context, device string) (time.Time, bool, error) {
	var folded, delta string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		folded, err = s.firstCounterKey(gctx, hashedPK(devicePrefix, device), firstDayKey, lastDayKey)
		return err
	})
	g.Go(func() (err error) {
		delta, err = s.firstCounterKey(gctx, hashedPK(deltaPrefix, device), firstDayKey, lastDayKey+"~")
		return err
	})
	if err := g.Wait(); err != nil {
		return time.Time{}, false, err
	}
	var first string
	for _, sk := range []string{folded, delta} {
		if sk != "" && (first == "" || sk[:len(dayLayout)] < first) {
			first = sk[:len(dayLayout)]
		}
	}
	if first == "" {
		return time.Time{}, false, nil
	}
	day, err := parseDay(first)
	return day, err == nil, err
}

// TypeSeen reports whether the counters count an event of eventType on
// device. Its days before the device's watermark are in the per-type items
// (B#, whose keys start with the type); the days from the watermark on may
// still be deltas only, which hold every type of a day and are read
// through (a few days' worth once the device's counts have been read; a
// device whose counts nobody read for long may hold more than a request
// may read: ErrCompacting, as for its aggregates, which compact them).
func (s *Store) TypeSeen(ctx context.Context, device, eventType string) (bool, error) {
	h := keyHash(eventType)
	first, err := s.firstCounterKey(ctx, hashedPK(perTypePrefix, device), h+firstDayKey, h+lastDayKey)
	if err != nil || first != "" {
		return first != "", err
	}
	from, err := s.watermark(ctx, deviceLedger(device))
	if err != nil {
		return false, err
	}
	lo, hi := sourceRange(hashedPK(deltaPrefix, device), max(from, firstDayKey), lastDayKey)
	found := false
	more, err := s.queryCounters(ctx, hashedPK(deltaPrefix, device), lo, hi, false, s.aggregateBudget, func(c counterItem) {
		found = found || c.ref.sk[len(dayLayout):] == h
	})
	switch {
	case err != nil:
		return false, err
	case !found && more:
		return false, ErrCompacting
	}
	return found, nil
}

// firstCounterKey returns the sort key of the first counter item of pk in
// [lo, hi], "" when there is none.
func (s *Store) firstCounterKey(ctx context.Context, pk, lo, hi string) (string, error) {
	var first string
	_, err := s.queryCounters(ctx, pk, lo, hi, false, 1, func(c counterItem) {
		if first == "" {
			first = c.ref.sk
		}
	})
	return first, err
}

// ExpiredBefore is the time before which the events of a listing at now
// have expired (their time plus the retention is past), zero when events
// are kept forever. Counts are history and go further back: a page number
// found from the counters (Skip) is only the listing's own from there on.
func (s *Store) ExpiredBefore(now time.Time) time.Time {
	if s.retention < 0 {
		return time.Time{}
	}
	return now.Add(-s.retention)
}

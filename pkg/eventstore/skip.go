package eventstore

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Page numbers and totals, for the APIs whose clients ask for page N of a
// listing or for how many pages there are (the dialects): found from the
// counters, not by reading and counting the events.
//
// The counters count a device's (or a type's) events per UTC hour, so the
// whole hours of a range are counted from counter items (a day is one item,
// whatever the number of events); only the edges of a range that do not
// fall on an hour, and the one hour in which a page starts, are read. The
// cost of page N is therefore the days of its range plus the events of one
// hour, not N pages. Counts are history (expiry by retention does not lower
// them, see the contract): past the retention period, pages may hold fewer
// events than their size.

// The ids before and after every event id.
const (
	firstID = "00000000000000000000000000"
	lastID  = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
)

// ErrNotCountable: the query filters on what the counters do not count
// (status, severity, state), or has neither a device nor a type.
var ErrNotCountable = errors.New("the counters do not count this query")

// maxEdgeReads bounds the events read to count a part of an hour: about
// ten read budgets, for an hour of a very busy device.
const maxEdgeReads = 10 * MaxLimit

// ErrTooBusy: counting the edge of a range, or finding where a page starts
// within its hour, would read more than maxEdgeReads events.
var ErrTooBusy = errors.New("the hour where this page starts holds too many events to skip into")

// countable reports whether the counters count what q selects.
func countable(q Query) bool {
	return q.Status == "" && len(q.Severities) == 0 && len(q.States) == 0 && (q.DeviceID != "" || len(q.Types) > 0)
}

// span is a part of a query's range with its count: a whole UTC hour (from
// the counters) or a part of one (read).
type span struct {
	from, to time.Time
	count    int64
}

// spans lists the non-empty spans of q's range in the order q lists them.
func (s *Store) spans(ctx context.Context, q Query) ([]span, error) {
	if !countable(q) {
		return nil, ErrNotCountable
	}
	from, to := q.From, q.To
	if to.IsZero() {
		to = s.now().Add(MaxFutureSkew).Truncate(time.Hour).Add(time.Hour)
	}
	if from.IsZero() {
		// The range starts with its oldest event, not in 1970. A request
		// may stop at its read budget before it finds one (a rare type on a
		// busy device): the search goes on from where it stopped, for at
		// most maxStartReads requests.
		first, err := s.oldest(ctx, Query{DeviceID: q.DeviceID, Types: q.Types, To: to, Ascending: true, Limit: 1})
		if err != nil || first == "" {
			return nil, err
		}
		from = idTime(first).Truncate(time.Hour)
	}
	if !from.Before(to) {
		return nil, nil
	}
	var out []span
	edge := func(a, b time.Time) error {
		if !a.Before(b) {
			return nil
		}
		n, err := s.countByReading(ctx, q, a, b)
		if n > 0 {
			out = append(out, span{a, b, n})
		}
		return err
	}
	wholeFrom := from.Truncate(time.Hour)
	if wholeFrom.Before(from) {
		wholeFrom = wholeFrom.Add(time.Hour)
	}
	wholeTo := to.Truncate(time.Hour)
	if !wholeFrom.Before(wholeTo) { // inside one hour
		if err := edge(from, to); err != nil {
			return nil, err
		}
		return ordered(out, q.Ascending), nil
	}
	if err := edge(from, wholeFrom); err != nil {
		return nil, err
	}
	for a := wholeFrom; a.Before(wholeTo); {
		b := a.Add(MaxBuckets * time.Hour)
		if b.After(wholeTo) {
			b = wholeTo
		}
		res, err := s.Aggregate(ctx, AggregateQuery{DeviceID: q.DeviceID, Types: q.Types, Interval: Hour, From: a, To: b})
		if err != nil {
			return nil, err
		}
		for _, bk := range res.Buckets {
			out = append(out, span{bk.Start, bk.Start.Add(time.Hour), bk.Count})
		}
		a = b
	}
	if err := edge(wholeTo, to); err != nil {
		return nil, err
	}
	return ordered(out, q.Ascending), nil
}

// maxStartReads bounds the listing requests that look for a range's
// oldest event.
const maxStartReads = 10

// oldest returns the id of the first event q (ascending, Limit 1) lists,
// "" when there is none.
func (s *Store) oldest(ctx context.Context, q Query) (string, error) {
	for range maxStartReads {
		first, next, err := s.listItems(ctx, q)
		switch {
		case err != nil:
			return "", err
		case len(first) > 0:
			return first[0].SK, nil
		case next == "":
			return "", nil
		}
		q.After = next
	}
	return "", ErrTooBusy
}

func ordered(spans []span, asc bool) []span {
	if !asc {
		for i, j := 0, len(spans)-1; i < j; i, j = i+1, j-1 {
			spans[i], spans[j] = spans[j], spans[i]
		}
	}
	return spans
}

// countByReading counts q's events in [from, to) by reading them.
func (s *Store) countByReading(ctx context.Context, q Query, from, to time.Time) (int64, error) {
	var n int64
	after := ""
	for {
		items, next, err := s.listItems(ctx, Query{DeviceID: q.DeviceID, Types: q.Types, From: from, To: to, Ascending: true, Limit: MaxLimit, After: after})
		if err != nil {
			return n, err
		}
		n += int64(len(items))
		if next == "" {
			return n, nil
		}
		if n > maxEdgeReads {
			return n, ErrTooBusy
		}
		after = next
	}
}

// Count returns how many events q selects (its Status, Severities, States
// must be empty: ErrNotCountable), from the counters.
func (s *Store) Count(ctx context.Context, q Query) (int64, error) {
	spans, err := s.spans(ctx, q)
	var total int64
	for _, sp := range spans {
		total += sp.count
	}
	return total, err
}

// Skip returns the cursor (Query.After) past the first n events q lists,
// and how many events q selects in all: page N of size S is List with
// After = Skip(q, N×S). It finds the hour in which the n+1-th event falls
// from the counters and reads only within that hour. A cursor past the
// last event gives an empty page.
func (s *Store) Skip(ctx context.Context, q Query, n int64) (after string, total int64, err error) {
	spans, err := s.spans(ctx, q)
	if err != nil {
		return "", 0, err
	}
	for _, sp := range spans {
		total += sp.count
	}
	var before int64
	for _, sp := range spans {
		if before+sp.count <= n {
			before += sp.count
			continue
		}
		skip := n - before
		if skip == 0 {
			return boundary(sp, q.Ascending), total, nil
		}
		if skip > maxEdgeReads {
			return "", total, ErrTooBusy
		}
		// Read the skip events of this span; the cursor is the last read.
		in := Query{DeviceID: q.DeviceID, Types: q.Types, From: sp.from, To: sp.to, Ascending: q.Ascending}
		for skip > 0 {
			in.Limit = int(min(skip, MaxLimit))
			items, next, err := s.listItems(ctx, in)
			if err != nil {
				return "", total, err
			}
			for _, it := range items {
				after = it.SK
			}
			skip -= int64(len(items))
			if next == "" {
				break // fewer events than counted: the listing's last one
			}
			in.After = next
		}
		return after, total, nil
	}
	// Past the last event: a cursor beyond every id.
	if q.Ascending {
		return lastID, total, nil
	}
	return firstID, total, nil
}

// boundary is the cursor at the start of a span in listing order: the
// listing resumes with the span's first event.
func boundary(sp span, asc bool) string {
	if asc {
		return ulidAt(sp.from.UnixMilli()-1, true)
	}
	return ulidAt(sp.to.UnixMilli(), false)
}

// GlobalID names an event without its device, for APIs whose clients
// address an event by id alone (the dialects' /event/events/{id}): the
// device and the event id, "<device>~<id>" in unpadded URL-safe base64. It
// carries the device rather than needing an index from ids to devices,
// which would cost a write unit on every event.
func GlobalID(device, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(device + "~" + id))
}

// ParseGlobalID reads a GlobalID back; false when it is not one.
func ParseGlobalID(gid string) (device, id string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(gid)
	if err != nil {
		return "", "", false
	}
	device, id, ok = strings.Cut(string(b), "~")
	if !ok || !ValidDeviceID(device) || !ValidEventID(id) {
		return "", "", false
	}
	return device, id, true
}

package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/dialects/lhings"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

// lhingsError renders an error of the lhings dialect's routes in its clients'
// shape (nil: the native shape). The document gives statuses but no error
// body, so the native body serves.
var lhingsError func(e *apierror.Error, requestID string) apigw.Response

// maxJournalReads bounds the listings one journal page reads: a page of
// 1000 events of a few KB each fills in one or two, the budget of each
// being about 1 MB.
const maxJournalReads = 8

// lhingsRetrieve answers Events.retrieve.
//
// Its cost follows the days of the device's history, not its events:
// begin defaults to 1970, so the range starts at the device's first
// counted day instead (DeviceSince: an aggregate_daily from 1970 would
// otherwise be 20 000 buckets, twice what one aggregate reads), and the
// journal at the retention's edge too (older events have expired; the
// counters that find page N would count them). Aggregates are read in
// windows of at most eventstore.MaxBuckets buckets up to the page; the
// journal's page N starts where Store.Skip finds it from the counters.
func (f *Function) lhingsRetrieve(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	name := r.PathParams["eventName"]
	if eventstore.CheckType("eventName", name) != nil {
		return apigw.Response{}, query.Invalid("eventName", "%q is not an event type", name)
	}
	now := f.now()
	req, err := lhings.Parse(r.Query, now)
	if err != nil {
		return apigw.Response{}, err
	}
	since, seen, err := f.deps.Store.DeviceSince(ctx, device)
	if err != nil {
		return apigw.Response{}, err
	}
	if !seen {
		return apigw.Response{}, &apierror.Error{Code: apierror.NotFound, Message: "no device " + device + " has been seen"}
	}
	from := maxTime(req.Begin, since)
	if req.Mode == lhings.Journal {
		from = maxTime(from, f.deps.Store.ExpiredBefore(now))
	}
	out := []any{}
	switch {
	case !from.Before(req.End): // nothing in the range
	case req.Mode == lhings.Journal:
		q := eventstore.Query{DeviceID: device, Types: []string{name}, From: from, To: req.End, Ascending: req.OlderFirst}
		times, err := f.lhingsJournal(ctx, q, req.Skip())
		if err != nil {
			return apigw.Response{}, err
		}
		out = lhings.Times(times, req.HumanReadable)
	default:
		if out, err = f.lhingsCounts(ctx, device, name, from, req); err != nil {
			return apigw.Response{}, err
		}
	}
	if len(out) == 0 {
		// Nothing to show: was the event ever seen on this device? Asked
		// only now, after the reads that compact the counters it looks at.
		seen, err := f.deps.Store.TypeSeen(ctx, device, name)
		if err != nil {
			return apigw.Response{}, err
		}
		if !seen {
			return apigw.Response{}, &apierror.Error{Code: apierror.NotFound, Message: "no event " + name + " has been seen on device " + device}
		}
	}
	return jsonResponse(http.StatusOK, out), nil
}

// errJournalPage: a journal page would read more than maxJournalReads
// listings, or starts in an hour too busy to skip into.
var errJournalPage = &apierror.Error{Code: apierror.InvalidParameter, Parameter: "page",
	Message: "page: this page lies among too many events to read in one request; narrow begin and end"}

// lhingsJournal returns the times of the events of q's page that starts
// after skip of them.
func (f *Function) lhingsJournal(ctx context.Context, q eventstore.Query, skip int64) ([]time.Time, error) {
	if skip > 0 {
		after, _, err := f.deps.Store.Skip(ctx, q, skip)
		if errors.Is(err, eventstore.ErrTooBusy) {
			return nil, errJournalPage
		}
		if err != nil {
			return nil, err
		}
		q.After = after
	}
	times := make([]time.Time, 0, lhings.PageSize)
	for reads := 0; len(times) < lhings.PageSize; reads++ {
		if reads == maxJournalReads {
			return nil, errJournalPage
		}
		q.Limit = lhings.PageSize - len(times)
		page, err := f.deps.Store.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			times = append(times, e.Time)
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	return times, nil
}

// lhingsCounts returns the non-empty periods of the request's page, read
// in windows of eventstore.MaxBuckets periods from the end the page counts
// from.
func (f *Function) lhingsCounts(ctx context.Context, device, name string, from time.Time, req lhings.Request) ([]any, error) {
	width := req.Mode.Interval()
	interval := eventstore.Hour
	if req.Mode == lhings.AggregateDaily {
		interval = eventstore.Day
	}
	// Whole periods (UTC days are whole multiples of a day since year 1),
	// so that windows meet without sharing one.
	from = from.Truncate(width)
	to := req.End.Truncate(width)
	if to.Before(req.End) {
		to = to.Add(width)
	}
	step := eventstore.MaxBuckets * width
	out := []any{}
	skip := req.Skip()
	for lo, hi := from, to; lo.Before(hi); {
		a, b := lo, minTime(lo.Add(step), hi)
		if !req.OlderFirst {
			a, b = maxTime(hi.Add(-step), lo), hi
		}
		res, err := f.deps.Store.Aggregate(ctx, eventstore.AggregateQuery{DeviceID: device, Types: []string{name}, Interval: interval, From: a, To: b, Location: time.UTC})
		if err != nil {
			return nil, err
		}
		buckets := res.Buckets
		if !req.OlderFirst {
			buckets = slices.Clone(buckets)
			slices.Reverse(buckets)
		}
		for _, bk := range buckets {
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, lhings.NewCount(bk.Start, bk.Count, req.HumanReadable))
			if len(out) == lhings.PageSize {
				return out, nil
			}
		}
		if req.OlderFirst {
			lo = b
		} else {
			hi = a
		}
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

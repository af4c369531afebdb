package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/query"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

type bucketJSON struct {
	Start any   `json:"start"`
	Count int64 `json:"count"`
}

type aggregateAnswer struct {
	DeviceID string       `json:"deviceId,omitempty"`
	Type     string       `json:"type,omitempty"`
	Interval string       `json:"interval"`
	TZ       string       `json:"tz"`
	Buckets  []bucketJSON `json:"buckets"`
	Total    int64        `json:"total"`
}

func (f *Function) aggregateDevice(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	return f.aggregate(ctx, r, device)
}

func (f *Function) aggregateFleet(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	return f.aggregate(ctx, r, "")
}

// aggregate answers hourly or daily counts. from and to default to the
// current hour and the 23 before it (hour), or today and the 29 days before
// it in tz (day); both are rounded out to whole buckets.
func (f *Function) aggregate(ctx context.Context, r *apigw.Request, device string) (apigw.Response, error) {
	p := params{r}
	if err := p.allowOnly("type", "interval", "from", "to", "tz", "timeFormat"); err != nil {
		return apigw.Response{}, err
	}
	q := eventstore.AggregateQuery{DeviceID: device}
	var err error
	if q.Types, err = p.types(10); err != nil {
		return apigw.Response{}, err
	}
	if device == "" && len(q.Types) == 0 {
		return apigw.Response{}, query.Invalid("type", "required when counting across devices")
	}
	interval, err := p.choice("interval", "", "hour", "day")
	if err != nil {
		return apigw.Response{}, err
	}
	if interval == "" {
		return apigw.Response{}, query.Invalid("interval", "required: hour or day")
	}
	q.Interval = eventstore.Interval(interval)
	tzName, tzGiven, err := p.one("tz")
	if err != nil {
		return apigw.Response{}, err
	}
	q.Location = time.UTC
	switch {
	case tzGiven && q.Interval != eventstore.Day:
		return apigw.Response{}, query.Invalid("tz", "only with interval=day")
	case tzGiven:
		loc, lerr := f.deps.Zones(tzName) // the database's names only: not Local, no path
		if lerr != nil {
			return apigw.Response{}, query.Invalid("tz", "not an IANA time zone such as Europe/Stockholm")
		}
		q.Location = loc
	default:
		tzName = "UTC"
	}
	if q.From, q.To, err = p.timeRange(); err != nil {
		return apigw.Response{}, err
	}
	q.From, q.To = defaultRange(q, f.now())
	if !q.From.Before(q.To) {
		return apigw.Response{}, query.Invalid("from", "must be before to")
	}
	unix, err := p.unixTimes()
	if err != nil {
		return apigw.Response{}, err
	}
	res, err := f.deps.Store.Aggregate(ctx, q)
	switch {
	case errors.Is(err, eventstore.ErrTooManyBuckets):
		return apigw.Response{}, query.Invalid("from", "the range holds more than %d buckets", eventstore.MaxBuckets)
	case errors.Is(err, eventstore.ErrUnsupportedZone):
		return apigw.Response{}, query.Invalid("tz", "%v", err)
	case err != nil:
		return apigw.Response{}, err
	}
	out := aggregateAnswer{DeviceID: device, Type: strings.Join(q.Types, ","), Interval: interval, TZ: tzName,
		Buckets: make([]bucketJSON, len(res.Buckets)), Total: res.Total}
	for i, b := range res.Buckets {
		out.Buckets[i] = bucketJSON{Start: timestamp.Format(b.Start, unix), Count: b.Count}
	}
	return jsonResponse(http.StatusOK, out), nil
}

// defaultRange fills what the request left out: a missing to is now, a
// missing from the last 24 buckets (hour) or 30 (day) up to to.
func defaultRange(q eventstore.AggregateQuery, now time.Time) (time.Time, time.Time) {
	from, to := q.From, q.To
	if to.IsZero() {
		to = now
		if !from.IsZero() && !from.Before(to) {
			to = from.Add(time.Nanosecond) // the bucket of a from in the future
		}
	}
	if from.IsZero() {
		if q.Interval == eventstore.Hour {
			from = to.Add(-time.Nanosecond).Truncate(time.Hour).Add(-23 * time.Hour)
		} else {
			y, m, d := to.Add(-time.Nanosecond).In(q.Location).Date()
			from = time.Date(y, m, d-29, 12, 0, 0, 0, q.Location)
		}
	}
	return from, to
}

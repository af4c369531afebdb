// Package lhings maps Lhings' Events.retrieve (lhings-events-retrieve.txt)
// onto the service: its query parameters, read into a Request, and its
// answers, written from event times and counts.
//
// GET /laas/api/v1/devices/{uuid}/events/{eventName}: the event name is the
// event's type. mode=journal lists the times of the device's events of that
// type; aggregate_hourly and aggregate_daily count them per UTC hour or day
// ({"tst": <first second of the period>, "val": <count>}, non-empty periods
// only). Both are pages of PageSize from page 0, oldest first unless
// olderFirst=false; times are Unix seconds, or ISO 8601 with
// human_readable=true.
//
// The package maps only: the handler (pkg/internal/handlers/lhings.go) reads
// the store.
package lhings

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/fleetlog/device-events/pkg/internal/query"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// PageSize is how many results one page holds (the document: at most
// 1000).
const PageSize = 1000

// Mode is what a request answers.
type Mode string

// The modes.
const (
	Journal         Mode = "journal"
	AggregateHourly Mode = "aggregate_hourly"
	AggregateDaily  Mode = "aggregate_daily"
)

// Request is an Events.retrieve request's query.
type Request struct {
	// Begin (inclusive) and End (exclusive): Begin defaults to the Unix
	// epoch, End to now.
	Begin, End    time.Time
	Mode          Mode
	Page          int
	HumanReadable bool
	OlderFirst    bool
}

// The query parameters. The document's URL writes human_readable and its
// parameter list humanReadable: both are read.
var parameters = []string{"begin", "end", "mode", "page", "human_readable", "humanReadable", "olderFirst"}

// maxPage keeps page × PageSize far inside an int64.
const maxPage = math.MaxInt32

// Parse reads a request's query at now. Its errors are the contract's
// (400 invalid_parameter, query_field_not_allowed), naming the parameter.
func Parse(q url.Values, now time.Time) (Request, error) {
	if err := query.Allowed(q, parameters); err != nil {
		return Request{}, err
	}
	r := Request{Begin: timestamp.Min, End: now, Mode: Journal, OlderFirst: true}
	for _, name := range []string{"begin", "end"} {
		v, ok, err := query.One(q, name)
		if err != nil {
			return Request{}, err
		}
		if !ok {
			continue
		}
		t, perr := timestamp.Parse(v)
		if perr != nil {
			return Request{}, query.Invalid(name, "%v", perr)
		}
		if name == "begin" {
			r.Begin = t
		} else {
			r.End = t
		}
	}
	if r.Begin.After(r.End) {
		return Request{}, query.Invalid("begin", "must not be after end (%s)", timestamp.FormatISO(r.End))
	}
	if v, ok, err := query.One(q, "mode"); err != nil {
		return Request{}, err
	} else if ok {
		r.Mode = Mode(v)
		if !slices.Contains([]Mode{Journal, AggregateHourly, AggregateDaily}, r.Mode) {
			return Request{}, query.Invalid("mode", "must be journal, aggregate_hourly or aggregate_daily")
		}
	}
	if v, ok, err := query.One(q, "page"); err != nil {
		return Request{}, err
	} else if ok {
		n, cerr := strconv.Atoi(v)
		if cerr != nil || n < 0 || n > maxPage {
			return Request{}, query.Invalid("page", "must be an integer from 0 to %d", maxPage)
		}
		r.Page = n
	}
	var err error
	if r.HumanReadable, err = flag(q, false, "human_readable", "humanReadable"); err != nil {
		return Request{}, err
	}
	if r.OlderFirst, err = flag(q, true, "olderFirst"); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Skip is how many results come before the request's page.
func (r Request) Skip() int64 { return int64(r.Page) * PageSize }

// flag reads a boolean given under one of names (at most one of them).
func flag(q url.Values, def bool, names ...string) (bool, error) {
	given := ""
	for _, name := range names {
		v, ok, err := query.One(q, name)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		if given != "" {
			return false, query.Invalid(name, "given as %s too", given)
		}
		given = name
		switch v {
		case "true":
			def = true
		case "false":
			def = false
		default:
			return false, query.Invalid(name, "must be true or false")
		}
	}
	return def, nil
}

// Interval is the width of an aggregate mode's periods (0 for the
// journal).
func (m Mode) Interval() time.Duration {
	switch m {
	case AggregateHourly:
		return time.Hour
	case AggregateDaily:
		return 24 * time.Hour
	}
	return 0
}

// Time writes a time as the answers do: Unix seconds, or ISO 8601 when
// human is set.
func Time(t time.Time, human bool) any {
	if human {
		return timestamp.FormatISO(t)
	}
	return t.Unix()
}

// Times is the answer of the journal mode: the events' times.
func Times(times []time.Time, human bool) []any {
	out := make([]any, len(times))
	for i, t := range times {
		out[i] = Time(t, human)
	}
	return out
}

// Count is one period of an aggregate mode's answer.
type Count struct {
	Start any   `json:"tst"`
	Count int64 `json:"val"`
}

// NewCount is the count n of the period starting at start.
func NewCount(start time.Time, n int64, human bool) Count {
	return Count{Start: Time(start, human), Count: n}
}

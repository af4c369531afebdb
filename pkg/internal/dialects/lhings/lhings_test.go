package lhings

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

func TestParseReadsTheDocumentsParameters(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		query string
		want  Request
	}{
		{"nothing given is the journal of 1970 to now, page 0, oldest first", "",
			Request{Begin: time.Unix(0, 0).UTC(), End: now, Mode: Journal, OlderFirst: true}},
		{"the document's example reads Unix seconds", "begin=1334500000&end=1334672800&mode=aggregate_hourly",
			Request{Begin: time.Unix(1334500000, 0).UTC(), End: time.Unix(1334672800, 0).UTC(), Mode: AggregateHourly, OlderFirst: true}},
		{"ISO 8601 times, a page, newest first, human readable", "begin=2026-11-01T00:00:00Z&end=2026-11-02T00:00:00%2B01:00&mode=aggregate_daily&page=3&olderFirst=false&human_readable=true",
			Request{Begin: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC), Mode: AggregateDaily, Page: 3, HumanReadable: true}},
		{"humanReadable is the document's other spelling", "humanReadable=true",
			Request{Begin: time.Unix(0, 0).UTC(), End: now, Mode: Journal, OlderFirst: true, HumanReadable: true}},
		{"begin equal to end is an empty range, not an error", "begin=100&end=100",
			Request{Begin: time.Unix(100, 0).UTC(), End: time.Unix(100, 0).UTC(), Mode: Journal, OlderFirst: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, _ := url.ParseQuery(c.query)
			got, err := Parse(q, now)
			if err != nil || got != c.want {
				t.Fatalf("Parse(%s) = %+v (%v), want %+v", c.query, got, err, c.want)
			}
		})
	}
}

func TestParseRefusesWhatTheDocumentCalls400(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name, query, code, parameter string
	}{
		{"begin greater than end", "begin=1334672800&end=1334500000", apierror.InvalidParameter, "begin"},
		{"a negative timestamp", "begin=-5", apierror.InvalidParameter, "begin"},
		{"a badly formatted timestamp", "end=yesterday", apierror.InvalidParameter, "end"},
		{"a begin after the default end (now)", "begin=2027-01-01T00:00:00Z", apierror.InvalidParameter, "begin"},
		{"a negative page", "page=-1", apierror.InvalidParameter, "page"},
		{"a page that is no integer", "page=1.5", apierror.InvalidParameter, "page"},
		{"an invalid mode", "mode=aggregate_weekly", apierror.InvalidParameter, "mode"},
		{"a boolean that is not true or false", "olderFirst=yes", apierror.InvalidParameter, "olderFirst"},
		{"both spellings of human_readable", "human_readable=true&humanReadable=true", apierror.InvalidParameter, "humanReadable"},
		{"a parameter given twice", "mode=journal&mode=journal", apierror.InvalidParameter, "mode"},
		{"a parameter Lhings does not have", "limit=5", apierror.QueryFieldNotAllowed, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, _ := url.ParseQuery(c.query)
			_, err := Parse(q, now)
			var e *apierror.Error
			if !errors.As(err, &e) || e.Code != c.code || e.Parameter != c.parameter {
				t.Fatalf("Parse(%s) = %v, want %s on %s", c.query, err, c.code, c.parameter)
			}
		})
	}
}

func TestAnswersWriteUnixSecondsOrISO(t *testing.T) {
	at := time.Date(2012, 4, 15, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		human bool
		want  any
	}{
		{"Unix seconds by default", false, int64(1334498400)},
		{"ISO 8601 when human readable", true, "2012-04-15T14:00:00.000Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := NewCount(at, 35, c.human); got.Start != c.want || got.Count != 35 {
				t.Fatalf("NewCount = %+v, want tst %v val 35", got, c.want)
			}
			if got := Times([]time.Time{at.Add(1500 * time.Millisecond)}, c.human); len(got) != 1 {
				t.Fatalf("Times = %v, want one time", got)
			}
		})
	}
}

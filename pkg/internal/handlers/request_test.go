package handlers

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
	"github.com/fleetlog/device-events/pkg/zoneinfo"
)

func TestIfMatchReadsETags(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "*": 0, `"3"`: 3, `W/"12"`: 12, "7": 7} {
		got, err := ifMatch(&apigw.Request{Headers: map[string]string{"if-match": in}})
		if err != nil || got != want {
			t.Errorf("If-Match %q = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{`"0"`, `"-1"`, `"abc"`, `"1", "2"`} {
		if _, err := ifMatch(&apigw.Request{Headers: map[string]string{"if-match": bad}}); err == nil {
			t.Errorf("If-Match %q accepted", bad)
		}
	}
}

func TestAggregateRangesDefaultToTheLastBuckets(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC)
	kolkata, _ := zoneinfo.Load("Asia/Kolkata")
	cases := []struct {
		name     string
		q        eventstore.AggregateQuery
		from, to time.Time
		buckets  int
	}{
		{"hours: this one and the 23 before", eventstore.AggregateQuery{Interval: eventstore.Hour, Location: time.UTC},
			time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC), now, 24},
		{"days: today and the 29 before", eventstore.AggregateQuery{Interval: eventstore.Day, Location: time.UTC},
			time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), now, 30},
		{"days in Kolkata", eventstore.AggregateQuery{Interval: eventstore.Day, Location: kolkata},
			time.Date(2026, 10, 24, 12, 0, 0, 0, kolkata), now, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to := defaultRange(tc.q, now)
			if !from.Equal(tc.from) || !to.Equal(tc.to) {
				t.Fatalf("range %v – %v, want %v – %v", from, to, tc.from, tc.to)
			}
			if n := bucketsCovering(tc.q.Interval, from, to, tc.q.Location); n != tc.buckets {
				t.Fatalf("%d buckets, want %d", n, tc.buckets)
			}
		})
	}
}

// bucketsCovering counts the hours, or the local days of loc, that [from,
// to) touches.
func bucketsCovering(interval eventstore.Interval, from, to time.Time, loc *time.Location) int {
	n := 0
	if interval == eventstore.Hour {
		for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
			n++
		}
		return n
	}
	last := to.Add(-time.Nanosecond).In(loc)
	for d := from.In(loc); ; d = d.AddDate(0, 0, 1) {
		n++
		if y, m, day := d.Date(); y == last.Year() && m == last.Month() && day == last.Day() {
			return n
		}
	}
}

func TestAPageTokenOfAKeyNotLoadedYetIsReadAfterAReload(t *testing.T) {
	old, _ := pagetoken.NewSigner(bytes.Repeat([]byte{1}, 32))
	rotated, _ := pagetoken.NewSigner(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	tok := rotated.Encode("q", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
	reloads := 0
	f, err := New(routes.ListEvents, Deps{
		PageTokens:       func(context.Context) (*pagetoken.Signer, error) { return old, nil },
		ReloadPageTokens: func(context.Context) (*pagetoken.Signer, error) { reloads++; return rotated, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.pageCursor(context.Background(), "q", tok); err != nil || got != "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T" || reloads != 1 {
		t.Fatalf("pageCursor = %q, %v after %d reloads; want the cursor after 1", got, err, reloads)
	}
	forged := tok[:len(tok)-2] + "AA"
	if _, err := f.pageCursor(context.Background(), "q", forged); err == nil {
		t.Fatal("an edited token was accepted")
	}
}

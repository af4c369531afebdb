package eventsclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/openapi"
)

// The server side of aggregates, PATCH and bulk DELETE is being written;
// these tests check the requests the client makes for them against the
// OpenAPI document, and that it reads the documented answers.

const eventJSON = `{"id":"01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T","self":"/devices/robot-7/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T","deviceId":"robot-7","type":"door_opened",` +
	`"time":"2026-11-22T10:15:30.123Z","creationTime":"2026-11-22T10:15:30.456Z","lastUpdated":"2026-11-22T11:00:00.000Z","severity":"warning","state":"acknowledged",` +
	`"data":{"ticket":"OPS-1"},"updates":[{"time":1795345200000,"by":"tester","changes":{"state":"acknowledged","comment":"on it"}}],"version":4}`

// answer is one canned answer of a recorder.
type answer struct {
	status int
	body   string
}

// recorder answers requests in turn with its answers (the last one again
// when they run out) and keeps what it was sent.
type recorder struct {
	url     string
	answers []answer

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	req  *http.Request
	body []byte
}

func newRecorder(t *testing.T, answers ...answer) *recorder {
	t.Helper()
	r := &recorder{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		a := r.answers[min(len(r.reqs), len(r.answers)-1)]
		r.reqs = append(r.reqs, recorded{req: req.Clone(context.Background()), body: body})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// conforms fails the test unless every request the recorder got matches
// the OpenAPI document.
func (r *recorder) conforms(t *testing.T) {
	t.Helper()
	v, err := openapi.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range r.requests() {
		if err := v.Request(x.req, x.body); err != nil {
			t.Errorf("the client's request does not match the document: %v", err)
		}
	}
}

func TestAggregateAsksForTheCounts(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(48 * time.Hour)
	const counts = `{"deviceId":"robot-7","type":"door_opened","interval":"day","tz":"Europe/Stockholm","buckets":[{"start":"2026-10-31T23:00:00.000Z","count":35},{"start":1793487600000,"count":77}],"total":112}`
	cases := []struct {
		name      string
		q         AggregateQuery
		wantPath  string
		wantQuery url.Values
	}{
		{"a device's counts of one type per day in a zone", AggregateQuery{DeviceID: "robot-7", Types: []string{"door_opened"}, Interval: Day, From: from, To: to, TZ: "Europe/Stockholm"},
			"/devices/robot-7/aggregates", url.Values{"type": {"door_opened"}, "interval": {"day"}, "from": {"2026-11-01T00:00:00Z"}, "to": {"2026-11-03T00:00:00Z"}, "tz": {"Europe/Stockholm"}}},
		{"a device's counts of every type per hour", AggregateQuery{DeviceID: "gw:1", Interval: Hour},
			"/devices/gw:1/aggregates", url.Values{"interval": {"hour"}}},
		{"the fleet's counts of two types", AggregateQuery{Types: []string{"door_opened", "door_closed"}, Interval: Hour},
			"/aggregates", url.Values{"type": {"door_opened,door_closed"}, "interval": {"hour"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, answer{200, counts})
			c, _ := newTestClient(t, rec.url, StaticToken("tok"))
			a, err := c.Aggregate(context.Background(), tc.q)
			if err != nil {
				t.Fatalf("Aggregate: %v", err)
			}
			x := rec.requests()[0]
			if x.req.Method != "GET" || x.req.URL.Path != tc.wantPath || x.req.URL.Query().Encode() != tc.wantQuery.Encode() {
				t.Errorf("request %s %s?%s, want GET %s?%s", x.req.Method, x.req.URL.Path, x.req.URL.RawQuery, tc.wantPath, tc.wantQuery.Encode())
			}
			if got := x.req.Header.Get("Authorization"); got != "Bearer tok" {
				t.Errorf("Authorization = %q, want Bearer tok", got)
			}
			rec.conforms(t)
			if a.Total != 112 || len(a.Buckets) != 2 || a.Buckets[1].Count != 77 || !a.Buckets[1].Start.Equal(time.UnixMilli(1793487600000)) {
				t.Errorf("answer read as %+v, want total 112 and the second bucket of 77 at 1793487600000 ms", a)
			}
		})
	}
}

func TestPatchEventSendsAMergePatch(t *testing.T) {
	text := ""
	cases := []struct {
		name        string
		patch       Patch
		ifMatch     int64
		wantBody    string
		wantIfMatch string
	}{
		{"a conditional change of state with a comment", Patch{State: StateAcknowledged, Comment: "on it"}, 3,
			`{"state":"acknowledged","comment":"on it"}`, `"3"`},
		{"an unconditional change of text, severity and data", Patch{Severity: SeverityError, Text: &text, Data: map[string]any{"ticket": "OPS-1", "old": nil}}, 0,
			`{"severity":"error","text":"","data":{"old":null,"ticket":"OPS-1"}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, answer{200, eventJSON})
			c, _ := newTestClient(t, rec.url, StaticToken("tok"))
			ev, err := c.PatchEvent(context.Background(), "robot-7", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", tc.patch, tc.ifMatch)
			if err != nil {
				t.Fatalf("PatchEvent: %v", err)
			}
			x := rec.requests()[0]
			if x.req.Method != "PATCH" || x.req.URL.Path != "/devices/robot-7/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T" {
				t.Errorf("request %s %s, want PATCH /devices/robot-7/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", x.req.Method, x.req.URL.Path)
			}
			if ct := x.req.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
				t.Errorf("Content-Type = %q, want application/merge-patch+json", ct)
			}
			if got := x.req.Header.Get("If-Match"); got != tc.wantIfMatch {
				t.Errorf("If-Match = %q, want %q", got, tc.wantIfMatch)
			}
			if !jsonEqual(t, x.body, []byte(tc.wantBody)) {
				t.Errorf("body = %s, want %s", x.body, tc.wantBody)
			}
			rec.conforms(t)
			if ev.Version != 4 || ev.State != StateAcknowledged || len(ev.Updates) != 1 || ev.Updates[0].By != "tester" ||
				!ev.Updates[0].Time.Equal(time.UnixMilli(1795345200000)) || string(ev.Updates[0].Changes["comment"]) != `"on it"` {
				t.Errorf("answer read as %+v, want version 4, acknowledged, one update by tester", ev)
			}
		})
	}
}

func TestDeleteEventsFollowsTheTokenUntilDone(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		q         BulkDeleteQuery
		answers   []answer
		wantTotal int64
		wantQuery []url.Values
	}{
		{"three calls delete 2005 events of a type", BulkDeleteQuery{Types: []string{"a", "b"}, From: from},
			[]answer{{200, `{"deleted":1000,"nextPageToken":"t1"}`}, {200, `{"deleted":1000,"nextPageToken":"t2"}`}, {200, `{"deleted":5}`}}, 2005,
			[]url.Values{{"type": {"a,b"}, "from": {"2026-11-01T00:00:00Z"}}, {"type": {"a,b"}, "from": {"2026-11-01T00:00:00Z"}, "pageToken": {"t1"}}, {"type": {"a,b"}, "from": {"2026-11-01T00:00:00Z"}, "pageToken": {"t2"}}}},
		{"a call that read its budget and deleted none goes on", BulkDeleteQuery{Types: []string{"a"}},
			[]answer{{200, `{"deleted":0,"nextPageToken":"t1"}`}, {200, `{"deleted":3}`}}, 3,
			[]url.Values{{"type": {"a"}}, {"type": {"a"}, "pageToken": {"t1"}}}},
		{"a dry run of everything counts", BulkDeleteQuery{All: true, DryRun: true},
			[]answer{{200, `{"deleted":7,"dryRun":true}`}}, 7,
			[]url.Values{{"all": {"true"}, "dryRun": {"true"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, tc.answers...)
			c, _ := newTestClient(t, rec.url, StaticToken("tok"))
			n, err := c.DeleteEvents(context.Background(), "robot-7", tc.q)
			if err != nil || n != tc.wantTotal {
				t.Fatalf("DeleteEvents = %d, %v; want %d", n, err, tc.wantTotal)
			}
			reqs := rec.requests()
			if len(reqs) != len(tc.wantQuery) {
				t.Fatalf("%d requests, want %d", len(reqs), len(tc.wantQuery))
			}
			for i, x := range reqs {
				if x.req.Method != "DELETE" || x.req.URL.Path != "/devices/robot-7/events" || x.req.URL.Query().Encode() != tc.wantQuery[i].Encode() {
					t.Errorf("request %d: %s %s?%s, want DELETE /devices/robot-7/events?%s", i+1, x.req.Method, x.req.URL.Path, x.req.URL.RawQuery, tc.wantQuery[i].Encode())
				}
			}
			rec.conforms(t)
		})
	}
	t.Run("an error midway returns the count so far", func(t *testing.T) {
		rec := newRecorder(t, answer{200, `{"deleted":1000,"nextPageToken":"t1"}`}, answer{400, `{"error":"invalid_page_token","message":"pageToken: not a token issued for this query","parameter":"pageToken","requestId":"r"}`})
		c, _ := newTestClient(t, rec.url, StaticToken("tok"))
		n, err := c.DeleteEvents(context.Background(), "robot-7", BulkDeleteQuery{All: true})
		var ae *APIError
		if n != 1000 || !errors.As(err, &ae) || ae.Code != CodeInvalidPageToken {
			t.Errorf("DeleteEvents = %d, %v; want 1000 and invalid_page_token", n, err)
		}
	})
}

func TestListAndPutRequestsMatchTheDocument(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	t.Run("puts of one event and of a batch with keys", func(t *testing.T) {
		rec := newRecorder(t, answer{201, `{"message":"Successfully added events for robot-7","events":[` + eventJSON + `]}`})
		c, _ := newTestClient(t, rec.url, StaticToken("tok"))
		if _, err := c.PutEvents(ctx, "robot-7", []NewEvent{{Type: "t", Time: now, Severity: SeverityInfo, Data: map[string]int{"n": 1}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutEvents(ctx, "robot-7", []NewEvent{{Type: "t", IdempotencyKey: "k"}, {Type: "u"}}); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.requests()); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
		rec.conforms(t)
	})
	t.Run("listings with every filter and across devices", func(t *testing.T) {
		rec := newRecorder(t, answer{200, `{"events":[]}`})
		c, _ := newTestClient(t, rec.url, StaticToken("tok"))
		if _, err := c.ListPage(ctx, ListQuery{DeviceID: "robot-7", Types: []string{"a", "b"}, From: now.Add(-time.Hour), To: now, Status: "Open",
			Severities: []Severity{SeverityInfo, SeverityError}, States: []State{StateNew}, Ascending: true, Limit: 1000, PageToken: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListPage(ctx, ListQuery{Types: []string{"a"}}); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.requests()); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
		rec.conforms(t)
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s is not JSON: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s is not JSON: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// TestListEventsFollowsPartialPages: a page may hold fewer events than the
// limit, even none, and still carry a token; only its absence ends the
// listing.
func TestListEventsFollowsPartialPages(t *testing.T) {
	page := func(events, token string) answer {
		if token != "" {
			token = `,"nextPageToken":"` + token + `","next":"/events?pageToken=` + token + `"`
		}
		return answer{200, `{"events":[` + events + `]` + token + `}`}
	}
	second := strings.Replace(eventJSON, "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1S", 2)
	rec := newRecorder(t, page("", "t1"), page(eventJSON, "t2"), page("", "t3"), page("", "t4"), page(second, ""))
	c, _ := newTestClient(t, rec.url, StaticToken("tok"))
	var ids []string
	for ev, err := range c.ListEvents(context.Background(), ListQuery{Severities: []Severity{SeverityCritical}, Limit: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if want := []string{"01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1S"}; !slices.Equal(ids, want) {
		t.Fatalf("listed %v, want %v", ids, want)
	}
	reqs := rec.requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	for i, x := range reqs {
		want := url.Values{"severity": {"critical"}, "limit": {"50"}}
		if i > 0 {
			want.Set("pageToken", fmt.Sprintf("t%d", i))
		}
		if x.req.URL.Path != "/events" || x.req.URL.Query().Encode() != want.Encode() {
			t.Errorf("request %d: %s?%s, want /events?%s", i+1, x.req.URL.Path, x.req.URL.RawQuery, want.Encode())
		}
	}
	rec.conforms(t)
}

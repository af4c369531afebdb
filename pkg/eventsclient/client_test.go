package eventsclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/routes"
)

func TestPutEventsOverHTTPS(t *testing.T) {
	s := newStack(t)
	c, _ := s.client(s.url)
	ctx := context.Background()
	// Times within the retention: DynamoDB Local's TTL removes older events.
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	cases := []struct {
		name       string
		events     []NewEvent
		opts       []PutOption
		wantStatus int
		// sameAs names an earlier case whose events this one must answer.
		sameAs string
	}{
		{"one event is stored and answered 201", []NewEvent{{Type: "door_opened", Severity: SeverityWarning, Status: "Open", Text: "left open"}}, nil, 201, ""},
		{"one event with a key is stored", []NewEvent{{Type: "once"}}, []PutOption{WithIdempotencyKey("k-1")}, 201, ""},
		{"a retry with the same key answers 200 with the same event", []NewEvent{{Type: "once"}}, []PutOption{WithIdempotencyKey("k-1")}, 200, "one event with a key is stored"},
		{"an event's own key makes its retry safe too", []NewEvent{{Type: "own", IdempotencyKey: "own-1"}}, nil, 201, ""},
		{"a retry of an event with its own key answers 200", []NewEvent{{Type: "own", IdempotencyKey: "own-1"}}, nil, 200, "an event's own key makes its retry safe too"},
		{"a batch with a key is stored in order", []NewEvent{{Type: "a"}, {Type: "b"}}, []PutOption{WithIdempotencyKey("b-1")}, 201, ""},
		{"a retry of the batch answers 200 with the same events", []NewEvent{{Type: "a"}, {Type: "b"}}, []PutOption{WithIdempotencyKey("b-1")}, 200, "a batch with a key is stored in order"},
		{"a batch mixing events with and without keys is stored", []NewEvent{{Type: "a", IdempotencyKey: "mixed-1"}, {Type: "b"}}, nil, 201, ""},
	}
	answered := map[string][]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.PutEvents(ctx, "robot-7", tc.events, tc.opts...)
			if err != nil {
				t.Fatalf("PutEvents: %v", err)
			}
			answered[tc.name] = ids(res.Events)
			if res.Status != tc.wantStatus {
				t.Errorf("Status = %d, want %d", res.Status, tc.wantStatus)
			}
			if len(res.Events) != len(tc.events) {
				t.Fatalf("got %d events, want %d", len(res.Events), len(tc.events))
			}
			for i, ev := range res.Events {
				if ev.Type != tc.events[i].Type || ev.DeviceID != "robot-7" || ev.Version != 1 {
					t.Errorf("event %d = %s of %s version %d, want %s of robot-7 version 1", i, ev.Type, ev.DeviceID, ev.Version, tc.events[i].Type)
				}
			}
			if want := "/devices/robot-7/events/" + res.Events[0].ID; res.Location != want {
				t.Errorf("Location = %q, want %q", res.Location, want)
			}
			if tc.sameAs != "" && !slices.Equal(answered[tc.name], answered[tc.sameAs]) {
				t.Errorf("ids = %v, want those of %q: %v", answered[tc.name], tc.sameAs, answered[tc.sameAs])
			}
		})
	}
	t.Run("time, severity and data survive the round trip", func(t *testing.T) {
		data := map[string]any{"temp": 21.5, "big": json.Number("123456789012345678901234567890")}
		res, err := c.PutEvents(ctx, "robot-8", []NewEvent{{Type: "reading", Time: at, Severity: SeverityCritical, Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		ev := res.Events[0]
		if !ev.Time.Equal(at) || ev.Severity != SeverityCritical || ev.State != StateNew {
			t.Errorf("time %v severity %s state %s, want %v critical new", ev.Time, ev.Severity, ev.State, at)
		}
		if !strings.Contains(string(ev.Data), `"big":123456789012345678901234567890`) {
			t.Errorf("data = %s, want every digit of big kept", ev.Data)
		}
	})
	t.Run("no events and too many events are refused before sending", func(t *testing.T) {
		for _, n := range []int{0, MaxBatch + 1} {
			if _, err := c.PutEvents(ctx, "robot-7", make([]NewEvent, n)); err == nil {
				t.Errorf("PutEvents of %d events: no error, want one", n)
			}
		}
	})
}

func TestGetEventReturnsTheStoredEvent(t *testing.T) {
	s := newStack(t)
	c, _ := s.client(s.url)
	ctx := context.Background()
	res, err := c.PutEvents(ctx, "gw:1.a", []NewEvent{{Type: "state.apply", Status: "Failed", Text: "t", Data: map[string]any{"k": "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	put := res.Events[0]
	got, err := c.GetEvent(ctx, "gw:1.a", put.ID)
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	for _, f := range []struct{ name, got, want string }{
		{"id", got.ID, put.ID}, {"self", got.Self, put.Self}, {"deviceId", got.DeviceID, "gw:1.a"}, {"type", got.Type, "state.apply"},
		{"status", got.Status, "Failed"}, {"text", got.Text, "t"}, {"data", string(got.Data), `{"k":"v"}`},
		{"time", got.Time.String(), put.Time.String()}, {"creationTime", got.CreationTime.String(), put.CreationTime.String()},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
}

func TestListEventsFollowsEveryPage(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	seed, _ := s.client(s.url)
	// Times within the retention: DynamoDB Local's TTL removes older events.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var batch []NewEvent
	for i := range 7 {
		batch = append(batch, NewEvent{Type: "tick", Time: base.Add(time.Duration(i) * time.Minute)})
	}
	res, err := seed.PutEvents(ctx, "clock", batch)
	if err != nil {
		t.Fatal(err)
	}
	oldestFirst := ids(res.Events)
	newestFirst := slices.Clone(oldestFirst)
	slices.Reverse(newestFirst)

	cases := []struct {
		name      string
		q         ListQuery
		stopAfter int // 0: read all
		want      []string
		wantGets  int
	}{
		{"every event comes once, newest first, over three pages", ListQuery{DeviceID: "clock", Limit: 3}, 0, newestFirst, 3},
		{"ascending order lists oldest first", ListQuery{DeviceID: "clock", Limit: 3, Ascending: true}, 0, oldestFirst, 3},
		{"a time range selects its events", ListQuery{DeviceID: "clock", From: base.Add(2 * time.Minute), To: base.Add(5 * time.Minute), Ascending: true}, 0, oldestFirst[2:5], 1},
		{"the fleet list reads across devices by type", ListQuery{Types: []string{"tick"}, Limit: 5}, 0, newestFirst, 2},
		{"leaving the loop fetches no further page", ListQuery{DeviceID: "clock", Limit: 3}, 4, newestFirst[:4], 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &counter{}
			c, _ := s.client(s.url, WithHTTPClient(&http.Client{Transport: n}))
			var got []string
			for ev, err := range c.ListEvents(ctx, tc.q) {
				if err != nil {
					t.Fatalf("ListEvents: %v", err)
				}
				got = append(got, ev.ID)
				if len(got) == tc.stopAfter {
					break
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if n.count() != tc.wantGets {
				t.Errorf("sent %d requests, want %d", n.count(), tc.wantGets)
			}
		})
	}
	t.Run("a page's token continues the listing", func(t *testing.T) {
		c, _ := s.client(s.url)
		p, err := c.ListPage(ctx, ListQuery{DeviceID: "clock", Limit: 4})
		if err != nil || p.NextPageToken == "" {
			t.Fatalf("first page: token %q, error %v; want a token", p.NextPageToken, err)
		}
		q := ListQuery{DeviceID: "clock", Limit: 4, PageToken: p.NextPageToken}
		p2, err := c.ListPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := append(ids(p.Events), ids(p2.Events)...); !slices.Equal(got, newestFirst) || p2.NextPageToken != "" {
			t.Errorf("pages = %v then token %q, want %v and no token", got, p2.NextPageToken, newestFirst)
		}
	})
}

func TestAggregateCountsTheStoredEvents(t *testing.T) {
	s := newStack(t)
	c, _ := s.client(s.url)
	ctx := context.Background()
	hour := time.Now().UTC().Truncate(time.Hour)
	if _, err := c.PutEvents(ctx, "robot-7", []NewEvent{
		{Type: "door_opened", Time: hour.Add(-90 * time.Minute)},
		{Type: "door_opened", Time: hour.Add(-80 * time.Minute)},
		{Type: "door_closed", Time: hour.Add(-70 * time.Minute)},
		{Type: "door_opened", Time: hour.Add(-10 * time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEvents(ctx, "robot-8", []NewEvent{{Type: "door_opened", Time: hour.Add(-10 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		q           AggregateQuery
		wantTotal   int64
		wantBuckets []Bucket
	}{
		{"a device's events of one type per hour", AggregateQuery{DeviceID: "robot-7", Types: []string{"door_opened"}, Interval: Hour},
			3, []Bucket{{hour.Add(-2 * time.Hour), 2}, {hour.Add(-time.Hour), 1}}},
		{"a device's events of every type", AggregateQuery{DeviceID: "robot-7", Interval: Hour}, 4, nil},
		{"every device's events of one type", AggregateQuery{Types: []string{"door_opened"}, Interval: Hour}, 4, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := c.Aggregate(ctx, tc.q)
			if err != nil {
				t.Fatalf("Aggregate: %v", err)
			}
			if a.Total != tc.wantTotal {
				t.Errorf("total = %d, want %d", a.Total, tc.wantTotal)
			}
			if tc.wantBuckets != nil && !slices.EqualFunc(a.Buckets, tc.wantBuckets, func(x, y Bucket) bool { return x.Start.Equal(y.Start) && x.Count == y.Count }) {
				t.Errorf("buckets = %v, want %v", a.Buckets, tc.wantBuckets)
			}
		})
	}
}

func TestDeleteEventHonoursIfMatch(t *testing.T) {
	s := newStack(t)
	c, _ := s.client(s.url)
	ctx := context.Background()
	res, err := c.PutEvents(ctx, "robot-7", []NewEvent{{Type: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Events[0].ID
	cases := []struct {
		name     string
		ifMatch  int64
		wantCode string // "" for success
	}{
		{"a stale version is 412 and deletes nothing", 2, CodePreconditionFailed},
		{"the current version deletes", 1, ""},
		{"deleting again is 404", 0, CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.DeleteEvent(ctx, "robot-7", id, tc.ifMatch)
			var ae *APIError
			switch {
			case tc.wantCode == "" && err != nil:
				t.Fatalf("DeleteEvent: %v, want nil", err)
			case tc.wantCode != "" && (!errors.As(err, &ae) || ae.Code != tc.wantCode):
				t.Fatalf("DeleteEvent: %v, want an *APIError %s", err, tc.wantCode)
			}
		})
	}
}

func TestErrorsAreTypedAPIErrors(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c, _ := s.client(s.url)
	readOnly, _ := newTestClient(t, s.url, StaticToken(s.mint(routes.ScopeRead)))
	forged, _ := newTestClient(t, s.url, StaticToken("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"))
	now := time.Now()
	cases := []struct {
		name      string
		call      func() error
		status    int
		code      string
		parameter string
		field     string
	}{
		{"from after to is 400 invalid_parameter naming from", func() error {
			_, err := c.ListPage(ctx, ListQuery{DeviceID: "d", From: now, To: now.Add(-time.Hour)})
			return err
		}, 400, CodeInvalidParameter, "from", ""},
		{"the fleet list without a type is 400 invalid_parameter naming type", func() error {
			_, err := c.ListPage(ctx, ListQuery{})
			return err
		}, 400, CodeInvalidParameter, "type", ""},
		{"an invalid event is 400 invalid_event naming the field", func() error {
			_, err := c.PutEvents(ctx, "d", []NewEvent{{Type: "t"}, {Type: "t", Severity: "fatal"}})
			return err
		}, 400, CodeInvalidEvent, "", "events[1].severity"},
		{"a bad device id is 400 invalid_parameter", func() error {
			_, err := c.GetEvent(ctx, "a b", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
			return err
		}, 400, CodeInvalidParameter, "deviceId", ""},
		{"an unknown event is 404 not_found", func() error {
			_, err := c.GetEvent(ctx, "d", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
			return err
		}, 404, CodeNotFound, "", ""},
		{"a token without events/write is 403 forbidden", func() error {
			_, err := readOnly.PutEvents(ctx, "d", []NewEvent{{Type: "t"}})
			return err
		}, 403, CodeForbidden, "", ""},
		{"a token signed with another key is 401 unauthorized", func() error {
			_, err := forged.GetEvent(ctx, "d", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
			return err
		}, 401, CodeUnauthorized, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want an *APIError", err)
			}
			if ae.Status != tc.status || ae.Code != tc.code || ae.Parameter != tc.parameter || ae.Field != tc.field {
				t.Errorf("got %d %s parameter %q field %q, want %d %s parameter %q field %q",
					ae.Status, ae.Code, ae.Parameter, ae.Field, tc.status, tc.code, tc.parameter, tc.field)
			}
			if ae.Message == "" || ae.RequestID == "" {
				t.Errorf("message %q, request id %q: want both", ae.Message, ae.RequestID)
			}
		})
	}
	t.Run("an answer that is not the API's JSON is still an *APIError", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Apigw-Requestid", "gw-1")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"message":"Internal Server Error"}`))
		}))
		defer srv.Close()
		gw, _ := newTestClient(t, srv.URL, StaticToken("t"))
		_, err := gw.GetEvent(ctx, "d", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != CodeInternal || ae.Message != "Internal Server Error" || ae.RequestID != "gw-1" {
			t.Errorf("error = %#v, want 502 internal \"Internal Server Error\" with request id gw-1", err)
		}
	})
}

// TestADeviceKeyCallsTheKeyAPI: a client with a device API key stores and
// reads its device's events on the key API, and nothing else; the events
// API refuses the key.
func TestADeviceKeyCallsTheKeyAPI(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	k := s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite}, []string{"sensor-1"})
	c, _ := newTestClient(t, s.KeysURL, APIKey(k.Key))
	res, err := c.PutEvents(ctx, "sensor-1", []NewEvent{{Type: "door_opened"}})
	if err != nil || res.Status != 201 {
		t.Fatalf("PutEvents: %v, %v; want 201", res, err)
	}
	ev, err := c.GetEvent(ctx, "sensor-1", res.Events[0].ID)
	if err != nil || ev.ID != res.Events[0].ID {
		t.Fatalf("GetEvent: %v, %v; want the event put", ev, err)
	}
	var listed []string
	for e, err := range c.ListEvents(ctx, ListQuery{DeviceID: "sensor-1"}) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, e.ID)
	}
	if len(listed) != 1 || listed[0] != ev.ID {
		t.Errorf("ListEvents: %v, want the event put", listed)
	}
	onEvents, _ := newTestClient(t, s.url, APIKey(k.Key))
	for _, c := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"another device is 403 forbidden", func() error {
			_, err := c.PutEvents(ctx, "sensor-2", []NewEvent{{Type: "door_opened"}})
			return err
		}, 403, CodeForbidden},
		{"a scope the key lacks is 403", func() error {
			return c.DeleteEvent(ctx, "sensor-1", ev.ID, 0)
		}, 403, CodeForbidden},
		{"the events API refuses the key with 401", func() error {
			_, err := onEvents.GetEvent(ctx, "sensor-1", ev.ID)
			return err
		}, 401, CodeUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ae *APIError
			if err := c.call(); !errors.As(err, &ae) || ae.Status != c.status || ae.Code != c.code {
				t.Fatalf("got %v, want an *APIError %d %s", err, c.status, c.code)
			}
		})
	}
}

func TestNewRefusesUnsafeBaseURLs(t *testing.T) {
	cases := []struct {
		name    string
		url     string
		wantErr bool
	}{
		{"https is accepted", "https://abc.execute-api.eu-west-1.amazonaws.com", false},
		{"a stage path is accepted", "https://api.example.com/prod/", false},
		{"http to a loopback address is accepted", "http://127.0.0.1:3000", false},
		{"http to localhost is accepted", "http://localhost:3000", false},
		{"http to another host is refused", "http://api.example.com", true},
		{"a URL without a host is refused", "/devices", true},
		{"a query in the base URL is refused", "https://api.example.com/?stage=prod", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.url, StaticToken("t"))
			if (err != nil) != tc.wantErr {
				t.Errorf("New(%q) error = %v, want an error: %v", tc.url, err, tc.wantErr)
			}
		})
	}
	if _, err := New("https://api.example.com", nil); err == nil {
		t.Error("New without a token source: no error, want one")
	}
}

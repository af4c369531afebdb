package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

type bucket struct {
	Start string `json:"start"`
	Count int    `json:"count"`
}

func buckets(t *testing.T, r reply) ([]bucket, int) {
	t.Helper()
	var out struct {
		Buckets []bucket `json:"buckets"`
		Total   int      `json:"total"`
	}
	if err := json.Unmarshal(r.raw, &out); err != nil {
		t.Fatalf("aggregate answer %s: %v", r.raw, err)
	}
	return out.Buckets, out.Total
}

func TestAggregatesCountHoursAndLocalDays(t *testing.T) {
	s := newStack(t)
	// Three events on either side of 18:30 UTC, where Kolkata's day starts.
	times := []string{"2026-11-20T18:29:59.999Z", "2026-11-20T18:30:00Z", "2026-11-20T18:45:00Z", "2026-11-20T19:10:00Z", "2026-11-21T09:00:00Z"}
	var batch []any
	for _, at := range times {
		batch = append(batch, map[string]any{"type": "door_opened", "time": at})
	}
	s.do("POST", "/devices/barn-1/events", batch).want(t, 201)
	s.put("barn-2", map[string]any{"type": "door_opened", "time": "2026-11-20T18:00:00Z"})
	s.put("barn-1", map[string]any{"type": "milk", "time": "2026-11-20T18:00:00Z"})

	cases := []struct {
		name  string
		path  string
		want  []bucket
		total int
	}{
		{"hourly for one device and type", "/devices/barn-1/aggregates?type=door_opened&interval=hour&from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z",
			[]bucket{{"2026-11-20T18:00:00.000Z", 3}, {"2026-11-20T19:00:00.000Z", 1}, {"2026-11-21T09:00:00.000Z", 1}}, 5},
		{"daily in UTC", "/devices/barn-1/aggregates?type=door_opened&interval=day&from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z",
			[]bucket{{"2026-11-20T00:00:00.000Z", 4}, {"2026-11-21T00:00:00.000Z", 1}}, 5},
		{"daily in Kolkata, whose days start at 18:30 UTC", "/devices/barn-1/aggregates?type=door_opened&interval=day&tz=Asia/Kolkata&from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z",
			[]bucket{{"2026-11-19T18:30:00.000Z", 1}, {"2026-11-20T18:30:00.000Z", 4}}, 5},
		{"every type of a device", "/devices/barn-1/aggregates?interval=day&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z",
			[]bucket{{"2026-11-20T00:00:00.000Z", 5}}, 5},
		{"one type across devices", "/aggregates?type=door_opened&interval=hour&from=2026-11-20T18:00:00Z&to=2026-11-20T19:00:00Z",
			[]bucket{{"2026-11-20T18:00:00.000Z", 4}}, 4},
		{"from and to round out to whole buckets", "/devices/barn-1/aggregates?type=door_opened&interval=hour&from=2026-11-20T18:40:00Z&to=2026-11-20T18:50:00Z",
			[]bucket{{"2026-11-20T18:00:00.000Z", 3}}, 3},
		{"an empty range lists no buckets", "/devices/barn-1/aggregates?type=door_opened&interval=hour&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
			nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, total := buckets(t, s.do("GET", tc.path, nil).want(t, 200))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || total != tc.total {
				t.Fatalf("got %v total %d, want %v total %d", got, total, tc.want, tc.total)
			}
		})
	}
	r := s.do("GET", "/devices/barn-1/aggregates?type=door_opened&interval=day&tz=Asia/Kolkata&from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z&timeFormat=unix", nil).want(t, 200)
	if r.body["tz"] != "Asia/Kolkata" || r.body["deviceId"] != "barn-1" || r.body["interval"] != "day" {
		t.Errorf("answer header %v", r.body)
	}
	if first := r.body["buckets"].([]any)[0].(map[string]any)["start"]; first != json.Number(fmt.Sprint(time.Date(2026, 11, 19, 18, 30, 0, 0, time.UTC).UnixMilli())) {
		t.Errorf("unix start = %v", first)
	}
}

func TestAggregatesFollowRetriesAndDeletes(t *testing.T) {
	s := newStack(t)
	now := time.Now().UTC()
	ev := map[string]any{"type": "door_opened"}
	first := s.do("POST", "/devices/d/events", ev, header("Idempotency-Key", "k")).want(t, 201).events(t)[0]
	s.do("POST", "/devices/d/events", ev, header("Idempotency-Key", "k")).want(t, 200)
	s.put("d", ev)
	total := func() int {
		_, n := buckets(t, s.do("GET", "/devices/d/aggregates?type=door_opened&interval=hour", nil).want(t, 200))
		return n
	}
	if n := total(); n != 2 {
		t.Fatalf("default range (last 24 h) total %d after a put, its retry and another put; want 2", n)
	}
	s.do("DELETE", first["self"].(string), nil).want(t, 204)
	if n := total(); n != 1 {
		t.Fatalf("after a delete: %d, want 1", n)
	}
	_, daily := buckets(t, s.do("GET", "/devices/d/aggregates?interval=day", nil).want(t, 200))
	if daily != 1 {
		t.Fatalf("default daily range total %d, want 1 (now %s)", daily, now)
	}
}

func TestAggregateParameterErrors(t *testing.T) {
	s := newStack(t)
	cases := []struct{ path, code, param string }{
		{"/devices/d/aggregates", "invalid_parameter", "interval"},
		{"/devices/d/aggregates?interval=week", "invalid_parameter", "interval"},
		{"/devices/d/aggregates?interval=hour&tz=Europe/Paris", "invalid_parameter", "tz"},
		{"/devices/d/aggregates?interval=day&tz=Mars/Olympus", "invalid_parameter", "tz"},
		{"/devices/d/aggregates?interval=day&tz=Local", "invalid_parameter", "tz"},
		{"/devices/d/aggregates?interval=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "invalid_parameter", "from"},
		{"/devices/d/aggregates?interval=hour&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "invalid_parameter", "from"},
		{"/devices/d/aggregates?interval=day&tz=Africa/Monrovia&from=1971-01-01T00:00:00Z&to=1971-01-03T00:00:00Z", "invalid_parameter", "tz"},
		{"/devices/d/aggregates?interval=hour&limit=5", "query_field_not_allowed", "limit"},
		{"/aggregates?interval=hour", "invalid_parameter", "type"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := s.do("GET", tc.path, nil).want(t, 400, tc.code)
			if r.body["parameter"] != tc.param {
				t.Fatalf("parameter = %v, want %s", r.body["parameter"], tc.param)
			}
		})
	}
	s.do("GET", "/devices/d/aggregates?interval=day&from=2000-01-01T00:00:00Z&to=2027-05-19T00:00:00Z", nil).want(t, 200) // 10 000 days
}

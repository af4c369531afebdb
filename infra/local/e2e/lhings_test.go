package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// dialectGet sends GET path to the key API with the given headers and
// checks the exchange against the dialect's OpenAPI document.
func (s *stack) dialectGet(t *testing.T, d routes.Dialect, path string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", s.KeysURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	r := send(t, openapi.ForDialect(d), req, true)
	return r.status, r.raw
}

// seed stores n events of a device and type at the given time, in batches.
func (s *stack) seed(t *testing.T, device, typ string, at time.Time, n int) {
	t.Helper()
	for n > 0 {
		batch := make([]eventstore.NewEvent, min(n, 100))
		for i := range batch {
			batch[i] = eventstore.NewEvent{DeviceID: device, Type: typ, Time: at.Add(time.Duration(i) * time.Second)}
		}
		if _, err := s.Store.Put(context.Background(), eventstore.PutRequest{Events: batch}); err != nil {
			t.Fatalf("seeding %s: %v", device, err)
		}
		at = at.Add(time.Duration(len(batch)) * time.Second)
		n -= len(batch)
	}
}

// TestLhingsEventsRetrieveAnswersAsItsDocumentSays sends the document's
// example request (and its variations) with an X-Api-Key: the example's
// hourly counts, daily counts, ISO times, newest first, a journal paged by
// 1000, and every error the document lists.
func TestLhingsEventsRetrieveAnswersAsItsDocumentSays(t *testing.T) {
	s := newStack(t)
	const device = "87c41d45-7eab-40da-9f33-e86f086b08c9"
	base := "/laas/api/v1/devices/" + device + "/events/"
	// The example's counts: 35, 23 and 43 door_opened in the hours of
	// 1334498400, 1334502000 and 1334505600 (2012-04-15, 14:00 to 17:00
	// UTC). Long expired by retention; counts are history.
	hour := time.Unix(1334498400, 0).UTC()
	s.seed(t, device, "door_opened", hour.Add(5*time.Minute), 35)
	s.seed(t, device, "door_opened", hour.Add(time.Hour+time.Minute), 23)
	s.seed(t, device, "door_opened", hour.Add(2*time.Hour), 43)
	// A journal of 1001 recent events, a second apart, and one of an hour
	// ago.
	now := time.Now().UTC()
	start := now.Add(-2 * time.Hour).Truncate(time.Second)
	s.seed(t, device, "button_pressed", start, 1001)
	s.seed(t, device, "reboot", now.Add(-time.Hour).Truncate(time.Second), 1)
	key := s.NewKey(t, []string{routes.ScopeRead}, []string{device})
	withKey := map[string]string{"X-Api-Key": key.Key}

	counts := []struct {
		name, query, want string
	}{
		{"the document's example answers its hourly counts", "door_opened?begin=1334500000&end=1334672800&mode=aggregate_hourly",
			`[{"tst":1334498400,"val":35},{"tst":1334502000,"val":23},{"tst":1334505600,"val":43}]`},
		{"begin given as ISO 8601 answers the same", "door_opened?begin=2012-04-15T14:26:40Z&end=1334672800&mode=aggregate_hourly",
			`[{"tst":1334498400,"val":35},{"tst":1334502000,"val":23},{"tst":1334505600,"val":43}]`},
		{"newest first with olderFirst=false", "door_opened?begin=1334500000&end=1334672800&mode=aggregate_hourly&olderFirst=false",
			`[{"tst":1334505600,"val":43},{"tst":1334502000,"val":23},{"tst":1334498400,"val":35}]`},
		{"daily counts start at the day's first second", "door_opened?begin=1334500000&end=1334672800&mode=aggregate_daily",
			`[{"tst":1334448000,"val":101}]`},
		{"ISO 8601 times with human_readable=true", "door_opened?begin=1334500000&end=1334672800&mode=aggregate_hourly&human_readable=true",
			`[{"tst":"2012-04-15T14:00:00.000Z","val":35},{"tst":"2012-04-15T15:00:00.000Z","val":23},{"tst":"2012-04-15T16:00:00.000Z","val":43}]`},
		{"begin defaulting to 1970 counts every day since without 20 000 buckets", "door_opened?mode=aggregate_daily",
			`[{"tst":1334448000,"val":101}]`},
		{"hourly counts from 1970 to now are read in windows", "door_opened?mode=aggregate_hourly&page=0",
			`[{"tst":1334498400,"val":35},{"tst":1334502000,"val":23},{"tst":1334505600,"val":43}]`},
		{"a page past the last count is empty", "door_opened?mode=aggregate_hourly&page=1", `[]`},
		{"a range before the device's first event is empty", "door_opened?begin=0&end=1000000000&mode=aggregate_daily", `[]`},
		{"an empty range is empty", "door_opened?begin=1334500000&end=1334500000&mode=aggregate_hourly", `[]`},
		{"the journal lists the times from begin (inclusive) to end (exclusive)", "door_opened?begin=1334502060&end=1334502063",
			`[1334502060,1334502061,1334502062]`},
		{"the journal lists the times of the events, in Unix seconds", "reboot",
			fmt.Sprintf(`[%d]`, now.Add(-time.Hour).Truncate(time.Second).Unix())},
	}
	for _, c := range counts {
		t.Run(c.name, func(t *testing.T) {
			status, raw := s.dialectGet(t, routes.Lhings, base+c.query, withKey)
			if status != 200 || !jsonEqual(raw, json.RawMessage(c.want)) {
				t.Fatalf("got %d %s, want 200 %s", status, raw, c.want)
			}
		})
	}

	t.Run("the journal is paged by 1000, oldest first unless olderFirst=false", func(t *testing.T) {
		var all []int64
		for page := 0; ; page++ {
			status, raw := s.dialectGet(t, routes.Lhings, base+fmt.Sprintf("button_pressed?page=%d", page), withKey)
			var times []int64
			if status != 200 || json.Unmarshal(raw, &times) != nil {
				t.Fatalf("page %d: got %d %s, want 200 and a list of times", page, status, raw)
			}
			all = append(all, times...)
			if len(times) < 1000 {
				break
			}
		}
		if len(all) != 1001 || all[0] != start.Unix() || all[1000] != start.Unix()+1000 || !slices.IsSorted(all) {
			t.Fatalf("the pages hold %d times from %v, want 1001 from %d, oldest first", len(all), all[:min(3, len(all))], start.Unix())
		}
		status, raw := s.dialectGet(t, routes.Lhings, base+"button_pressed?page=1&olderFirst=false", withKey)
		if status != 200 || !jsonEqual(raw, json.RawMessage(fmt.Sprintf("[%d]", start.Unix()))) {
			t.Fatalf("newest first, page 1: got %d %s, want the oldest time alone", status, raw)
		}
	})

	errs := []struct {
		name, path string
		headers    map[string]string
		status     int
		code       string
	}{
		{"begin greater than end is 400", base + "door_opened?begin=1334672800&end=1334500000", withKey, 400, "invalid_parameter"},
		{"a negative timestamp is 400", base + "door_opened?begin=-1334500000", withKey, 400, "invalid_parameter"},
		{"a badly formatted timestamp is 400", base + "door_opened?end=tomorrow", withKey, 400, "invalid_parameter"},
		{"a negative page is 400", base + "door_opened?page=-1", withKey, 400, "invalid_parameter"},
		{"an invalid mode is 400", base + "door_opened?mode=aggregate_weekly", withKey, 400, "invalid_parameter"},
		{"a parameter Lhings does not have is 400", base + "door_opened?limit=10", withKey, 400, "query_field_not_allowed"},
		{"no X-Api-Key is 401", base + "door_opened", nil, 401, ""},
		{"an invalid X-Api-Key is 401", base + "door_opened", map[string]string{"X-Api-Key": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}, 401, ""},
		{"an event never seen on the device is 404", base + "window_opened", withKey, 404, "not_found"},
		{"a key of another device is 403", "/laas/api/v1/devices/another/events/door_opened", withKey, 403, "forbidden"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			status, raw := s.dialectGet(t, routes.Lhings, c.path, c.headers)
			var body map[string]any
			_ = json.Unmarshal(raw, &body)
			if status != c.status || (c.code != "" && body["error"] != c.code) || (c.code == "" && body["message"] != "Unauthorized") {
				t.Fatalf("got %d %s, want %d %s", status, raw, c.status, c.code)
			}
		})
	}
	t.Run("a device never seen is 404", func(t *testing.T) {
		fleet := s.NewKey(t, []string{routes.ScopeRead}, nil)
		status, raw := s.dialectGet(t, routes.Lhings, "/laas/api/v1/devices/nobody/events/door_opened", map[string]string{"X-Api-Key": fleet.Key})
		if status != 404 || !bytes.Contains(raw, []byte(`"not_found"`)) {
			t.Fatalf("got %d %s, want 404 not_found", status, raw)
		}
	})
}

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/routes"
)

func TestAnEventIsAcknowledgedThenResolved(t *testing.T) {
	s := newStack(t)
	ev := s.put("robot-7", map[string]any{"type": "milk_temp_high", "severity": "error", "data": map[string]any{"temp": 9.5, "unit": "C"}})
	self := ev["self"].(string)
	ack := s.do("PATCH", self, map[string]any{"state": "acknowledged", "comment": "on my way"}, header("If-Match", `"1"`)).want(t, 200)
	if ack.header.Get("ETag") != `"2"` || ack.body["state"] != "acknowledged" || ack.body["version"] != json.Number("2") {
		t.Fatalf("after acknowledging: ETag %s, %v", ack.header.Get("ETag"), ack.body)
	}
	updates := ack.body["updates"].([]any)
	first := updates[0].(map[string]any)
	if len(updates) != 1 || first["by"] != "tester" || fmt.Sprint(first["changes"]) != fmt.Sprint(map[string]any{"comment": "on my way", "state": "acknowledged"}) {
		t.Fatalf("updates = %v, want one by tester with the state and the comment", updates)
	}
	// The merge patch: unit goes, checkedBy comes, temp stays.
	res := s.do("PATCH", self, `{"state":"resolved","data":{"unit":null,"checkedBy":"alice"}}`, header("Content-Type", "application/merge-patch+json")).want(t, 200)
	data := res.body["data"].(map[string]any)
	if res.body["state"] != "resolved" || data["temp"] != json.Number("9.5") || data["checkedBy"] != "alice" || data["unit"] != nil {
		t.Fatalf("after resolving: state %v, data %v", res.body["state"], data)
	}
	if res.body["lastUpdated"] == res.body["creationTime"] {
		t.Errorf("lastUpdated did not move")
	}
	// The old ETag no longer holds, for PATCH and DELETE alike.
	s.do("PATCH", self, map[string]any{"severity": "info"}, header("If-Match", `"1"`)).want(t, 412, "precondition_failed")
	s.do("DELETE", self, nil, header("If-Match", `"2"`)).want(t, 412, "precondition_failed")
	if got := s.do("GET", self, nil).want(t, 200); got.header.Get("ETag") != `"3"` {
		t.Fatalf("GET ETag = %s, want \"3\"", got.header.Get("ETag"))
	}
}

func TestPatchErrors(t *testing.T) {
	s := newStack(t)
	ev := s.put("d", map[string]any{"type": "alarm"})
	self := ev["self"].(string)
	cases := []struct {
		name   string
		body   any
		opts   []option
		status int
		code   string
	}{
		{"another type is immutable", map[string]any{"type": "other"}, nil, 400, "immutable_field"},
		{"another time is immutable", map[string]any{"time": "2020-01-01T00:00:00Z"}, nil, 400, "immutable_field"},
		{"another id is immutable", map[string]any{"id": "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"}, nil, 400, "immutable_field"},
		{"an unknown field is refused", map[string]any{"colour": "red"}, nil, 400, "invalid_event"},
		{"the version is not settable", map[string]any{"version": 7}, nil, 400, "invalid_event"},
		{"an unknown state is refused", map[string]any{"state": "closed"}, nil, 400, "invalid_event"},
		{"data must stay an object", map[string]any{"data": []any{1}}, nil, 400, "invalid_event"},
		{"a body that is not JSON", "{state:", nil, 400, "invalid_json"},
		{"text/plain is refused", `{"state":"resolved"}`, []option{header("Content-Type", "text/plain")}, 415, "unsupported_media_type"},
		{"a body over 256 KiB", map[string]any{"text": strings.Repeat("x", 300<<10)}, nil, 413, "payload_too_large"},
		{"a bad If-Match", map[string]any{"state": "resolved"}, []option{header("If-Match", "abc")}, 400, "invalid_parameter"},
		{"patching needs events/write", map[string]any{"state": "resolved"}, []option{bearer(s.mint([]string{routes.ScopeRead}, nil))}, 403, apigw("Forbidden")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.do("PATCH", self, tc.body, tc.opts...).want(t, tc.status, tc.code)
		})
	}
	s.do("PATCH", "/devices/d/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", map[string]any{"state": "resolved"}).want(t, 404, "not_found")
	// Immutable fields sent with their own values are fine.
	s.do("PATCH", self, map[string]any{"id": ev["id"], "type": "alarm", "time": ev["time"], "creationTime": ev["creationTime"], "deviceId": "d", "state": "acknowledged"}).want(t, 200)
	if v := s.do("GET", self, nil).want(t, 200).body["version"]; v != json.Number("2") {
		t.Fatalf("version = %v after one good patch and %d refused ones, want 2", v, len(cases))
	}
}

func TestConcurrentPatchesOverHTTPLoseNothing(t *testing.T) {
	s := newStack(t)
	self := s.put("d", map[string]any{"type": "alarm"})["self"].(string)
	const n = 20
	var wg sync.WaitGroup
	status := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = s.do("PATCH", self, map[string]any{"comment": fmt.Sprint("note ", i), "data": map[string]any{fmt.Sprint("k", i): i}}).status
		}()
	}
	wg.Wait()
	for i, st := range status {
		if st != 200 {
			t.Fatalf("patch %d answered %d", i, st)
		}
	}
	ev := s.do("GET", self, nil).want(t, 200).body
	if len(ev["updates"].([]any)) != n || len(ev["data"].(map[string]any)) != n || ev["version"] != json.Number(fmt.Sprint(n+1)) {
		t.Fatalf("%d updates, %d data keys, version %v; want %d, %d, %d", len(ev["updates"].([]any)), len(ev["data"].(map[string]any)), ev["version"], n, n, n+1)
	}
}

func TestBulkDelete(t *testing.T) {
	s := newStack(t)
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	var batch []any
	for i := 0; i < 30; i++ {
		batch = append(batch, map[string]any{"type": []string{"door", "milk"}[i%2], "time": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)})
	}
	s.do("POST", "/devices/b/events", batch).want(t, 201)
	total := func(q string) int {
		_, n := buckets(t, s.do("GET", "/devices/b/aggregates?interval=hour&"+q, nil).want(t, 200))
		return n
	}
	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"", 400, "invalid_parameter"},
		{"dryRun=true", 400, "invalid_parameter"},
		{"all=yes", 400, "invalid_parameter"},
		{"type=door&colour=red", 400, "query_field_not_allowed"},
		{"type=door&pageToken=forged", 400, "invalid_page_token"},
	} {
		s.do("DELETE", "/devices/b/events?"+tc.query, nil).want(t, tc.status, tc.code)
	}
	dry := s.do("DELETE", "/devices/b/events?type=door&dryRun=true", nil).want(t, 200).body
	if dry["deleted"] != json.Number("15") || dry["dryRun"] != true {
		t.Fatalf("dry run = %v, want deleted 15 and dryRun true", dry)
	}
	if n := total("type=door"); n != 15 {
		t.Fatalf("a dry run changed the counts: %d door events", n)
	}
	done := s.do("DELETE", "/devices/b/events?type=door", nil).want(t, 200).body
	if done["deleted"] != json.Number("15") || done["nextPageToken"] != nil {
		t.Fatalf("delete = %v, want 15 and no next page", done)
	}
	if n, m := total("type=door"), total("type=milk"); n != 0 || m != 15 {
		t.Fatalf("after deleting doors: door %d, milk %d; want 0, 15", n, m)
	}
	from := base.Add(10 * time.Minute).Format(time.RFC3339)
	ranged := s.do("DELETE", "/devices/b/events?from="+from, nil).want(t, 200).body
	if ranged["deleted"] != json.Number("10") {
		t.Fatalf("deleting from %s: %v, want 10", from, ranged)
	}
	all := s.do("DELETE", "/devices/b/events?all=true", nil).want(t, 200).body
	if all["deleted"] != json.Number("5") || total("") != 0 {
		t.Fatalf("all=true: %v, then %d counted; want 5 and 0", all, total(""))
	}
	s.do("DELETE", "/devices/b/events?all=true", nil, bearer(s.mint([]string{routes.ScopeWrite}, nil))).want(t, 403, apigw("Forbidden"))
}

func TestBulkDeleteGoesOnWithItsToken(t *testing.T) {
	s := newStack(t)
	base := time.Now().UTC().Add(-time.Hour)
	for b := 0; b < 11; b++ {
		var batch []any
		for i := 0; i < 100; i++ {
			batch = append(batch, map[string]any{"type": "tick", "time": base.Add(time.Duration(b*100+i) * time.Millisecond).Format(time.RFC3339Nano)})
		}
		s.do("POST", "/devices/many/events", batch).want(t, 201)
	}
	first := s.do("DELETE", "/devices/many/events?type=tick", nil).want(t, 200).body
	tok, _ := first["nextPageToken"].(string)
	if first["deleted"] != json.Number("1000") || tok == "" {
		t.Fatalf("first call = %v, want 1000 and a token", first)
	}
	s.do("DELETE", "/devices/many/events?type=other&pageToken="+tok, nil).want(t, 400, "invalid_page_token")
	second := s.do("DELETE", "/devices/many/events?type=tick&pageToken="+tok, nil).want(t, 200).body
	if second["deleted"] != json.Number("100") || second["nextPageToken"] != nil {
		t.Fatalf("second call = %v, want 100 and no token", second)
	}
	if left := s.do("GET", "/devices/many/events", nil).want(t, 200).events(t); len(left) != 0 {
		t.Fatalf("%d events left", len(left))
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAnEventPutIsReturnedByGetWithItsETag(t *testing.T) {
	s := newStack(t)
	r := s.do("POST", "/devices/robot-7/events", map[string]any{"type": "door_opened", "severity": "warning", "status": "Open", "text": "left open", "data": map[string]any{"temp": 21.5, "big": json.Number("123456789012345678901234567890")}}).want(t, 201)
	ev := r.events(t)[0]
	if r.body["message"] != "Successfully added events for robot-7" {
		t.Errorf("message = %v", r.body["message"])
	}
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q, want \"1\" for one new event", r.header.Get("ETag"))
	}
	if loc := r.header.Get("Location"); loc != ev["self"] || !strings.HasPrefix(loc, "/devices/robot-7/events/") {
		t.Errorf("Location = %q, self = %v; want the same /devices/robot-7/events/<id>", loc, ev["self"])
	}
	for k, want := range map[string]any{"deviceId": "robot-7", "type": "door_opened", "severity": "warning", "state": "new", "status": "Open", "text": "left open", "version": json.Number("1")} {
		if ev[k] != want {
			t.Errorf("%s = %v, want %v", k, ev[k], want)
		}
	}
	if ev["time"] != ev["creationTime"] || ev["creationTime"] != ev["lastUpdated"] {
		t.Errorf("time %v, creationTime %v, lastUpdated %v: want all equal for a new event without time", ev["time"], ev["creationTime"], ev["lastUpdated"])
	}
	got := s.do("GET", ev["self"].(string), nil).want(t, 200)
	if got.header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q, want \"1\"", got.header.Get("ETag"))
	}
	if fmt.Sprint(got.body) != fmt.Sprint(ev) {
		t.Errorf("GET = %v\nwant %v", got.body, ev)
	}
	if d := got.body["data"].(map[string]any); d["big"] != json.Number("123456789012345678901234567890") {
		t.Errorf("data.big = %v, want every digit kept", d["big"])
	}
}

func TestTheDeLavalBodyMapsFunctionAndDescription(t *testing.T) {
	s := newStack(t)
	ev := s.put("e8613951-216a-4ad7-85e3-dd963d0823c4", map[string]any{"deviceid": "e8613951-216a-4ad7-85e3-dd963d0823c4", "status": "Failed",
		"description": "Group b76f won't be pushed, because pkg_spiderman_gwip is missing", "function": "get-greengrass-configurations"})
	for k, want := range map[string]any{"type": "get-greengrass-configurations", "status": "Failed", "text": "Group b76f won't be pushed, because pkg_spiderman_gwip is missing"} {
		if ev[k] != want {
			t.Errorf("%s = %v, want %v", k, ev[k], want)
		}
	}
	s.do("POST", "/devices/other/events", map[string]any{"deviceid": "e8613951", "status": "x", "description": "y", "function": "f"}).want(t, 400, "invalid_event")
	s.do("POST", "/devices/d/events", map[string]any{"deviceid": "d", "status": "x", "description": "y"}).want(t, 400, "invalid_event")
	s.do("POST", "/devices/d/events", map[string]any{"deviceid": "d", "function": "f", "colour": "red"}).want(t, 400, "invalid_event")
}

func TestASaltJobReturnIsCounted(t *testing.T) {
	s := newStack(t)
	job := map[string]any{"fun": "state.apply", "jid": "20261122101530123456", "id": "minion-1", "retcode": 2, "success": true, "fun_args": []any{"milking"},
		"return": map[string]any{
			"file_|-a_|-/etc/a_|-managed": map[string]any{"result": true, "comment": "ok"},
			"pkg_|-b_|-b_|-installed":     map[string]any{"result": true},
			"service_|-c_|-c_|-running":   map[string]any{"result": false, "comment": "failed to start"},
		}}
	ev := s.put("gw-1", job)
	data := ev["data"].(map[string]any)
	if ev["type"] != "state.apply" || ev["status"] != "Failed" || data["succeeded"] != json.Number("2") || data["failed"] != json.Number("1") {
		t.Fatalf("type %v status %v succeeded %v failed %v; want state.apply Failed 2 1", ev["type"], ev["status"], data["succeeded"], data["failed"])
	}
	if data["job"].(map[string]any)["jid"] != "20261122101530123456" {
		t.Errorf("data.job does not hold the return: %v", data["job"])
	}
	job["retcode"] = 0
	delete(job["return"].(map[string]any), "service_|-c_|-c_|-running")
	if ev := s.put("gw-1", job); ev["status"] != "Succeeded" {
		t.Errorf("status = %v, want Succeeded for success, retcode 0 and nothing failed", ev["status"])
	}
}

func TestABatchIsAllOrNothing(t *testing.T) {
	s := newStack(t)
	r := s.do("POST", "/devices/d1/events", []any{map[string]any{"type": "a"}, map[string]any{"function": "b", "status": "ok"}}).want(t, 201)
	if n := len(r.events(t)); n != 2 {
		t.Fatalf("batch stored %d events, want 2", n)
	}
	s.do("POST", "/devices/d1/events", map[string]any{"events": []any{map[string]any{"type": "c"}}}).want(t, 201)
	before := len(s.scan())
	bad := s.do("POST", "/devices/d1/events", []any{map[string]any{"type": "ok"}, map[string]any{"type": ""}}).want(t, 400, "invalid_event")
	if bad.body["field"] != "events[1].type" {
		t.Errorf("field = %v, want events[1].type", bad.body["field"])
	}
	many := make([]any, 101)
	for i := range many {
		many[i] = map[string]any{"type": "x"}
	}
	s.do("POST", "/devices/d1/events", many).want(t, 400, "invalid_event")
	s.do("POST", "/devices/d1/events", []any{}).want(t, 400, "invalid_event")
	s.do("POST", "/devices/d1/events", map[string]any{"events": []any{}}).want(t, 400, "invalid_event")
	if after := len(s.scan()); after != before {
		t.Fatalf("refused batches wrote %d items", after-before)
	}
}

func TestARetryWithAnIdempotencyKeyAnswers200WithTheStoredEvent(t *testing.T) {
	s := newStack(t)
	body := map[string]any{"type": "door_opened"}
	first := s.do("POST", "/devices/d/events", body, header("Idempotency-Key", "abc-1")).want(t, 201).events(t)[0]
	again := s.do("POST", "/devices/d/events", body, header("Idempotency-Key", "abc-1")).want(t, 200).events(t)[0]
	if again["id"] != first["id"] {
		t.Fatalf("retry id %v, want %v", again["id"], first["id"])
	}
	s.do("POST", "/devices/d/events", map[string]any{"type": "other"}, header("Idempotency-Key", "abc-1")).want(t, 409, "conflict")
	// The same key on another device is another key.
	s.do("POST", "/devices/e/events", body, header("Idempotency-Key", "abc-1")).want(t, 201)
	// A key in the body works the same way.
	b := map[string]any{"type": "t", "idempotencyKey": "k2"}
	id := s.do("POST", "/devices/d/events", b).want(t, 201).events(t)[0]["id"]
	if got := s.do("POST", "/devices/d/events", b).want(t, 200).events(t)[0]["id"]; got != id {
		t.Fatalf("body-key retry id %v, want %v", got, id)
	}
	// A batch with a header key: the whole batch is the unit.
	batch := []any{map[string]any{"type": "a"}, map[string]any{"type": "b"}}
	ids := s.do("POST", "/devices/d/events", batch, header("Idempotency-Key", "batch-1")).want(t, 201).events(t)
	again2 := s.do("POST", "/devices/d/events", batch, header("Idempotency-Key", "batch-1")).want(t, 200).events(t)
	if ids[0]["id"] != again2[0]["id"] || ids[1]["id"] != again2[1]["id"] {
		t.Fatalf("batch retry ids %v %v, want %v %v", again2[0]["id"], again2[1]["id"], ids[0]["id"], ids[1]["id"])
	}
	list := s.do("GET", "/devices/d/events?limit=1000", nil).want(t, 200).events(t)
	if len(list) != 4 {
		t.Fatalf("device d holds %d events, want 4 (no duplicates)", len(list))
	}
	s.do("POST", "/devices/d/events", body, header("Idempotency-Key", "has space")).want(t, 400, "invalid_parameter")
}

func TestListingPagesThroughEveryEventOnceInOrder(t *testing.T) {
	s := newStack(t)
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var batch []any
	for i := 0; i < 25; i++ {
		batch = append(batch, map[string]any{"type": []string{"a", "b"}[i%2], "time": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)})
	}
	s.do("POST", "/devices/pager/events", batch).want(t, 201)
	for _, order := range []string{"desc", "asc"} {
		var seen []string
		next := "/devices/pager/events?limit=7&order=" + order
		pages := 0
		for next != "" {
			r := s.do("GET", next, nil).want(t, 200)
			for _, e := range r.events(t) {
				seen = append(seen, e["time"].(string))
			}
			next, _ = r.body["next"].(string)
			if tok, _ := r.body["nextPageToken"].(string); (tok == "") != (next == "") {
				t.Fatalf("nextPageToken %q and next %q must come together", tok, next)
			}
			pages++
		}
		if len(seen) != 25 || pages != 4 {
			t.Fatalf("%s: %d events in %d pages, want 25 in 4", order, len(seen), pages)
		}
		for i := 1; i < len(seen); i++ {
			if (order == "desc") != (seen[i] < seen[i-1]) {
				t.Fatalf("%s: %s then %s", order, seen[i-1], seen[i])
			}
		}
	}
	// Exactly a page's worth: no token to an empty page.
	if r := s.do("GET", "/devices/pager/events?limit=25", nil).want(t, 200); r.body["nextPageToken"] != nil {
		t.Fatalf("a full last page has nextPageToken %v", r.body["nextPageToken"])
	}
}

func TestListingFilters(t *testing.T) {
	s := newStack(t)
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	s.do("POST", "/devices/f/events", []any{
		map[string]any{"type": "door", "severity": "error", "status": "Failed", "time": base.Format(time.RFC3339)},
		map[string]any{"type": "door", "severity": "info", "time": base.Add(time.Hour).Format(time.RFC3339)},
		map[string]any{"type": "milk", "severity": "critical", "status": "Failed", "time": base.Add(2 * time.Hour).Format(time.RFC3339)},
	}).want(t, 201)
	cases := []struct {
		query string
		want  int
	}{
		{"", 3},
		{"type=door", 2},
		{"type=door,milk", 3},
		{"severity=error,critical", 2},
		{"status=Failed", 2},
		{"state=new", 3},
		{"state=acknowledged", 0},
		{"from=" + url.QueryEscape(base.Add(time.Hour).Format(time.RFC3339)), 2},
		{"to=" + fmt.Sprint(base.Add(time.Hour).Unix()), 1},
		{"from=" + fmt.Sprint(base.Unix()) + "&to=" + url.QueryEscape(base.Add(2*time.Hour).Format(time.RFC3339)), 2},
		{"type=door&severity=info", 1},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			if got := len(s.do("GET", "/devices/f/events?"+tc.query, nil).want(t, 200).events(t)); got != tc.want {
				t.Fatalf("%d events, want %d", got, tc.want)
			}
		})
	}
	unix := s.do("GET", "/devices/f/events?timeFormat=unix&limit=1&order=asc", nil).want(t, 200).events(t)[0]
	if unix["time"] != json.Number(fmt.Sprint(base.UnixMilli())) {
		t.Errorf("timeFormat=unix time = %v, want %d", unix["time"], base.UnixMilli())
	}
	if got := s.do("GET", "/devices/nobody/events", nil).want(t, 200).events(t); len(got) != 0 {
		t.Errorf("a device without events lists %d", len(got))
	}
}

func TestListingRejectsBadParameters(t *testing.T) {
	s := newStack(t)
	s.put("p", map[string]any{"type": "a"})
	s.put("p", map[string]any{"type": "a"})
	cases := []struct{ query, code, param string }{
		{"colour=red", "query_field_not_allowed", "colour"},
		{"limit=0", "invalid_parameter", "limit"},
		{"limit=1001", "invalid_parameter", "limit"},
		{"limit=ten", "invalid_parameter", "limit"},
		{"limit=1&limit=2", "invalid_parameter", "limit"},
		{"order=up", "invalid_parameter", "order"},
		{"from=yesterday", "invalid_parameter", "from"},
		{"from=-5", "invalid_parameter", "from"},
		{"from=2026-11-22T10:00:00Z&to=2026-11-22T10:00:00Z", "invalid_parameter", "from"},
		{"severity=fatal", "invalid_parameter", "severity"},
		{"state=closed", "invalid_parameter", "state"},
		{"timeFormat=epoch", "invalid_parameter", "timeFormat"},
		{"type=a,b,c,d,e,f,g,h,i,j,k", "invalid_parameter", "type"},
		{"pageToken=garbage", "invalid_page_token", "pageToken"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			r := s.do("GET", "/devices/p/events?"+tc.query, nil).want(t, 400, tc.code)
			if r.body["parameter"] != tc.param {
				t.Fatalf("parameter = %v, want %s", r.body["parameter"], tc.param)
			}
		})
	}
	tok := s.do("GET", "/devices/p/events?limit=1&type=a", nil).want(t, 200).body["nextPageToken"].(string)
	s.do("GET", "/devices/p/events?limit=1&type=a&pageToken="+tok, nil).want(t, 200)
	s.do("GET", "/devices/p/events?limit=5&type=a&pageToken="+tok, nil).want(t, 200) // page size may change
	s.do("GET", "/devices/other/events?limit=1&type=a&pageToken="+tok, nil).want(t, 400, "invalid_page_token")
	s.do("GET", "/devices/p/events?limit=1&pageToken="+tok, nil).want(t, 400, "invalid_page_token")
	s.do("GET", "/devices/p/events?limit=1&type=a&order=asc&pageToken="+tok, nil).want(t, 400, "invalid_page_token")
	edited := []byte(tok)
	edited[len(edited)/2] ^= 1
	s.do("GET", "/devices/p/events?limit=1&type=a&pageToken="+string(edited), nil).want(t, 400, "invalid_page_token")
}

func TestTheFleetListMergesDevicesByTime(t *testing.T) {
	s := newStack(t)
	base := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 30; i++ {
		dev := fmt.Sprintf("dev-%d", i%3)
		s.put(dev, map[string]any{"type": []string{"door", "milk"}[i%2], "time": base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)})
	}
	var times []string
	next := "/events?type=door&limit=4"
	for next != "" {
		r := s.do("GET", next, nil).want(t, 200)
		for _, e := range r.events(t) {
			if e["type"] != "door" {
				t.Fatalf("type %v in a type=door listing", e["type"])
			}
			times = append(times, e["time"].(string))
		}
		next, _ = r.body["next"].(string)
	}
	if len(times) != 15 {
		t.Fatalf("fleet listing returned %d door events, want 15", len(times))
	}
	for i := 1; i < len(times); i++ {
		if times[i] >= times[i-1] {
			t.Fatalf("not newest first: %s then %s", times[i-1], times[i])
		}
	}
	if n := len(s.do("GET", "/events?type=door,milk&limit=1000", nil).want(t, 200).events(t)); n != 30 {
		t.Fatalf("two types: %d events, want 30", n)
	}
	s.do("GET", "/events", nil).want(t, 400, "invalid_parameter")
}

func TestDeleteRemovesAnEventOnce(t *testing.T) {
	s := newStack(t)
	ev := s.put("d", map[string]any{"type": "t"})
	self := ev["self"].(string)
	s.do("DELETE", self, nil, header("If-Match", `"2"`)).want(t, 412, "precondition_failed")
	s.do("DELETE", self, nil, header("If-Match", `nonsense`)).want(t, 400, "invalid_parameter")
	r := s.do("DELETE", self, nil, header("If-Match", `"1"`)).want(t, 204)
	if len(r.raw) != 0 {
		t.Errorf("204 with a body: %s", r.raw)
	}
	s.do("DELETE", self, nil).want(t, 404, "not_found")
	s.do("GET", self, nil).want(t, 404, "not_found")
	s.do("GET", "/devices/d/events/not-an-id", nil).want(t, 404, "not_found")
}

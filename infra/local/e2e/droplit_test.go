package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

type droplitHistory struct {
	Items []struct {
		DeviceID, EnvironmentID, Member, RecordKey, Service, Time, Type string
		Value                                                           any
	} `json:"items"`
	ContinuationToken string `json:"continuationToken"`
}

// TestDroplitDeviceHistoryAnswersAsItsDocumentSays sends the document's
// example (GET /api/devices/DEVICE-ID/history with a raw authorization
// header) and its parameters, and every error it names.
func TestDroplitDeviceHistoryAnswersAsItsDocumentSays(t *testing.T) {
	s := newStack(t)
	const device = "D573bc694ae9ac9419f028b61"
	now := time.Now().UTC().Truncate(time.Second)
	put := func(ev eventstore.NewEvent) {
		t.Helper()
		ev.DeviceID = device
		if _, err := s.Store.Put(context.Background(), eventstore.PutRequest{Events: []eventstore.NewEvent{ev}}); err != nil {
			t.Fatal(err)
		}
	}
	put(eventstore.NewEvent{Type: "BinarySwitch", Time: now.Add(-3 * time.Minute),
		Data: map[string]any{"member": "switch", "value": "on", "index": json.Number("0"), "environmentId": "E573bb9ffd717111220812c3a"}})
	put(eventstore.NewEvent{Type: "BinarySwitch", Time: now.Add(-2 * time.Minute), Data: map[string]any{"member": "switch", "value": "off", "index": json.Number("1")}})
	put(eventstore.NewEvent{Type: "get-greengrass-configurations", Time: now.Add(-time.Minute), Severity: eventstore.SeverityError, Text: "pkg missing"})
	key := s.NewKey(t, []string{routes.ScopeRead}, []string{device})
	auth := map[string]string{"authorization": key.Key}
	history := func(t *testing.T, query string) droplitHistory {
		t.Helper()
		status, raw := s.dialectGet(t, routes.Droplit, "/api/devices/"+device+"/history"+query, auth)
		var h droplitHistory
		if status != 200 || json.Unmarshal(raw, &h) != nil {
			t.Fatalf("GET history%s: got %d %s, want 200 and a history", query, status, raw)
		}
		return h
	}
	services := func(h droplitHistory) []string {
		var out []string
		for _, it := range h.Items {
			out = append(out, it.Service+"/"+it.Member+"/"+fmt.Sprint(it.Value)+"/"+it.Type)
		}
		return out
	}

	t.Run("the document's example answers the device's records, newest first", func(t *testing.T) {
		h := history(t, "")
		want := []string{"get-greengrass-configurations//pkg missing/error", "BinarySwitch/switch/off/event", "BinarySwitch/switch/on/event"}
		if fmt.Sprint(services(h)) != fmt.Sprint(want) || h.ContinuationToken != "" {
			t.Fatalf("got %v (token %q), want %v and no token", services(h), h.ContinuationToken, want)
		}
		first := h.Items[2]
		if first.DeviceID != device || first.EnvironmentID != "E573bb9ffd717111220812c3a" || first.RecordKey == "" {
			t.Fatalf("record %+v: want its device, environment and record key", first)
		}
		if tm, err := time.Parse(time.RFC3339, first.Time); err != nil || !tm.Equal(now.Add(-3*time.Minute)) {
			t.Fatalf("time %q, want %s in ISO 8601", first.Time, now.Add(-3*time.Minute))
		}
	})
	filters := []struct {
		name, query string
		want        []string
	}{
		{"service, member and the document's lower-case type filter", "?service=BinarySwitch&member=switch&type=event",
			[]string{"BinarySwitch/switch/off/event", "BinarySwitch/switch/on/event"}},
		{"the error type", "?type=Error", []string{"get-greengrass-configurations//pkg missing/error"}},
		{"a type the service never records", "?type=changed", nil},
		{"index", "?index=1", []string{"BinarySwitch/switch/off/event"}},
		{"startDate and endDate, both included", "?startDate=" + url.QueryEscape(now.Add(-3*time.Minute).Format(time.RFC3339)) +
			"&endDate=" + url.QueryEscape(now.Add(-2*time.Minute).Format(time.RFC3339)),
			[]string{"BinarySwitch/switch/off/event", "BinarySwitch/switch/on/event"}},
	}
	for _, c := range filters {
		t.Run("the history filters on "+c.name, func(t *testing.T) {
			if got := services(history(t, c.query)); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("pages follow continuationToken, and continuationCount skips to one", func(t *testing.T) {
		var byToken []string
		query := "?pageSize=1"
		for range 4 {
			h := history(t, query)
			byToken = append(byToken, services(h)...)
			if h.ContinuationToken == "" {
				break
			}
			query = "?pageSize=1&continuationToken=" + url.QueryEscape(h.ContinuationToken)
		}
		if len(byToken) != 3 {
			t.Fatalf("the pages held %v, want the three records", byToken)
		}
		for n, want := range byToken {
			if got := services(history(t, fmt.Sprintf("?pageSize=1&continuationCount=%d", n))); len(got) != 1 || got[0] != want {
				t.Fatalf("continuationCount=%d: got %v, want [%s]", n, got, want)
			}
		}
		if got := history(t, "?pageSize=1&continuationCount=3"); len(got.Items) != 0 {
			t.Fatalf("past the last page: got %v, want none", services(got))
		}
	})

	fleet := map[string]string{"authorization": s.NewKey(t, []string{routes.ScopeRead}, nil).Key}
	errs := []struct {
		name, path string
		headers    map[string]string
		status     int
		reason     string
	}{
		{"an invalid device id", "/api/devices/" + url.PathEscape("bad id") + "/history", fleet, 400, "Device Invalid"},
		{"a negative continuationCount", "?continuationCount=-1", auth, 400, "History Continuation Count Invalid"},
		{"a malformed endDate", "?endDate=yesterday", auth, 400, "History End Date Invalid"},
		{"an unknown type", "?type=poked", auth, 400, "History Event Type Invalid"},
		{"a pageSize of 0", "?pageSize=0", auth, 400, "History Page Size Invalid"},
		{"a malformed startDate", "?startDate=2016-13-13", auth, 400, "History Start Date Invalid"},
		{"a negative index", "?index=-1", auth, 400, "History Service Index Invalid"},
		{"an unknown query field", "?limit=5", auth, 400, "Query Field Not Allowed"},
		{"a device never seen", "/api/devices/nobody/history", fleet, 404, "Device Not Found"},
		{"another device than the key's", "/api/devices/another/history", auth, 403, "forbidden"},
		{"a continuationToken of another query", "?continuationToken=abc", auth, 400, "invalid_page_token"},
		{"no authorization", "", nil, 401, ""},
	}
	for _, c := range errs {
		t.Run(c.name+" is "+fmt.Sprint(c.status)+" "+c.reason, func(t *testing.T) {
			path := c.path
			if len(path) == 0 || path[0] == '?' {
				path = "/api/devices/" + device + "/history" + path
			}
			status, raw := s.dialectGet(t, routes.Droplit, path, c.headers)
			var body map[string]any
			_ = json.Unmarshal(raw, &body)
			if status != c.status || (c.reason != "" && body["error"] != c.reason) || (c.reason == "" && body["message"] != "Unauthorized") {
				t.Fatalf("got %d %s, want %d %q", status, raw, c.status, c.reason)
			}
		})
	}
}

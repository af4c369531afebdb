package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// The reference's examples (losant-event-actions.txt): its application,
// its event's device, its patch.
const (
	losantApp    = "575ec8687ae143cd83dc4a97"
	losantDevice = "575ecf887ae143cd83dc4aa2"
)

// losant sends a request to the key API as losant-rest does (Accept,
// Authorization: Bearer <key>, JSON), and checks the exchange against the
// dialect's OpenAPI document.
func (s *stack) losant(key, method, path string, body any, opts ...option) reply {
	s.t.Helper()
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	default:
		var err error
		if sent, err = json.Marshal(b); err != nil {
			s.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, s.KeysURL+path, bytes.NewReader(sent))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
	}
	for _, o := range opts {
		o(req)
	}
	return send(s.t, openapi.ForDialect(routes.Losant), req, false)
}

// wantLosant fails the test unless the reply has the status and, for an
// error, Losant's {"type", "message"} with that type, or API Gateway's
// own {"message"} for apigw(...).
func (r reply) wantLosant(t *testing.T, status int, typ string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if msg, ok := strings.CutPrefix(typ, apigwPrefix); ok {
		if len(r.body) != 1 || r.body["message"] != msg {
			t.Fatalf("body = %s, want API Gateway's {\"message\":%q}", r.raw, msg)
		}
		return r
	}
	if typ != "" && (len(r.body) != 2 || r.body["type"] != typ || r.body["message"] == "") {
		t.Fatalf("body = %s, want Losant's {\"type\":%q,\"message\":...}", r.raw, typ)
	}
	return r
}

func losantEvents(app string) string { return "/applications/" + app + "/events" }

// TestLosantEventsFollowTheReference drives each route with the
// reference's examples, as raw HTTP, and holds the answers to Losant's
// shapes and to the native view of the same events.
func TestLosantEventsFollowTheReference(t *testing.T) {
	s := newStack(t)
	key := s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, nil).Key
	events := losantEvents(losantApp)
	example := map[string]any{
		"level": "info", "subject": "Power levels critical",
		"message":  "Power levels on device 432 have surpassed critical thresholds",
		"deviceId": losantDevice, "creationDate": "2016-06-13T04:00:00.000Z", "data": map[string]any{"voltage": 3.1},
	}
	posted := s.losant(key, "POST", events, example).wantLosant(t, 201, "").body
	for _, k := range []string{"level", "subject", "message", "deviceId", "creationDate"} {
		if posted[k] != example[k] {
			t.Errorf("posted %s = %v, want %v", k, posted[k], example[k])
		}
	}
	id, _ := posted["id"].(string)
	if posted["eventId"] != id || posted["applicationId"] != losantApp || posted["state"] != "new" {
		t.Errorf("posted = %v, want eventId = id, applicationId %s, state new", posted, losantApp)
	}
	device, native, ok := eventstore.ParseGlobalID(id)
	if !ok || device != losantDevice {
		t.Fatalf("id %q does not carry the device %s", id, losantDevice)
	}

	t.Run("the native API sees the event with its native fields", func(t *testing.T) {
		ev := s.do("GET", "/devices/"+losantDevice+"/events/"+native, nil).want(t, 200).body
		want := map[string]any{"type": example["subject"], "severity": "info", "text": example["message"], "time": example["creationDate"], "state": "new"}
		for k, v := range want {
			if ev[k] != v {
				t.Errorf("native %s = %v, want %v", k, ev[k], v)
			}
		}
	})
	t.Run("GET answers the event as POST did", func(t *testing.T) {
		got := s.losant(key, "GET", events+"/"+id+"?_actions=false&_links=true&_embedded=true", nil).wantLosant(t, 200, "").body
		if !reflect.DeepEqual(got, posted) {
			t.Errorf("got %v, want %v", got, posted)
		}
	})
	t.Run("any application id names the one application, and is echoed", func(t *testing.T) {
		got := s.losant(key, "GET", losantEvents("another-app")+"/"+id, nil).wantLosant(t, 200, "").body
		if got["applicationId"] != "another-app" || got["id"] != id {
			t.Errorf("got %v, want the event under another-app", got)
		}
	})
	t.Run("PATCH with the reference's body acknowledges it and records the comment", func(t *testing.T) {
		got := s.losant(key, "PATCH", events+"/"+id, map[string]any{"state": "acknowledged", "comment": "Looking into this issue"}).wantLosant(t, 200, "").body
		updates, _ := got["updates"].([]any)
		if got["state"] != "acknowledged" || len(updates) != 1 {
			t.Fatalf("got %v, want acknowledged with one update", got)
		}
		u := updates[0].(map[string]any)
		want := map[string]any{"comment": "Looking into this issue", "sourceType": "apiToken", "stateChange": map[string]any{"old": "new", "new": "acknowledged"}}
		for k, v := range want {
			if !reflect.DeepEqual(u[k], v) {
				t.Errorf("update %s = %v, want %v", k, u[k], v)
			}
		}
		nat := s.do("GET", "/devices/"+losantDevice+"/events/"+native, nil).want(t, 200).body
		if nu := nat["updates"].([]any); len(nu) != 1 || !reflect.DeepEqual(nu[0].(map[string]any)["changes"], map[string]any{"state": "acknowledged", "comment": "Looking into this issue"}) {
			t.Errorf("native updates = %v, want one with the state and the comment", nat["updates"])
		}
	})
	t.Run("PATCH of level, message and data is the native severity, text and a merge of data", func(t *testing.T) {
		got := s.losant(key, "PATCH", events+"/"+id, map[string]any{"level": "critical", "message": "worse", "data": map[string]any{"phase": "B"}, "subject": example["subject"]}).wantLosant(t, 200, "").body
		if got["level"] != "critical" || got["message"] != "worse" || !reflect.DeepEqual(got["data"], map[string]any{"voltage": json.Number("3.1"), "phase": "B"}) {
			t.Errorf("got %v, want critical, worse, data merged", got)
		}
	})
	t.Run("concurrent PATCHes lose no comment", func(t *testing.T) {
		const n = 8
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				body := strings.NewReader(`{"comment":"note ` + string(rune('a'+i)) + `"}`)
				req, _ := http.NewRequest("PATCH", s.KeysURL+events+"/"+id, body)
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				res.Body.Close()
				statuses <- res.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		accepted := 0
		for st := range statuses {
			switch st {
			case 200:
				accepted++
			case 409: // collided: the client may retry; nothing recorded
			default:
				t.Errorf("a concurrent PATCH answered %d, want 200 (or 409 to retry)", st)
			}
		}
		got := s.losant(key, "GET", events+"/"+id, nil).wantLosant(t, 200, "").body
		comments := map[string]bool{}
		for _, u := range got["updates"].([]any) {
			if c, ok := u.(map[string]any)["comment"].(string); ok && strings.HasPrefix(c, "note ") {
				comments[c] = true
			}
		}
		if accepted == 0 || len(comments) != accepted {
			t.Errorf("the history holds %d comments of the %d PATCHes accepted (of %d): %v", len(comments), accepted, n, comments)
		}
	})
	t.Run("a listing has Losant's collection fields and its page numbers", func(t *testing.T) {
		for _, at := range []string{"2016-06-13T05:00:00Z", "2016-06-14T05:00:00Z"} {
			s.losant(key, "POST", events, map[string]any{"level": "warning", "subject": "Door open", "deviceId": losantDevice, "creationDate": at}).wantLosant(t, 201, "")
		}
		q := url.Values{"query": {`{"deviceId":"` + losantDevice + `"}`}, "perPage": {"2"}, "page": {"1"}, "sortDirection": {"asc"}}
		got := s.losant(key, "GET", events+"?"+q.Encode(), nil).wantLosant(t, 200, "").body
		items, _ := got["items"].([]any)
		want := map[string]any{"count": json.Number("1"), "totalCount": json.Number("3"), "perPage": json.Number("2"), "page": json.Number("1"),
			"sortField": "creationDate", "sortDirection": "asc", "applicationId": losantApp}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if len(items) != 1 || items[0].(map[string]any)["creationDate"] != "2016-06-14T05:00:00.000Z" {
			t.Errorf("items = %v, want the third event", items)
		}
		q = url.Values{"query": {`{"$and":[{"deviceId":"` + losantDevice + `"},{"state":{"$in":["new"]}}]}`}, "page": {"0"}}
		got = s.losant(key, "GET", events+"?"+q.Encode(), nil).wantLosant(t, 200, "").body
		if got["totalCount"] != json.Number("2") || got["count"] != json.Number("2") {
			t.Errorf("the new events: %s, want 2 of 2", got)
		}
	})
	t.Run("DELETE answers success, and the event is gone", func(t *testing.T) {
		got := s.losant(key, "DELETE", events+"/"+id, "{}").wantLosant(t, 200, "").body
		if !reflect.DeepEqual(got, map[string]any{"success": true}) {
			t.Errorf("got %v, want {\"success\": true}", got)
		}
		s.losant(key, "GET", events+"/"+id, nil).wantLosant(t, 404, "NotFound")
		s.losant(key, "DELETE", events+"/"+id, nil).wantLosant(t, 404, "NotFound")
	})
}

// TestLosantRefusalsAreLosantErrorsAndWriteNothing: every refusal of the
// dialect is Losant's {"type", "message"} (or API Gateway's own), and
// leaves the table as it was.
func TestLosantRefusalsAreLosantErrorsAndWriteNothing(t *testing.T) {
	s := newStack(t)
	all := s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, nil).Key
	mine := s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, []string{"mine"}).Key
	readOnly := s.NewKey(t, []string{routes.ScopeRead}, nil).Key
	events := losantEvents(losantApp)
	ev := func(device string) string {
		return s.losant(all, "POST", events, map[string]any{"level": "info", "subject": "door", "deviceId": device}).wantLosant(t, 201, "").body["id"].(string)
	}
	yours, own := ev("yours"), ev("mine")
	// Each key once, so that the cases record no first use.
	for _, k := range []string{mine, readOnly} {
		s.losant(k, "GET", events+"/"+own, nil)
	}
	unknown := eventstore.GlobalID("mine", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
	deviceQuery := func(d string) string { return url.Values{"query": {`{"deviceId":"` + d + `"}`}}.Encode() }
	cases := []struct {
		name   string
		key    string
		method string
		path   string
		body   any
		status int
		typ    string
		opts   []option
	}{
		{"an unknown event is 404 NotFound", all, "GET", events + "/" + unknown, nil, 404, "NotFound", nil},
		{"an id that is no id of ours is 404 NotFound", all, "GET", events + "/575ed0de7ae143cd83dc4aa5", nil, 404, "NotFound", nil},
		{"a PATCH of an unknown event is 404 NotFound", all, "PATCH", events + "/" + unknown, map[string]any{"state": "resolved"}, 404, "NotFound", nil},
		{"a DELETE of an unknown event is 404 NotFound", all, "DELETE", events + "/" + unknown, nil, 404, "NotFound", nil},
		{"an application id with a space is 400 Validation", all, "GET", losantEvents("my%20app") + "/" + own, nil, 400, "Validation", nil},
		{"an unknown query parameter is 400 Validation", all, "GET", events + "/" + own + "?fields=all", nil, 400, "Validation", nil},
		{"a POST without level is 400 Validation", all, "POST", events, map[string]any{"subject": "s", "deviceId": "mine"}, 400, "Validation", nil},
		{"a POST without subject is 400 Validation", all, "POST", events, map[string]any{"level": "info", "deviceId": "mine"}, 400, "Validation", nil},
		{"a POST without deviceId is 400 Validation", all, "POST", events, map[string]any{"level": "info", "subject": "s"}, 400, "Validation", nil},
		{"a POST of an unknown level is 400 Validation", all, "POST", events, map[string]any{"level": "fatal", "subject": "s", "deviceId": "mine"}, 400, "Validation", nil},
		{"a POST of a resolved event is 400 Validation", all, "POST", events, map[string]any{"level": "info", "subject": "s", "deviceId": "mine", "state": "resolved"}, 400, "Validation", nil},
		{"a POST with eventTags is 400 Validation", all, "POST", events, map[string]any{"level": "info", "subject": "s", "deviceId": "mine", "eventTags": map[string]any{"a": "b"}}, 400, "Validation", nil},
		{"a POST whose data is a list is 400 Validation", all, "POST", events, map[string]any{"level": "info", "subject": "s", "deviceId": "mine", "data": []any{1}}, 400, "Validation", nil},
		{"a POST dated a week ahead is 400 Validation", all, "POST", events, map[string]any{"level": "info", "subject": "s", "deviceId": "mine", "creationDate": "2999-01-01T00:00:00Z"}, 400, "Validation", nil},
		{"a POST that is not JSON is 400 Validation", all, "POST", events, "{level", 400, "Validation", nil},
		{"a PATCH of another subject is 400 Validation", all, "PATCH", events + "/" + own, map[string]any{"subject": "window"}, 400, "Validation", nil},
		{"a PATCH of an unknown state is 400 Validation", all, "PATCH", events + "/" + own, map[string]any{"state": "closed"}, 400, "Validation", nil},
		{"a PATCH of eventTags is 400 Validation", all, "PATCH", events + "/" + own, map[string]any{"eventTags": map[string]any{}}, 400, "Validation", nil},
		{"a PATCH with an empty comment is 400 Validation", all, "PATCH", events + "/" + own, map[string]any{"comment": ""}, 400, "Validation", nil},
		{"a listing sorted by subject is 400 Validation", all, "GET", events + "?sortField=subject&" + deviceQuery("mine"), nil, 400, "Validation", nil},
		{"a glob filter is 400 Validation", all, "GET", events + "?filterField=subject&filter=door*", nil, 400, "Validation", nil},
		{"a query that is not JSON is 400 Validation", all, "GET", events + "?query=%7Bdevice", nil, 400, "Validation", nil},
		{"a query on eventTags is 400 Validation", all, "GET", events + "?" + url.Values{"query": {`{"eventTags":{"a":"b"}}`}}.Encode(), nil, 400, "Validation", nil},
		{"a listing across devices without a subject is 400 Validation", all, "GET", events, nil, 400, "Validation", nil},
		{"a perPage of 1001 is 400 Validation", all, "GET", events + "?perPage=1001&" + deviceQuery("mine"), nil, 400, "Validation", nil},
		{"a negative page is 400 Validation", all, "GET", events + "?page=-1&" + deviceQuery("mine"), nil, 400, "Validation", nil},
		{"XML is 415 UnsupportedMediaType", all, "POST", events, "<event/>", 415, "UnsupportedMediaType", []option{header("Content-Type", "application/xml")}},
		{"a stale If-Match is 412 PreconditionFailed", all, "PATCH", events + "/" + own, map[string]any{"state": "resolved"}, 412, "PreconditionFailed", []option{header("If-Match", `"9"`)}},
		{"a device key reading another device's event is 403 Forbidden", mine, "GET", events + "/" + yours, nil, 403, "Forbidden", nil},
		{"a device key patching another device's event is 403 Forbidden", mine, "PATCH", events + "/" + yours, map[string]any{"state": "resolved"}, 403, "Forbidden", nil},
		{"a device key deleting another device's event is 403 Forbidden", mine, "DELETE", events + "/" + yours, nil, 403, "Forbidden", nil},
		{"a device key posting for another device is 403 Forbidden", mine, "POST", events, map[string]any{"level": "info", "subject": "s", "deviceId": "yours"}, 403, "Forbidden", nil},
		{"a device key listing another device is 403 Forbidden", mine, "GET", events + "?" + deviceQuery("yours"), nil, 403, "Forbidden", nil},
		{"a device key listing across devices is 403 Forbidden", mine, "GET", events + "?filterField=subject&filter=door", nil, 403, "Forbidden", nil},
		{"a read key posting is API Gateway's 403", readOnly, "POST", events, map[string]any{"level": "info", "subject": "s", "deviceId": "mine"}, 403, apigw("Forbidden"), nil},
		{"a read key deleting is API Gateway's 403", readOnly, "DELETE", events + "/" + own, nil, 403, apigw("Forbidden"), nil},
		{"no key is API Gateway's 401", "", "GET", events + "/" + own, nil, 401, apigw("Unauthorized"), nil},
		{"a JWT as the bearer is API Gateway's 401", s.Token, "GET", events + "/" + own, nil, 401, apigw("Unauthorized"), nil},
	}
	before := snapshot(t, s)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.losant(tc.key, tc.method, tc.path, tc.body, tc.opts...).wantLosant(t, tc.status, tc.typ)
		})
	}
	if after := snapshot(t, s); !bytes.Equal(before, after) {
		onlyBefore, onlyAfter := diffLines(before, after)
		t.Errorf("the refusals changed the table:\nbefore only:\n%s\nafter only:\n%s", onlyBefore, onlyAfter)
	}
	t.Run("a device key lists and reads its own device", func(t *testing.T) {
		got := s.losant(mine, "GET", events+"?"+deviceQuery("mine"), nil).wantLosant(t, 200, "").body
		if got["totalCount"] != json.Number("1") {
			t.Errorf("got %v, want its one event", got)
		}
		s.losant(mine, "GET", events+"/"+own, nil).wantLosant(t, 200, "")
	})
}

// TestLosantRestClient runs Losant's own client, losant-rest, against the
// key API (testdata/losant/client.js): event get, patch and delete, events
// get and post. It needs node and infra/local's npm packages (make deps).
func TestLosantRestClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run losant-rest: %v", err)
	}
	if _, err := os.Stat(filepath.Join("..", "node_modules", "losant-rest", "package.json")); err != nil {
		t.Fatalf("losant-rest is not installed (make deps, or npm ci in infra/local): %v", err)
	}
	scopes := []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}
	// Each run on a stack of its own: the script lists across devices too.
	for _, c := range []struct {
		name, sourceType string
		via              func(s *stack) (base, token string)
	}{
		{"the key API with a device API key", "apiToken", func(s *stack) (string, string) { return s.KeysURL, s.NewKey(t, scopes, nil).Key }},
		{"the events API with a JWT", "user", func(s *stack) (string, string) { return s.URL, s.Mint(t, scopes, nil) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, token := c.via(newStack(t))
			cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "losant", "client.js"))
			cmd.Env = append(os.Environ(), "LOSANT_URL="+base, "LOSANT_KEY="+token, "LOSANT_SOURCE_TYPE="+c.sourceType,
				"LOSANT_APP="+losantApp, "LOSANT_DEVICE="+losantDevice)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("losant-rest against %s: %v\n%s", c.name, err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// onEvents sends a Losant request to the events API rather than the key
// API (the Authorization header is the caller's: a JWT there).
func (s *stack) onEvents() option {
	return func(r *http.Request) {
		u, err := url.Parse(s.URL)
		if err != nil {
			s.t.Fatal(err)
		}
		r.URL.Host = u.Host
	}
}

// TestLosantClientsMaySendAJWTToTheEventsAPI: Losant's clients send a
// bearer token, which may be a JWT: the events API serves Losant's routes
// to JWTs (its authorizer checks them, scopes and devices as for the
// native routes), the key API to device keys, over the same events.
func TestLosantClientsMaySendAJWTToTheEventsAPI(t *testing.T) {
	s := newStack(t)
	token := s.Mint(t, []string{routes.ScopeRead, routes.ScopeWrite}, nil)
	key := s.NewKey(t, []string{routes.ScopeRead}, nil).Key
	events := losantEvents(losantApp)
	posted := s.losant(token, "POST", events, map[string]any{"level": "warning", "subject": "door_opened", "deviceId": losantDevice}, s.onEvents()).wantLosant(t, 201, "").body
	id, _ := posted["id"].(string)
	if got := s.losant(key, "GET", events+"/"+id, nil).wantLosant(t, 200, "").body; got["id"] != id || got["subject"] != "door_opened" {
		t.Errorf("the key API's view of the event a JWT posted: %v", got)
	}
	patched := s.losant(token, "PATCH", events+"/"+id, map[string]any{"state": "acknowledged", "comment": "on it"}, s.onEvents()).wantLosant(t, 200, "").body
	if ups, _ := patched["updates"].([]any); len(ups) != 1 || ups[0].(map[string]any)["sourceType"] != "user" || ups[0].(map[string]any)["sourceName"] != "tester" {
		t.Errorf("updates after a JWT's patch = %v, want one by the user tester", patched["updates"])
	}
	limited := s.Mint(t, []string{routes.ScopeRead}, []string{"another-device"})
	cases := []struct {
		name   string
		token  string
		opts   []option
		status int
		typ    string
	}{
		{"a JWT on the key API is no key", token, nil, 401, apigwPrefix + "Unauthorized"},
		{"a key on the events API is no JWT", key, []option{s.onEvents()}, 401, apigwPrefix + "Unauthorized"},
		{"a JWT without events/delete may not delete", token, []option{s.onEvents()}, 403, apigwPrefix + "Forbidden"},
		{"a JWT of another device may not read the event", limited, []option{s.onEvents()}, 403, "Forbidden"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if i == 2 {
				method = "DELETE"
			}
			s.losant(tc.token, method, events+"/"+id, nil, tc.opts...).wantLosant(t, tc.status, tc.typ)
		})
	}
	t.Run("a JWT of another device may not list across devices", func(t *testing.T) {
		s.losant(limited, "GET", events+"?filterField=subject&filter=door_opened", nil, s.onEvents()).wantLosant(t, 403, "Forbidden")
	})
}

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Cumulocity's media types, as its clients send them.
const (
	c8yEvent      = "application/vnd.com.nsn.cumulocity.event+json"
	c8yCollection = "application/vnd.com.nsn.cumulocity.eventCollection+json"
	c8yEventAPI   = "application/vnd.com.nsn.cumulocity.eventApi+json"
	c8yError      = "application/vnd.com.nsn.cumulocity.error+json"
)

// c8y calls the key API as a Cumulocity client does: Basic credentials
// of a device API key (the key's id and secret), and Cumulocity's media
// types. Every exchange is checked against the dialect's OpenAPI
// document.
type c8y struct {
	s   *stack
	key stacktest.APIKey
}

func (c c8y) with(k stacktest.APIKey) c8y { return c8y{c.s, k} }

// do sends body (a string as is, else JSON) with Basic credentials of
// the key unless an option changes them.
func (c c8y) do(t *testing.T, method, path string, body any, opts ...option) reply {
	t.Helper()
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	default:
		var err error
		if sent, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.s.KeysURL+path, bytes.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{}
	basic(c.key.ID, c.key.Secret)(req)
	if body != nil {
		req.Header.Set("Content-Type", c8yEvent)
	}
	for _, o := range opts {
		o(req)
	}
	return send(t, openapi.ForDialect(routes.Cumulocity), req, false)
}

// wantC8y fails the test unless the reply has the status and, for an
// error, Cumulocity's error shape with that error and the service's code
// in details, or API Gateway's own {"message"} (apigw(...)).
func (r reply) wantC8y(t *testing.T, status int, errorAndCode ...string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(errorAndCode) == 0 {
		return r
	}
	if msg, ok := strings.CutPrefix(errorAndCode[0], apigwPrefix); ok {
		if len(r.body) != 1 || r.body["message"] != msg {
			t.Fatalf("body = %s, want API Gateway's {\"message\":%q}", r.raw, msg)
		}
		return r
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, c8yError) {
		t.Errorf("Content-Type = %q, want %s", ct, c8yError)
	}
	details, _ := r.body["details"].(map[string]any)
	if r.body["error"] != errorAndCode[0] || r.body["message"] == nil || r.body["info"] == nil || details == nil {
		t.Fatalf("body = %s, want Cumulocity's error %s with message, info and details", r.raw, errorAndCode[0])
	}
	if len(errorAndCode) > 1 && details["code"] != errorAndCode[1] {
		t.Fatalf("details.code = %v, want %s; body %s", details["code"], errorAndCode[1], r.raw)
	}
	return r
}

func (r reply) c8yEvents(t *testing.T) []map[string]any {
	t.Helper()
	list, ok := r.body["events"].([]any)
	if !ok {
		t.Fatalf("no events in %s", r.raw)
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		out[i] = e.(map[string]any)
	}
	return out
}

func texts(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i], _ = e["text"].(string)
	}
	return out
}

func accept(mediaType string) option { return header("Accept", mediaType) }

// TestCumulocitysDocumentAnswersAsDocumented plays the reference's
// examples (cumulocity-events.md) against the key API: the Event API
// resource, a create with its Location and bare event, the collection,
// one event and its delete.
func TestCumulocitysDocumentAnswersAsDocumented(t *testing.T) {
	s := newStack(t)
	c := c8y{s, s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, []string{"12345"})}

	t.Run("GET /event lists the collection and its URI templates", func(t *testing.T) {
		r := c.do(t, "GET", "/event", nil, accept(c8yEventAPI+";ver=0.9")).wantC8y(t, 200)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, c8yEventAPI) {
			t.Errorf("Content-Type = %q, want %s", ct, c8yEventAPI)
		}
		if r.body["self"] != "/event" || r.body["events"].(map[string]any)["self"] != "/event/events" {
			t.Errorf("self and events = %v, %v; want /event and /event/events", r.body["self"], r.body["events"])
		}
		for name, tmpl := range map[string]string{
			"eventsForType":                         "/event/events?type={type}",
			"eventsForSourceAndTime":                "/event/events?source={source}&dateFrom={dateFrom}&dateTo={dateTo}",
			"eventsForSourceAndDateAndFragmentType": "/event/events?source={source}&dateFrom={dateFrom}&dateTo={dateTo}&fragmentType={fragmentType}",
			"eventsForDateAndFragmentTypeAndType":   "/event/events?dateFrom={dateFrom}&dateTo={dateTo}&fragmentType={fragmentType}&type={type}",
		} {
			if r.body[name] != tmpl {
				t.Errorf("%s = %v, want %s", name, r.body[name], tmpl)
			}
		}
		if len(r.body) != 17 {
			t.Errorf("got %d members, want the document's 17: %s", len(r.body), r.raw)
		}
	})

	example := `{
      "time" : "2011-09-06T12:03:27.845+02:00",
      "type" : "com_cumulocity_model_DoorSensorEvent",
      "text" : "Door sensor was triggered.",
      "source": { "id" : "12345" }
    }`
	var created map[string]any
	t.Run("POST creates the event: 201, its Location, the bare event with id, self and creationTime", func(t *testing.T) {
		r := c.do(t, "POST", "/event/events", example, accept(c8yEvent)).wantC8y(t, 201)
		created = r.body
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, c8yEvent) {
			t.Errorf("Content-Type = %q, want %s", ct, c8yEvent)
		}
		if loc := r.header.Get("Location"); loc == "" || loc != created["self"] {
			t.Errorf("Location = %q, want the event's self %v", loc, created["self"])
		}
		if created["id"] == "" || created["creationTime"] == nil {
			t.Errorf("the event lacks id or creationTime: %s", r.raw)
		}
		if created["time"] != "2011-09-06T10:03:27.845Z" || created["type"] != "com_cumulocity_model_DoorSensorEvent" ||
			created["text"] != "Door sensor was triggered." || created["source"].(map[string]any)["id"] != "12345" {
			t.Errorf("the event is %s, want the example's time (in UTC), type, text and source", r.raw)
		}
	})
	if created == nil {
		t.FailNow()
	}
	self := created["self"].(string)

	t.Run("without Accept, POST answers 201 with a Location and no body", func(t *testing.T) {
		r := c.do(t, "POST", "/event/events", example).wantC8y(t, 201)
		if len(r.raw) != 0 || r.header.Get("Location") == "" {
			t.Errorf("got body %q and Location %q, want no body and a Location", r.raw, r.header.Get("Location"))
		}
		c.do(t, "DELETE", r.header.Get("Location"), nil).wantC8y(t, 204)
	})

	t.Run("GET of the collection holds the event, with statistics", func(t *testing.T) {
		r := c.do(t, "GET", "/event/events?source=12345&withTotalPages=true", nil, accept(c8yCollection+";ver=0.9")).wantC8y(t, 200)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, c8yCollection) {
			t.Errorf("Content-Type = %q, want %s", ct, c8yCollection)
		}
		evs := r.c8yEvents(t)
		if len(evs) != 1 || evs[0]["id"] != created["id"] {
			t.Fatalf("events = %v, want the one created", evs)
		}
		stats := r.body["statistics"].(map[string]any)
		if stats["currentPage"] != json.Number("1") || stats["pageSize"] != json.Number("5") || stats["totalPages"] != json.Number("1") {
			t.Errorf("statistics = %v, want page 1 of 5, 1 page in all", stats)
		}
		if r.body["self"] == nil || r.body["next"] != nil || r.body["prev"] != nil {
			t.Errorf("self, next, prev = %v, %v, %v; want self alone", r.body["self"], r.body["next"], r.body["prev"])
		}
	})

	t.Run("GET of the event answers it as created", func(t *testing.T) {
		r := c.do(t, "GET", self, nil, accept(c8yEvent+";ver=0.9")).wantC8y(t, 200)
		for _, k := range []string{"id", "self", "time", "creationTime", "type", "text"} {
			if r.body[k] != created[k] {
				t.Errorf("%s = %v, want %v", k, r.body[k], created[k])
			}
		}
	})

	t.Run("DELETE answers 204, and the event is gone", func(t *testing.T) {
		r := c.do(t, "DELETE", self, nil).wantC8y(t, 204)
		if len(r.raw) != 0 {
			t.Errorf("body %q, want none", r.raw)
		}
		c.do(t, "GET", self, nil).wantC8y(t, 404, "event/Not Found", "not_found")
		c.do(t, "DELETE", self, nil).wantC8y(t, 404, "event/Not Found", "not_found")
	})
}

// TestCumulocitysViewIsTheNativeOne: what a Cumulocity client writes the
// native API reads, fragments as data, and the reverse.
func TestCumulocitysViewIsTheNativeOne(t *testing.T) {
	s := newStack(t)
	c := c8y{s, s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite}, nil)}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	r := c.do(t, "POST", "/event/events", map[string]any{"source": map[string]any{"id": "door-1"}, "type": "door_opened",
		"time": at.Format(time.RFC3339Nano), "text": "opened", "c8y_Position": map[string]any{"lat": 52.1, "lng": 4.3}},
		accept("application/json")).wantC8y(t, 201)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json, which the client asked for", ct)
	}
	native := s.do("GET", "/devices/door-1/events?type=door_opened", nil).want(t, 200).events(t)
	if len(native) != 1 || native[0]["text"] != "opened" || native[0]["data"].(map[string]any)["c8y_Position"] == nil {
		t.Fatalf("the native listing holds %v, want the event with c8y_Position in its data", native)
	}
	s.put("door-1", map[string]any{"type": "door_opened", "text": "native", "data": map[string]any{"c8y_Hint": "x"}})
	evs := c.do(t, "GET", "/event/events?source=door-1&type=door_opened", nil).wantC8y(t, 200).c8yEvents(t)
	if got := texts(evs); !slices.Equal(got, []string{"native", "opened"}) {
		t.Fatalf("the Cumulocity listing holds %v, want [native opened], newest first", got)
	}
	if evs[0]["c8y_Hint"] != "x" || evs[1]["c8y_Position"] == nil {
		t.Errorf("fragments %v and %v, want each event's data at the top", evs[0], evs[1])
	}
}

// TestCumulocityPagesByNumber: pages by currentPage and pageSize, totals,
// order, filters, fragmentType as a filter of the page.
func TestCumulocityPagesByNumber(t *testing.T) {
	s := newStack(t)
	c := c8y{s, s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, nil)}
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	var batch []map[string]any
	for i := range 12 {
		ev := map[string]any{"type": "door_opened", "text": fmt.Sprint(i), "time": base.Add(time.Duration(i) * 10 * time.Minute).Format(time.RFC3339)}
		if i%3 == 0 {
			ev["data"] = map[string]any{"c8y_Alarmish": true}
		}
		batch = append(batch, ev)
	}
	batch = append(batch, map[string]any{"type": "heartbeat", "text": "hb", "time": base.Add(5 * time.Minute).Format(time.RFC3339)})
	s.do("POST", "/devices/robot-1/events", batch).want(t, 201)

	list := func(t *testing.T, query string) reply {
		t.Helper()
		return c.do(t, "GET", "/event/events?"+query, nil).wantC8y(t, 200)
	}
	for _, tc := range []struct {
		name, query string
		texts       []string
		totalPages  string
		next, prev  bool
	}{
		{"page 1 holds the newest five", "source=robot-1&type=door_opened&pageSize=5&withTotalPages=true", []string{"11", "10", "9", "8", "7"}, "3", true, false},
		{"page 2 holds the next five", "source=robot-1&type=door_opened&pageSize=5&currentPage=2&withTotalPages=true", []string{"6", "5", "4", "3", "2"}, "3", true, true},
		{"page 3 holds the last two, and no next", "source=robot-1&type=door_opened&pageSize=5&currentPage=3&withTotalPages=true", []string{"1", "0"}, "3", false, true},
		{"page 4 is empty", "source=robot-1&type=door_opened&pageSize=5&currentPage=4", nil, "", false, true},
		{"revert lists the oldest first", "source=robot-1&type=door_opened&pageSize=5&currentPage=2&revert=true", []string{"5", "6", "7", "8", "9"}, "", true, true},
		{"without type, every type of the device", "source=robot-1&pageSize=3&currentPage=4&revert=true&withTotalPages=true", []string{"8", "9", "10"}, "5", true, true},
		{"dateFrom and dateTo bound the range", "source=robot-1&type=door_opened&dateFrom=" + base.Add(20*time.Minute).Format(time.RFC3339) + "&dateTo=" + base.Add(50*time.Minute).Format(time.RFC3339) + "&withTotalPages=true&pageSize=2", []string{"4", "3"}, "2", true, false},
		{"across devices, a type", "type=heartbeat&withTotalPages=true", []string{"hb"}, "1", false, false},
		{"fragmentType filters the page: page 1 of 5 holds its one", "source=robot-1&type=door_opened&pageSize=5&fragmentType=c8y_Alarmish&withTotalPages=true", []string{"9"}, "3", true, false},
		{"fragmentType filters the page: page 2 of 5 holds its two", "source=robot-1&type=door_opened&pageSize=5&currentPage=2&fragmentType=c8y_Alarmish", []string{"6", "3"}, "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := list(t, tc.query)
			if got := texts(r.c8yEvents(t)); !slices.Equal(got, tc.texts) && !(len(got) == 0 && len(tc.texts) == 0) {
				t.Errorf("events %v, want %v", got, tc.texts)
			}
			stats := r.body["statistics"].(map[string]any)
			if tp, _ := stats["totalPages"].(json.Number); string(tp) != tc.totalPages {
				t.Errorf("totalPages = %v, want %q", stats["totalPages"], tc.totalPages)
			}
			if (r.body["next"] != nil) != tc.next || (r.body["prev"] != nil) != tc.prev {
				t.Errorf("next %v, prev %v; want next %v, prev %v", r.body["next"], r.body["prev"], tc.next, tc.prev)
			}
		})
	}
	t.Run("following next goes through every event once", func(t *testing.T) {
		var seen []string
		path := "/event/events?source=robot-1&pageSize=4&withTotalElements=true"
		for path != "" {
			r := c.do(t, "GET", path, nil).wantC8y(t, 200)
			if n := r.body["statistics"].(map[string]any)["totalElements"]; n != json.Number("13") {
				t.Fatalf("totalElements = %v, want 13", n)
			}
			seen = append(seen, texts(r.c8yEvents(t))...)
			path, _ = r.body["next"].(string)
		}
		if len(seen) != 13 {
			t.Errorf("went through %v, want the 13 events once", seen)
		}
	})
	t.Run("DELETE by source and type deletes those events and only them", func(t *testing.T) {
		c.do(t, "DELETE", "/event/events?source=robot-1&type=door_opened&dateTo="+base.Add(25*time.Minute).Format(time.RFC3339), nil).wantC8y(t, 204)
		got := texts(list(t, "source=robot-1&pageSize=20&revert=true").c8yEvents(t))
		if want := []string{"hb", "3", "4", "5", "6", "7", "8", "9", "10", "11"}; !slices.Equal(got, want) {
			t.Errorf("left %v, want %v", got, want)
		}
		c.do(t, "DELETE", "/event/events?source=robot-1", nil).wantC8y(t, 204)
		if got := list(t, "source=robot-1").c8yEvents(t); len(got) != 0 {
			t.Errorf("left %v after deleting every event of the source, want none", texts(got))
		}
	})
}

// TestCumulocityUpdatesTextAndFragments: PUT changes text and fragments,
// keeps what may not change, and takes If-Match.
func TestCumulocityUpdatesTextAndFragments(t *testing.T) {
	s := newStack(t)
	c := c8y{s, s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite}, []string{"door-2"})}
	ev := c.do(t, "POST", "/event/events", map[string]any{"source": map[string]any{"id": "door-2"}, "type": "door_opened",
		"time": time.Now().UTC().Format(time.RFC3339), "text": "opened", "frag": map[string]any{"a": 1, "b": 2}}, accept(c8yEvent)).wantC8y(t, 201).body
	self := ev["self"].(string)

	t.Run("an event sent back with a new text and fragment is changed", func(t *testing.T) {
		up := map[string]any{}
		for k, v := range ev {
			up[k] = v
		}
		up["text"], up["frag"], up["other"] = "closed", map[string]any{"b": nil, "c": 3}, "x"
		r := c.do(t, "PUT", self, up, accept(c8yEvent)).wantC8y(t, 200)
		if r.body["text"] != "closed" || r.body["other"] != "x" || r.header.Get("ETag") != `"2"` {
			t.Errorf("got %s with ETag %s, want text closed, fragment other, ETag \"2\"", r.raw, r.header.Get("ETag"))
		}
		if frag := r.body["frag"].(map[string]any); frag["a"] != json.Number("1") || frag["c"] != json.Number("3") || frag["b"] != nil {
			t.Errorf("frag = %v, want a and c (merged, b removed)", frag)
		}
		native := s.do("GET", "/devices/door-2/events?limit=1", nil).want(t, 200).events(t)[0]
		if updates := native["updates"].([]any); updates[len(updates)-1].(map[string]any)["by"] != "apikey:"+c.key.ID {
			t.Errorf("the native event's updates are %v, want the last by apikey:%s", updates, c.key.ID)
		}
	})
	for _, tc := range []struct {
		name   string
		body   string
		opts   []option
		status int
		err    string
		code   string
	}{
		{"another type is refused", `{"type":"other"}`, nil, 400, "event/Bad Request", "immutable_field"},
		{"another source is refused", `{"source":{"id":"door-3"}}`, nil, 400, "event/Bad Request", "immutable_field"},
		{"another id is refused", `{"id":"x"}`, nil, 400, "event/Bad Request", "immutable_field"},
		{"an If-Match of another version is refused", `{"text":"late"}`, []option{header("If-Match", `"1"`)}, 412, "event/Precondition Failed", "precondition_failed"},
		{"a body that is not JSON is refused", `{"text":`, nil, 400, "event/Bad Request", "invalid_json"},
		{"XML is refused", `<event/>`, []option{header("Content-Type", "application/xml")}, 415, "event/Unsupported Media Type", "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.do(t, "PUT", self, tc.body, tc.opts...).wantC8y(t, tc.status, tc.err, tc.code)
			if got := c.do(t, "GET", self, nil).wantC8y(t, 200).body["text"]; got != "closed" {
				t.Errorf("text = %v after a refused update, want closed", got)
			}
		})
	}
}

// TestCumulocitysErrors: each refusal in Cumulocity's error shape (or API
// Gateway's own), and nothing written.
func TestCumulocitysErrors(t *testing.T) {
	s := newStack(t)
	all := []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}
	c := c8y{s, s.NewKey(t, all, []string{"door-7"})}
	fleet := c.with(s.NewKey(t, all, nil))
	readOnly := c.with(s.NewKey(t, []string{routes.ScopeRead}, nil))
	other := fleet.do(t, "POST", "/event/events", map[string]any{"source": map[string]any{"id": "door-8"}, "type": "t",
		"time": time.Now().UTC().Format(time.RFC3339), "text": "x"}, accept(c8yEvent)).wantC8y(t, 201).body["self"].(string)
	items := len(s.scan())
	valid := func(device string) map[string]any {
		return map[string]any{"source": map[string]any{"id": device}, "type": "t", "time": time.Now().UTC().Format(time.RFC3339), "text": "x"}
	}
	for _, tc := range []struct {
		name         string
		as           c8y
		method, path string
		body         any
		opts         []option
		status       int
		err, code    string
	}{
		{"a listing without source is refused to a key limited to devices", c, "GET", "/event/events?type=t", nil, nil, 403, "security/Forbidden", "forbidden"},
		{"a listing of another device is refused", c, "GET", "/event/events?source=door-8", nil, nil, 403, "security/Forbidden", "forbidden"},
		{"another device's event is refused", c, "GET", other, nil, nil, 403, "security/Forbidden", "forbidden"},
		{"an update of another device's event is refused", c, "PUT", other, `{"text":"y"}`, nil, 403, "security/Forbidden", "forbidden"},
		{"a delete of another device's event is refused", c, "DELETE", other, nil, nil, 403, "security/Forbidden", "forbidden"},
		{"a create for another device is refused", c, "POST", "/event/events", valid("door-8"), nil, 403, "security/Forbidden", "forbidden"},
		{"a bulk delete without source is refused to a key limited to devices", c, "DELETE", "/event/events?type=t", nil, nil, 403, "security/Forbidden", "forbidden"},
		{"a listing with neither source nor type is refused", fleet, "GET", "/event/events", nil, nil, 400, "event/Bad Request", "invalid_parameter"},
		{"a bulk delete without source is refused", fleet, "DELETE", "/event/events?type=t", nil, nil, 400, "event/Bad Request", "invalid_parameter"},
		{"a bulk delete by fragmentType is refused", fleet, "DELETE", "/event/events?source=door-8&fragmentType=f", nil, nil, 400, "event/Bad Request", "invalid_parameter"},
		{"a pageSize over 2000 is refused", c, "GET", "/event/events?source=door-7&pageSize=2001", nil, nil, 400, "event/Bad Request", "invalid_parameter"},
		{"a dateFrom that is no time is refused", c, "GET", "/event/events?source=door-7&dateFrom=monday", nil, nil, 400, "event/Bad Request", "invalid_parameter"},
		{"an unknown parameter is refused", c, "GET", "/event/events?source=door-7&withSourceDevices=true", nil, nil, 400, "event/Bad Request", "query_field_not_allowed"},
		{"an id that names no event is not found", c, "GET", "/event/events/12345", nil, nil, 404, "event/Not Found", "not_found"},
		{"a create without text is refused", c, "POST", "/event/events", `{"source":{"id":"door-7"},"type":"t","time":"2026-01-01T00:00:00Z"}`, nil, 400, "event/Bad Request", "invalid_event"},
		{"a create whose time is far in the future is refused", c, "POST", "/event/events", `{"source":{"id":"door-7"},"type":"t","text":"x","time":"2999-01-01T00:00:00Z"}`, nil, 400, "event/Bad Request", "invalid_event"},
		{"a create that is not JSON is refused", c, "POST", "/event/events", `{"source":`, nil, 400, "event/Bad Request", "invalid_json"},
		{"a create labelled XML is refused", c, "POST", "/event/events", valid("door-7"), []option{header("Content-Type", "application/xml")}, 415, "event/Unsupported Media Type", "unsupported_media_type"},
		{"a create without the write scope is API Gateway's 403", readOnly, "POST", "/event/events", valid("door-7"), nil, 403, apigw("Forbidden"), ""},
		{"a request without credentials is API Gateway's 401", c, "GET", "/event", nil, []option{func(r *http.Request) { r.Header.Del("Authorization") }}, 401, apigw("Unauthorized"), ""},
		{"a wrong secret is API Gateway's 401", c, "GET", "/event", nil, []option{basic(c.key.ID, "wrong")}, 401, apigw("Unauthorized"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.as.do(t, tc.method, tc.path, tc.body, tc.opts...).wantC8y(t, tc.status, tc.err, tc.code)
			if n := len(s.scan()); n != items {
				t.Errorf("the table holds %d items, want %d: the refused request wrote", n, items)
			}
		})
	}
}

// TestCumulocitysOwnClient runs @c8y/client's EventService (the npm
// package pinned in infra/local/package.json) against the key API: list
// with filters and paging, detail, create, update, delete. The script
// exits non-zero on any answer other than it expects.
func TestCumulocitysOwnClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run @c8y/client: %v", err)
	}
	if _, err := os.Stat(filepath.Join("..", "node_modules", "@c8y", "client", "package.json")); err != nil {
		t.Fatalf("@c8y/client is not installed (cd infra/local && npm ci): %v", err)
	}
	s := newStack(t)
	k := s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, []string{"c8y-door"})
	cmd := exec.Command(node, filepath.Join("testdata", "cumulocity", "events.mjs"))
	cmd.Env = append(os.Environ(), "C8Y_BASE_URL="+s.KeysURL, "C8Y_USER="+k.ID, "C8Y_PASSWORD="+k.Secret, "C8Y_SOURCE=c8y-door")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the @c8y/client script failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	// What the client stored is the native API's: the script leaves
	// its kept event behind.
	evs := s.do("GET", "/devices/c8y-door/events", nil).want(t, 200).events(t)
	if len(evs) != 1 || evs[0]["text"] != "kept by @c8y/client" {
		t.Errorf("the native listing holds %v, want the one event the script kept", evs)
	}
}

package losant

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

var now = time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)

func TestAnEventIsRenderedInLosantsShape(t *testing.T) {
	at := time.Date(2016, 6, 13, 4, 0, 0, 0, time.UTC)
	e := eventstore.Event{
		ID: "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", DeviceID: "575ecf887ae143cd83dc4aa2", Type: "Power levels critical",
		Time: at, CreationTime: at.Add(time.Second), LastUpdated: at.Add(time.Hour),
		Severity: eventstore.SeverityInfo, State: eventstore.StateResolved, Text: "Power levels on device 432 have surpassed critical thresholds",
		Data: map[string]any{"v": 1},
		Updates: []eventstore.Update{
			{Time: at.Add(time.Minute), By: "apikey:0123456789abcdef", Changes: map[string]any{"state": "acknowledged", "comment": "Looking into this issue"}},
			{Time: at.Add(2 * time.Minute), By: "operator", Changes: map[string]any{"severity": "error", "data": map[string]any{"v": 2}}},
			{Time: at.Add(time.Hour), By: "operator", Changes: map[string]any{"state": "resolved"}},
		},
	}
	got := Render(e, "575ec8687ae143cd83dc4a97")
	id := eventstore.GlobalID(e.DeviceID, e.ID)
	want := Event{
		ID: id, EventID: id, ApplicationID: "575ec8687ae143cd83dc4a97",
		CreationDate: "2016-06-13T04:00:00.000Z", LastUpdated: "2016-06-13T05:00:00.000Z",
		Level: "info", State: "resolved", Subject: e.Type, Message: e.Text, DeviceID: e.DeviceID, Data: e.Data,
		Updates: []Update{
			{CreationDate: "2016-06-13T04:01:00.000Z", SourceType: "apiToken", SourceName: "apikey:0123456789abcdef", Comment: "Looking into this issue",
				StateChange: &StateChange{Old: "new", New: "acknowledged"}},
			{CreationDate: "2016-06-13T04:02:00.000Z", SourceType: "user", SourceName: "operator", Data: map[string]any{"v": 2}},
			{CreationDate: "2016-06-13T05:00:00.000Z", SourceType: "user", SourceName: "operator", StateChange: &StateChange{Old: "acknowledged", New: "resolved"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if b, _ := json.Marshal(Render(eventstore.Event{ID: e.ID, DeviceID: "d", Time: at, LastUpdated: at}, "a")); !strings.Contains(string(b), `"updates":[]`) {
		t.Errorf("an event without updates = %s, want updates: []", b)
	}
}

func TestAPostIsANewEvent(t *testing.T) {
	t.Run("the reference's event is the native event", func(t *testing.T) {
		got, err := DecodePost([]byte(`{"level":"warning","subject":"Power levels critical","message":"m","deviceId":"575ecf887ae143cd83dc4aa2","data":{"n":1},"state":"new","creationDate":"2016-06-13T04:00:00.000Z"}`), now)
		want := eventstore.NewEvent{DeviceID: "575ecf887ae143cd83dc4aa2", Type: "Power levels critical", Severity: "warning", Text: "m",
			Data: map[string]any{"n": json.Number("1")}, Time: time.Date(2016, 6, 13, 4, 0, 0, 0, time.UTC)}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
	})
	for _, c := range []struct {
		name, date string
		want       time.Time
	}{
		{"a date in Unix milliseconds", `1465790400123`, time.UnixMilli(1465790400123).UTC()},
		{"a date as {$date}", `{"$date":"2016-06-13T04:00:00Z"}`, time.Date(2016, 6, 13, 4, 0, 0, 0, time.UTC)},
		{"a date with microseconds is kept to the millisecond", `"2016-06-13T04:00:00.123456Z"`, time.Date(2016, 6, 13, 4, 0, 0, 123e6, time.UTC)},
	} {
		t.Run(c.name+" is read", func(t *testing.T) {
			got, err := DecodePost([]byte(`{"level":"info","subject":"s","deviceId":"d","creationDate":`+c.date+`}`), now)
			if err != nil || !got.Time.Equal(c.want) {
				t.Errorf("time = %v (%v), want %v", got.Time, err, c.want)
			}
		})
	}
	for _, c := range []struct{ name, body, field string }{
		{"no level", `{"subject":"s","deviceId":"d"}`, "level"},
		{"a level of another name", `{"level":"fatal","subject":"s","deviceId":"d"}`, "severity"},
		{"no subject", `{"level":"info","deviceId":"d"}`, "type"},
		{"no device", `{"level":"info","subject":"s"}`, "deviceId"},
		{"a state other than new", `{"level":"info","subject":"s","deviceId":"d","state":"resolved"}`, "state"},
		{"eventTags", `{"level":"info","subject":"s","deviceId":"d","eventTags":{}}`, "eventTags"},
		{"data that is a list", `{"level":"info","subject":"s","deviceId":"d","data":[1]}`, "data"},
		{"a level that is a number", `{"level":1,"subject":"s","deviceId":"d"}`, "level"},
		{"a date that is no date", `{"level":"info","subject":"s","deviceId":"d","creationDate":"soon"}`, "creationDate"},
		{"a date a year ahead", `{"level":"info","subject":"s","deviceId":"d","creationDate":"2027-11-22T00:00:00Z"}`, "time"},
		{"a body that is a list", `[]`, "body"},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			_, err := DecodePost([]byte(c.body), now)
			var fe *eventstore.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("got %v, want a FieldError of %s", err, c.field)
			}
		})
	}
}

func TestAPatchIsTheNativePatch(t *testing.T) {
	p, err := DecodePatch([]byte(`{"state":"acknowledged","comment":"Looking into this issue","level":"error","message":"m","subject":"s","data":{"a":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	if *p.State != "acknowledged" || *p.Severity != "error" || *p.Text != "m" || p.Comment != "Looking into this issue" ||
		p.Immutable["type"] != "s" || !reflect.DeepEqual(p.Data, map[string]any{"a": nil}) {
		t.Errorf("got %+v, want each field in its native place", p)
	}
	want := map[string]any{"state": "acknowledged", "comment": "Looking into this issue", "severity": "error", "text": "m", "data": map[string]any{"a": nil}}
	if !reflect.DeepEqual(p.Changes, want) {
		t.Errorf("changes = %v, want %v (native names, for the one history)", p.Changes, want)
	}
	for _, body := range []string{`{"eventTags":{}}`, `{"severity":"error"}`, `{"comment":""}`, `{"state":1}`, `"x"`, `{"state":"new","state":"resolved"}`} {
		if _, err := DecodePatch([]byte(body)); err == nil {
			t.Errorf("DecodePatch(%s) = nil error, want it refused", body)
		}
	}
}

func TestListingsAreReadIntoTheStoresQuery(t *testing.T) {
	q := func(kv ...string) url.Values {
		v := url.Values{"_actions": {"false"}, "_links": {"true"}, "_embedded": {"true"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	from := time.Date(2016, 6, 13, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		in   url.Values
		want List
	}{
		{"a device's events, newest first, 100 a page", q("query", `{"deviceId":"d1"}`),
			List{Query: eventstore.Query{DeviceID: "d1", Limit: 100}, SortField: "creationDate", SortDirection: "desc", RawQuery: json.RawMessage(`{"deviceId":"d1"}`)}},
		{"page 3 of 10, oldest first", q("query", `{"deviceId":{"$eq":"d1"}}`, "page", "3", "perPage", "10", "sortField", "id", "sortDirection", "ASC"),
			List{Query: eventstore.Query{DeviceID: "d1", Limit: 10, Ascending: true}, Page: 3, SortField: "creationDate", SortDirection: "asc", RawQuery: json.RawMessage(`{"deviceId":{"$eq":"d1"}}`)}},
		{"a subject across devices, new only", q("filterField", "subject", "filter", "door open", "state", "new"),
			List{Query: eventstore.Query{Types: []string{"door open"}, States: []eventstore.State{"new"}, Limit: 100}, SortField: "creationDate", SortDirection: "desc",
				FilterField: "subject", Filter: "door open", State: "new"}},
		{"the fleet's alarms", q("query", `{"level":{"$in":["warning","critical"]}}`),
			List{Query: eventstore.Query{Severities: []eventstore.Severity{"warning", "critical"}, Limit: 100}, SortField: "creationDate", SortDirection: "desc",
				RawQuery: json.RawMessage(`{"level":{"$in":["warning","critical"]}}`)}},
		{"$and of a device, states and a range of dates", q("query", `{"$and":[{"deviceId":"d1"},{"state":{"$in":["new","acknowledged"]}},{"creationDate":{"$gt":"2016-06-13T00:00:00Z","$lte":1465862400000}}]}`),
			List{Query: eventstore.Query{DeviceID: "d1", States: []eventstore.State{"new", "acknowledged"}, From: from.Add(time.Millisecond), To: from.Add(24*time.Hour + time.Millisecond), Limit: 100},
				SortField: "creationDate", SortDirection: "desc",
				RawQuery: json.RawMessage(`{"$and":[{"deviceId":"d1"},{"state":{"$in":["new","acknowledged"]}},{"creationDate":{"$gt":"2016-06-13T00:00:00Z","$lte":1465862400000}}]}`)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseList(c.in)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, %v\nwant %+v", got, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name  string
		in    url.Values
		param string
	}{
		{"an unknown parameter", q("query", `{"deviceId":"d"}`, "fields", "x"), "fields"},
		{"a sort by subject", q("query", `{"deviceId":"d"}`, "sortField", "subject"), "sortField"},
		{"a sort sideways", q("query", `{"deviceId":"d"}`, "sortDirection", "up"), "sortDirection"},
		{"perPage 0", q("query", `{"deviceId":"d"}`, "perPage", "0"), "perPage"},
		{"perPage 1001", q("query", `{"deviceId":"d"}`, "perPage", "1001"), "perPage"},
		{"page -1", q("query", `{"deviceId":"d"}`, "page", "-1"), "page"},
		{"page twice", q("query", `{"deviceId":"d"}`, "page", "1", "page", "2"), "page"},
		{"a _links that is no boolean", url.Values{"_links": {"yes"}, "query": {`{"deviceId":"d"}`}}, "_links"},
		{"a filter on another field", q("filterField", "message", "filter", "x"), "filterField"},
		{"a glob", q("filterField", "subject", "filter", "door*"), "filter"},
		{"an unknown state", q("filterField", "subject", "filter", "door", "state", "closed"), "state"},
		{"an unknown state beside a query", q("query", `{"deviceId":"d"}`, "state", "closed"), "state"},
		{"an unknown state in a query", q("query", `{"deviceId":"d","state":"closed"}`), "state"},
		{"a query that is not JSON", q("query", `{deviceId`), "query"},
		{"a query that is a list", q("query", `[]`), "query"},
		{"a query on eventTags", q("query", `{"eventTags":{"a":"b"}}`), "query"},
		{"two devices", q("query", `{"$and":[{"deviceId":"a"},{"deviceId":"b"}]}`), "query"},
		{"devices by $in", q("query", `{"deviceId":{"$in":["a","b"]}}`), "query"},
		{"a subject by $regex", q("query", `{"deviceId":"d","subject":{"$regex":"x"}}`), "query"},
		{"an unknown level", q("query", `{"deviceId":"d","level":"fatal"}`), "query"},
		{"an empty range of dates", q("query", `{"deviceId":"d","creationDate":{"$gte":"2016-06-13T00:00:00Z","$lt":"2016-06-12T00:00:00Z"}}`), "query"},
		{"a date by $eq", q("query", `{"deviceId":"d","creationDate":{"$eq":"2016-06-13T00:00:00Z"}}`), "query"},
		{"a device that is not one", q("query", `{"deviceId":"a b"}`), "query"},
		{"eleven subjects", q("query", `{"deviceId":"d","subject":{"$in":["1","2","3","4","5","6","7","8","9","10","11"]}}`), "query"},
		{"every device without a subject", q(), "query"},
		{"every device's info events", q("query", `{"level":"info"}`), "query"},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			_, err := ParseList(c.in)
			var e *apierror.Error
			if !errors.As(err, &e) || e.Parameter != c.param || e.Status() != 400 {
				t.Errorf("got %v, want a 400 naming %s", err, c.param)
			}
		})
	}
}

func TestErrorsAreLosants(t *testing.T) {
	for _, c := range []struct {
		name string
		in   apierror.Error
		want Error
	}{
		{"a field is named as Losant names it", apierror.Error{Code: apierror.InvalidEvent, Field: "severity", Message: "severity: must be one of info, warning, error, critical"},
			Error{Type: "Validation", Message: "level: must be one of info, warning, error, critical"}},
		{"an immutable type is the subject", apierror.Error{Code: apierror.ImmutableField, Field: "type", Message: "type: cannot be changed"},
			Error{Type: "Validation", Message: "subject: cannot be changed"}},
		{"a field Losant shares keeps its name", apierror.Error{Code: apierror.InvalidEvent, Field: "state", Message: "state: must be new, acknowledged or resolved"},
			Error{Type: "Validation", Message: "state: must be new, acknowledged or resolved"}},
		{"not found is NotFound", apierror.Error{Code: apierror.NotFound, Message: "Event was not found"}, Error{Type: "NotFound", Message: "Event was not found"}},
		{"forbidden is Forbidden", apierror.Error{Code: apierror.Forbidden, Message: "m"}, Error{Type: "Forbidden", Message: "m"}},
		{"an internal error keeps its generic message", apierror.Error{Code: apierror.Internal, Message: apierror.InternalMessage}, Error{Type: "InternalError", Message: apierror.InternalMessage}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ErrorBody(&c.in); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	t.Run("every code of the service has a type", func(t *testing.T) {
		for _, code := range apierror.Codes() {
			if _, ok := types[code]; !ok && code != apierror.UnsupportedPayload {
				t.Errorf("code %s has no Losant type", code)
			}
		}
	})
}

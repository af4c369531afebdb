package cumulocity

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// The document's POST example, with a custom fragment.
const docCreate = `{
  "time" : "2011-09-06T12:03:27.845+02:00",
  "type" : "com_cumulocity_model_DoorSensorEvent",
  "text" : "Door sensor was triggered.",
  "source": { "id" : "12345", "self": "ignored" },
  "com_othercompany_Extension" : { "door": "north" }
}`

func TestDecodeCreateMakesTheNativeBody(t *testing.T) {
	device, native, err := DecodeCreate([]byte(docCreate))
	if err != nil {
		t.Fatal(err)
	}
	if device != "12345" {
		t.Errorf("device = %q, want 12345", device)
	}
	var got map[string]any
	if err := json.Unmarshal(native, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time": "2011-09-06T12:03:27.845+02:00", "type": "com_cumulocity_model_DoorSensorEvent",
		"text": "Door sensor was triggered.", "data": map[string]any{"com_othercompany_Extension": map[string]any{"door": "north"}},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("native body = %s, want %s", g, w)
	}
}

func TestDecodeCreateNamesWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		name, body, field string
	}{
		{"a body without source is refused", `{"type":"t","time":"2026-01-01T00:00:00Z","text":"x"}`, "source"},
		{"a body without text is refused", `{"type":"t","time":"2026-01-01T00:00:00Z","source":{"id":"d"}}`, "text"},
		{"a body without time is refused", `{"type":"t","text":"x","source":{"id":"d"}}`, "time"},
		{"a source without an id is refused", `{"type":"t","time":"2026-01-01T00:00:00Z","text":"x","source":{}}`, "source.id"},
		{"a source that is no device id is refused", `{"type":"t","time":"2026-01-01T00:00:00Z","text":"x","source":{"id":"a b"}}`, "source.id"},
		{"a source that is not an object is refused", `{"type":"t","time":"2026-01-01T00:00:00Z","text":"x","source":"d"}`, "source"},
		{"a body that is an array is refused", `[]`, "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeCreate([]byte(c.body))
			var fe *eventstore.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error = %v, want a FieldError of %s", err, c.field)
			}
		})
	}
	t.Run("a body that is not JSON is a JSON error", func(t *testing.T) {
		_, _, err := DecodeCreate([]byte(`{"type":`))
		var je *jsonbody.Error
		if !errors.As(err, &je) {
			t.Fatalf("error = %v, want a jsonbody.Error", err)
		}
	})
	t.Run("a numeric source id is its digits", func(t *testing.T) {
		device, _, err := DecodeCreate([]byte(`{"type":"t","time":"2026-01-01T00:00:00Z","text":"x","source":{"id":12345}}`))
		if err != nil || device != "12345" {
			t.Fatalf("device, err = %q, %v; want 12345", device, err)
		}
	})
}

func TestDecodeUpdateKeepsTheReadOnlyMembersToTheirValues(t *testing.T) {
	id := eventstore.GlobalID("12345", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
	t.Run("an event sent back as read becomes a patch of its text and fragments, and immutable fields", func(t *testing.T) {
		native, err := DecodeUpdate([]byte(`{"id":"`+id+`","self":"/x","lastUpdated":"2026-01-01T00:00:00Z","source":{"id":"12345"},
			"type":"t","time":"2026-01-01T00:00:00Z","creationTime":"2026-01-01T00:00:00Z","text":"new","frag":{"a":1}}`), id)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(native, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"deviceId": "12345", "type": "t", "time": "2026-01-01T00:00:00Z",
			"creationTime": "2026-01-01T00:00:00Z", "text": "new", "data": map[string]any{"frag": map[string]any{"a": 1.0}}}
		if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
			t.Errorf("native patch = %s, want %s", g, w)
		}
	})
	t.Run("another id is an immutable field", func(t *testing.T) {
		_, err := DecodeUpdate([]byte(`{"id":"other"}`), id)
		var ie *eventstore.ImmutableError
		if !errors.As(err, &ie) || ie.Field != "id" {
			t.Fatalf("error = %v, want ImmutableError of id", err)
		}
	})
}

func TestParseListingReadsCumulocitysParameters(t *testing.T) {
	t.Run("the defaults are page 1 of 5, newest first", func(t *testing.T) {
		l, err := ParseListing(url.Values{"source": {"d1"}})
		if err != nil {
			t.Fatal(err)
		}
		if l.PageSize != 5 || l.CurrentPage != 1 || l.Revert || l.WithTotalPages {
			t.Errorf("got %+v, want page 1 of 5, newest first, no totals", l)
		}
	})
	t.Run("every parameter is read", func(t *testing.T) {
		l, err := ParseListing(url.Values{"source": {"d1"}, "type": {"t"}, "dateFrom": {"2026-01-01"}, "dateTo": {"2026-01-02T00:00:00+01:00"},
			"fragmentType": {"f"}, "pageSize": {"2000"}, "currentPage": {"3"}, "withTotalPages": {"true"}, "withTotalElements": {"true"}, "revert": {"true"}})
		if err != nil {
			t.Fatal(err)
		}
		want := Listing{Filter: Filter{Source: "d1", Type: "t", From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			To: time.Date(2026, 1, 1, 23, 0, 0, 0, time.UTC), FragmentType: "f"},
			PageSize: 2000, CurrentPage: 3, WithTotalPages: true, WithTotalElements: true, Revert: true}
		if !l.From.Equal(want.From) || !l.To.Equal(want.To) {
			t.Errorf("range = %v..%v, want %v..%v", l.From, l.To, want.From, want.To)
		}
		l.From, l.To, want.From, want.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if l != want {
			t.Errorf("got %+v, want %+v", l, want)
		}
	})
	for _, c := range []struct {
		name  string
		q     url.Values
		code  string
		param string
	}{
		{"a pageSize over 2000 is refused", url.Values{"pageSize": {"2001"}}, apierror.InvalidParameter, "pageSize"},
		{"a pageSize of 0 is refused", url.Values{"pageSize": {"0"}}, apierror.InvalidParameter, "pageSize"},
		{"a currentPage of 0 is refused", url.Values{"currentPage": {"0"}}, apierror.InvalidParameter, "currentPage"},
		{"a dateFrom that is no time is refused", url.Values{"dateFrom": {"yesterday"}}, apierror.InvalidParameter, "dateFrom"},
		{"a dateFrom after dateTo is refused", url.Values{"dateFrom": {"2026-01-02"}, "dateTo": {"2026-01-01"}}, apierror.InvalidParameter, "dateFrom"},
		{"a revert that is not a boolean is refused", url.Values{"revert": {"yes"}}, apierror.InvalidParameter, "revert"},
		{"a source that is no device id is refused", url.Values{"source": {"a/b"}}, apierror.InvalidParameter, "source"},
		{"an unknown parameter is refused, not ignored", url.Values{"withSourceAssets": {"true"}}, apierror.QueryFieldNotAllowed, "withSourceAssets"},
		{"a parameter given twice is refused", url.Values{"type": {"a", "b"}}, apierror.InvalidParameter, "type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseListing(c.q)
			var e *apierror.Error
			if !errors.As(err, &e) || e.Code != c.code || e.Parameter != c.param {
				t.Fatalf("error = %v, want %s of %s", err, c.code, c.param)
			}
		})
	}
	t.Run("a deletion takes the filters but not the paging", func(t *testing.T) {
		_, err := ParseDeletion(url.Values{"source": {"d"}, "pageSize": {"5"}})
		var e *apierror.Error
		if !errors.As(err, &e) || e.Code != apierror.QueryFieldNotAllowed {
			t.Fatalf("error = %v, want query_field_not_allowed", err)
		}
	})
}

func TestRenderShowsTheFragmentsAtTheTop(t *testing.T) {
	at := time.Date(2011, 9, 6, 10, 3, 27, 845e6, time.UTC)
	e := eventstore.Event{ID: "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", DeviceID: "12345", Type: "com_cumulocity_model_DoorSensorEvent",
		Time: at, CreationTime: at.Add(time.Second), LastUpdated: at.Add(time.Second), Text: "Door sensor was triggered.",
		Data: map[string]any{"com_othercompany_Extension": map[string]any{"door": "north"}, "id": "hidden"}}
	b, err := Render(e)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	id := eventstore.GlobalID("12345", e.ID)
	want := map[string]any{"id": id, "self": "/event/events/" + id, "type": e.Type, "text": e.Text,
		"time": "2011-09-06T10:03:27.845Z", "creationTime": "2011-09-06T10:03:28.845Z", "lastUpdated": "2011-09-06T10:03:28.845Z",
		"source": map[string]any{"id": "12345"}, "com_othercompany_Extension": map[string]any{"door": "north"}}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("rendered %s, want %s", g, w)
	}
	device, eventID, ok := ParseID(id)
	if !ok || device != "12345" || eventID != e.ID {
		t.Errorf("ParseID(%s) = %q, %q, %v; want the device and id back", id, device, eventID, ok)
	}
}

func TestACollectionLinksItsNeighbours(t *testing.T) {
	l := Listing{PageSize: 5, CurrentPage: 2, WithTotalPages: true}
	c := NewCollection(url.Values{"source": {"d1"}, "currentPage": {"2"}}, l, nil, 11, true)
	if c.Statistics.TotalPages == nil || *c.Statistics.TotalPages != 3 {
		t.Errorf("totalPages = %v, want 3 (11 events of 5 a page)", c.Statistics.TotalPages)
	}
	if c.Statistics.TotalElements != nil {
		t.Errorf("totalElements = %v, want none (not asked for)", *c.Statistics.TotalElements)
	}
	for link, want := range map[string]string{
		c.Self: "/event/events?currentPage=2&source=d1",
		c.Prev: "/event/events?currentPage=1&source=d1",
		c.Next: "/event/events?currentPage=3&source=d1",
	} {
		if link != want {
			t.Errorf("link %q, want %q", link, want)
		}
	}
	if last := NewCollection(nil, Listing{PageSize: 5, CurrentPage: 1}, nil, -1, false); last.Next != "" || last.Prev != "" || last.Events == nil {
		t.Errorf("a first and last page has next %q, prev %q, events %v; want no links and an empty list", last.Next, last.Prev, last.Events)
	}
}

func TestErrorsAreCumulocitys(t *testing.T) {
	for _, c := range []struct {
		code, want string
	}{
		{apierror.NotFound, "event/Not Found"},
		{apierror.InvalidParameter, "event/Bad Request"},
		{apierror.Forbidden, "security/Forbidden"},
		{apierror.Unauthorized, "security/Unauthorized"},
	} {
		t.Run(c.code+" is "+c.want, func(t *testing.T) {
			got := Error(&apierror.Error{Code: c.code, Message: "m", Parameter: "p"}, "req-1")
			if got.Error != c.want || got.Message != "m" || got.Info == "" || got.Details.Code != c.code || got.Details.RequestID != "req-1" {
				t.Errorf("got %+v, want error %s with the message, info and details", got, c.want)
			}
		})
	}
}

func TestContentTypeFollowsAccept(t *testing.T) {
	for accept, want := range map[string]string{
		"application/json":     "application/json",
		"":                     EventType + ";charset=UTF-8;ver=0.9",
		EventType + ";ver=0.9": EventType + ";charset=UTF-8;ver=0.9",
		"*/*":                  EventType + ";charset=UTF-8;ver=0.9",
	} {
		if got := ContentType(accept, EventType); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", accept, got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

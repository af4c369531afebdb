package droplit

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

func TestEveryRefusedParameterIsNamedByTheDocumentsReason(t *testing.T) {
	cases := []struct{ query, reason string }{
		{"continuationCount=-1", ContinuationCountInvalid},
		{"continuationCount=two", ContinuationCountInvalid},
		{"endDate=2016-12-13", EndDateInvalid},
		{"type=poked", EventTypeInvalid},
		{"pageSize=0", PageSizeInvalid},
		{"startDate=soon", StartDateInvalid},
		{"startDate=2016-12-14T00:00:00Z&endDate=2016-12-13T00:00:00Z", StartDateInvalid},
		{"index=-1", ServiceIndexInvalid},
		{"foo=bar", QueryFieldNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.query+" is "+c.reason, func(t *testing.T) {
			q, _ := url.ParseQuery(c.query)
			_, err := Parse(q)
			e, ok := err.(*apierror.Error)
			if !ok || Reason(e) != c.reason || e.Status() != 400 {
				t.Fatalf("Parse(%s) = %v, want 400 %q", c.query, err, c.reason)
			}
		})
	}
	t.Run("a device never seen is Device Not Found", func(t *testing.T) {
		if got := Reason(&apierror.Error{Code: apierror.NotFound}); got != DeviceNotFound {
			t.Fatalf("got %q, want %q", got, DeviceNotFound)
		}
	})
}

func TestParseReadsTheDocumentsParameters(t *testing.T) {
	q, _ := url.ParseQuery("startDate=2016-12-13T03:53:15.399Z&service=BinarySwitch&member=switch&type=Changed&pageSize=5000&continuationCount=2&index=0")
	got, err := Parse(q)
	want := Request{Start: time.Date(2016, 12, 13, 3, 53, 15, 399_000_000, time.UTC), Service: "BinarySwitch", Member: "switch",
		Type: "changed", PageSize: MaxPageSize, Count: 2, HasIndex: true}
	if err != nil || got != want {
		t.Fatalf("Parse = %+v (%v), want %+v", got, err, want)
	}
	if sev := got.Severities(); sev == nil || len(sev) != 0 {
		t.Fatalf("Severities of changed = %v, want none (not nil)", sev)
	}
}

func TestARecordIsItsEvent(t *testing.T) {
	at := time.Date(2016, 12, 13, 3, 53, 15, 399_000_000, time.UTC)
	cases := []struct {
		name string
		ev   eventstore.Event
		want Item
	}{
		{"a service event with its member, value and environment in data",
			eventstore.Event{ID: "01J", DeviceID: "D5", Type: "BinarySwitch", Time: at, Severity: eventstore.SeverityInfo,
				Data: map[string]any{"member": "switch", "value": "on", "environmentId": "E5"}},
			Item{DeviceID: "D5", EnvironmentID: "E5", Member: "switch", RecordKey: "01J", Service: "BinarySwitch", Time: "2016-12-13T03:53:15.399Z", Type: TypeEvent, Value: "on"}},
		{"an error without data is valued by its text",
			eventstore.Event{ID: "01K", DeviceID: "D5", Type: "deploy", Time: at, Severity: eventstore.SeverityCritical, Text: "failed"},
			Item{DeviceID: "D5", RecordKey: "01K", Service: "deploy", Time: "2016-12-13T03:53:15.399Z", Type: TypeError, Value: "failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ItemOf(c.ev); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
	t.Run("member and index filter on data, index as a number or its string", func(t *testing.T) {
		r := Request{Member: "switch", Index: 1, HasIndex: true}
		for _, idx := range []any{json.Number("1"), "1"} {
			if !r.Matches(eventstore.Event{Data: map[string]any{"member": "switch", "index": idx}}) {
				t.Errorf("index %#v: no match, want one", idx)
			}
		}
		if r.Matches(eventstore.Event{Data: map[string]any{"member": "switch", "index": json.Number("2")}}) {
			t.Errorf("index 2 matches index 1")
		}
	})
}

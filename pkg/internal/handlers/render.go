package handlers

import (
	"net/url"
	"strconv"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// jsonResponse is an answer of status with v as its JSON.
func jsonResponse(status int, v any) apigw.Response {
	b, err := marshalJSON(v)
	if err != nil {
		// Only our own types are marshalled here; failing is a bug.
		b = []byte(`{"error":"internal","message":"internal error"}`)
		status = 500
	}
	return apigw.Response{Status: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}
}

// marshalJSON is how every answer's JSON is written; a listing sizes its
// events with it (list.go).
func marshalJSON(v any) ([]byte, error) { return jsonbody.Marshal(v) }

// eventJSON is an event as the API writes it.
type eventJSON struct {
	ID           string         `json:"id"`
	Self         string         `json:"self"`
	DeviceID     string         `json:"deviceId"`
	Type         string         `json:"type"`
	Time         any            `json:"time"`
	CreationTime any            `json:"creationTime"`
	LastUpdated  any            `json:"lastUpdated"`
	Status       string         `json:"status,omitempty"`
	Severity     string         `json:"severity"`
	State        string         `json:"state"`
	Text         string         `json:"text,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
	Updates      []updateJSON   `json:"updates"`
	Version      int64          `json:"version"`
}

type updateJSON struct {
	Time    any            `json:"time"`
	By      string         `json:"by"`
	Changes map[string]any `json:"changes"`
}

func selfPath(device, id string) string {
	return "/devices/" + url.PathEscape(device) + "/events/" + id
}

func render(e eventstore.Event, unix bool) eventJSON {
	// A new event's three times are often one: format it once.
	created := timestamp.Format(e.CreationTime, unix)
	at, updated := created, created
	if e.Time != e.CreationTime {
		at = timestamp.Format(e.Time, unix)
	}
	if e.LastUpdated != e.CreationTime {
		updated = timestamp.Format(e.LastUpdated, unix)
	}
	out := eventJSON{
		ID: e.ID, Self: selfPath(e.DeviceID, e.ID), DeviceID: e.DeviceID, Type: e.Type,
		Time: at, CreationTime: created,
		LastUpdated: updated, Status: e.Status, Severity: string(e.Severity),
		State: string(e.State), Text: e.Text, Data: e.Data, Version: e.Version,
		Updates: make([]updateJSON, len(e.Updates)),
	}
	for i, u := range e.Updates {
		out.Updates[i] = updateJSON{Time: timestamp.Format(u.Time, unix), By: u.By, Changes: u.Changes}
	}
	return out
}

func renderAll(evs []eventstore.Event, unix bool) []eventJSON {
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = render(e, unix)
	}
	return out
}

// etag is the ETag of an event's version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// Package losant is the Losant dialect: Losant's application events API
// (losant-event-actions.txt, and the losant-rest client's schemas) mapped
// onto the native events. It reads Losant's requests into the store's
// queries, patches and new events, and writes events, collections and
// errors in Losant's shapes. It is mapping only: the handlers
// (pkg/internal/handlers/losant.go) store and read.
//
// The fields, Losant's and the native ones they are:
//
//	id, eventId     GlobalID(deviceId, id): the event id with its device, so that
//	                an event resolves without its device (eventstore.GlobalID)
//	applicationId   the path's, echoed: the service is one application, and any
//	                application id (1–128 characters of A-Z a-z 0-9 . _ : -) names it
//	creationDate    time (when it happened; a POST may set it)
//	lastUpdated     lastUpdated
//	level           severity (the same four values)
//	state           state (the same three values; a new event is new)
//	subject         type (1–128 characters, no commas; it cannot change)
//	message         text (at most 8 KiB)
//	deviceId        deviceId (required: every event here belongs to a device)
//	data            data (a JSON object; a PATCH merges it, RFC 7396)
//	comment         the comment of the update a PATCH records
//	updates         updates: each with creationDate (its time), sourceType
//	                (apiToken for a device API key, else user), sourceName (who),
//	                comment, stateChange {old, new} and data (the merge patch)
package losant

import (
	"encoding/json"
	"strings"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// Event is an event as Losant's clients read it.
type Event struct {
	ID            string         `json:"id"`
	EventID       string         `json:"eventId"`
	ApplicationID string         `json:"applicationId"`
	CreationDate  any            `json:"creationDate"`
	LastUpdated   any            `json:"lastUpdated"`
	Level         string         `json:"level"`
	State         string         `json:"state"`
	Subject       string         `json:"subject"`
	Message       string         `json:"message,omitempty"`
	DeviceID      string         `json:"deviceId"`
	Data          map[string]any `json:"data,omitempty"`
	Updates       []Update       `json:"updates"`
}

// Update is one change of an event, as Losant's clients read it.
type Update struct {
	CreationDate any            `json:"creationDate"`
	SourceType   string         `json:"sourceType"`
	SourceName   string         `json:"sourceName"`
	Comment      string         `json:"comment,omitempty"`
	StateChange  *StateChange   `json:"stateChange,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
}

// StateChange is the state an update left and the one it set.
type StateChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// keyCaller starts the name the handlers record a device API key's
// changes under (apikey:<id>).
const keyCaller = "apikey:"

// Render writes e as Losant's event of application app.
func Render(e eventstore.Event, app string) Event {
	id := eventstore.GlobalID(e.DeviceID, e.ID)
	out := Event{
		ID: id, EventID: id, ApplicationID: app,
		CreationDate: timestamp.Format(e.Time, false), LastUpdated: timestamp.Format(e.LastUpdated, false),
		Level: string(e.Severity), State: string(e.State), Subject: e.Type, Message: e.Text,
		DeviceID: e.DeviceID, Data: e.Data, Updates: make([]Update, len(e.Updates)),
	}
	// An event starts new (a POST cannot set another state): each state
	// change's old state is the one the updates before it left. Past the
	// 100 updates the history keeps, the first kept one's old state is a
	// guess.
	state := string(eventstore.StateNew)
	for i, u := range e.Updates {
		lu := Update{CreationDate: timestamp.Format(u.Time, false), SourceType: "user", SourceName: u.By}
		if strings.HasPrefix(u.By, keyCaller) {
			lu.SourceType = "apiToken"
		}
		if c, ok := u.Changes["comment"].(string); ok {
			lu.Comment = c
		}
		if s, ok := u.Changes["state"].(string); ok {
			lu.StateChange = &StateChange{Old: state, New: s}
			state = s
		}
		if d, ok := u.Changes["data"].(map[string]any); ok {
			lu.Data = d
		}
		out.Updates[i] = lu
	}
	return out
}

// Collection is a page of events, as Losant's clients read it.
type Collection struct {
	Items         []json.RawMessage `json:"items"`
	Count         int               `json:"count"`
	TotalCount    int64             `json:"totalCount"`
	PerPage       int               `json:"perPage"`
	Page          int64             `json:"page"`
	SortField     string            `json:"sortField"`
	SortDirection string            `json:"sortDirection"`
	ApplicationID string            `json:"applicationId"`
	FilterField   string            `json:"filterField,omitempty"`
	Filter        string            `json:"filter,omitempty"`
	State         string            `json:"state,omitempty"`
	Query         json.RawMessage   `json:"query,omitempty"`
}

// Success is the answer of a delete.
type Success struct {
	Success bool `json:"success"`
}

// ValidApplicationID reports whether id may name the application.
func ValidApplicationID(id string) bool { return eventstore.ValidDeviceID(id) }

package losant

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/body"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// postFields are the fields of a POST body (Losant's Event Post).
var postFields = []string{"level", "state", "subject", "message", "data", "deviceId", "creationDate"}

// DecodePost reads the body of POST /applications/{applicationId}/events
// into a new event, validated at now. Losant's eventTags are not kept
// here, and a new event is new: another state is refused.
func DecodePost(b []byte, now time.Time) (eventstore.NewEvent, error) {
	obj, err := object(b)
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(postFields, k) {
			return eventstore.NewEvent{}, &eventstore.FieldError{Field: k, Message: "unknown field (allowed: level, state, subject, message, data, deviceId, creationDate)"}
		}
	}
	var ev eventstore.NewEvent
	var level, state string
	for field, dst := range map[string]*string{"level": &level, "state": &state, "subject": &ev.Type, "message": &ev.Text, "deviceId": &ev.DeviceID} {
		if raw, ok := obj[field]; ok && json.Unmarshal(raw, dst) != nil {
			return ev, &eventstore.FieldError{Field: field, Message: "must be a string"}
		}
	}
	if level == "" {
		return ev, &eventstore.FieldError{Field: "level", Message: "required (info, warning, error or critical)"}
	}
	ev.Severity = eventstore.Severity(level)
	if state != "" && state != string(eventstore.StateNew) {
		return ev, &eventstore.FieldError{Field: "state", Message: "a new event is new here; PATCH it to change its state"}
	}
	if raw, ok := obj["data"]; ok && string(raw) != "null" {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&ev.Data) != nil || ev.Data == nil {
			return ev, &eventstore.FieldError{Field: "data", Message: "must be a JSON object"}
		}
	}
	if raw, ok := obj["creationDate"]; ok {
		if ev.Time, err = readDate(raw); err != nil {
			return ev, &eventstore.FieldError{Field: "creationDate", Message: "must be an ISO 8601 date, Unix milliseconds or {\"$date\": ISO 8601}"}
		}
		ev.Time = ev.Time.Truncate(time.Millisecond)
	}
	return ev, ev.Validate(now)
}

// readDate reads a date as Losant's clients send one: an ISO 8601 string,
// a number of Unix milliseconds (a JavaScript Date's), or {"$date": ISO}.
func readDate(raw json.RawMessage) (time.Time, error) {
	var wrapped struct {
		Date *string `json:"$date"`
	}
	var n json.Number
	var s string
	switch {
	case json.Unmarshal(raw, &s) == nil:
		return timestamp.Parse(s)
	case json.Unmarshal(raw, &n) == nil:
		ms, err := n.Int64()
		if err != nil || ms < 0 {
			return time.Time{}, timestamp.ErrInvalid
		}
		return time.UnixMilli(ms).UTC(), nil
	case json.Unmarshal(raw, &wrapped) == nil && wrapped.Date != nil:
		return timestamp.Parse(*wrapped.Date)
	}
	return time.Time{}, timestamp.ErrInvalid
}

// patchFields maps the fields of a PATCH body to the native PATCH's.
var patchFields = map[string]string{"state": "state", "comment": "comment", "level": "severity", "subject": "type", "message": "text", "data": "data"}

// DecodePatch reads the body of PATCH .../events/{eventId} into the
// native patch (body.DecodePatch), so that a Losant PATCH is a native one:
// the same checks, the same history, the same conditional write. subject
// may only be sent unchanged (the type is immutable); data is merged.
func DecodePatch(b []byte) (eventstore.Patch, error) {
	obj, err := object(b)
	if err != nil {
		return eventstore.Patch{}, err
	}
	native := make(map[string]json.RawMessage, len(obj))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		n, ok := patchFields[k]
		if !ok {
			return eventstore.Patch{}, &eventstore.FieldError{Field: k, Message: "unknown field (settable: state, comment, level, subject, message, data)"}
		}
		native[n] = obj[k]
	}
	nb, err := json.Marshal(native)
	if err != nil {
		return eventstore.Patch{}, err
	}
	return body.DecodePatch(nb)
}

// object reads a body that must be a JSON object.
func object(b []byte) (map[string]json.RawMessage, error) {
	if err := jsonbody.Check(b); err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, &eventstore.FieldError{Field: "body", Message: "must be a JSON object"}
	}
	return obj, nil
}

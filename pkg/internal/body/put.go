package body

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// Put is a decoded put-event body.
type Put struct {
	Events []eventstore.NewEvent
	// Batch is true when the body was an array or {"events": [...]}, even
	// of one event: the answer lists events either way, but only a single
	// event takes the Idempotency-Key header as its own key.
	Batch bool
}

// DecodePut reads a put-event body. pathDevice is the device in the URL; it
// is empty for a direct invoke, whose events name their device in deviceId
// or deviceid (at the top of the body or in each event). Each event is
// validated as it is read (eventstore.NewEvent.Validate), at now: an error
// names the first event at fault, whatever is wrong with it. Errors are
// *jsonbody.Error (not JSON), *eventstore.FieldError (a field is wrong) or
// *TooLargeError.
func DecodePut(body []byte, pathDevice string, now time.Time) (Put, error) {
	if err := precheck(body); err != nil {
		return Put{}, err
	}
	if err := jsonbody.Check(body); err != nil {
		return Put{}, err
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return Put{}, &jsonbody.Error{Msg: "body is not JSON"}
		}
		events, err := decodeBatch(elems, pathDevice, "", now)
		return Put{Events: events, Batch: true}, err
	}
	obj, err := object(body, "body")
	if err != nil {
		return Put{}, err
	}
	if raw, ok := obj["events"]; ok {
		for k := range obj {
			if k != "events" && k != "deviceId" && k != "deviceid" {
				return Put{}, &eventstore.FieldError{Field: k, Message: "unknown field next to events"}
			}
		}
		device, field, err := deviceOf(obj)
		if err != nil {
			return Put{}, err
		}
		if err := sameDevice(field, device, pathDevice); err != nil {
			return Put{}, err
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return Put{}, &eventstore.FieldError{Field: "events", Message: "must be an array"}
		}
		events, err := decodeBatch(elems, pathDevice, device, now)
		return Put{Events: events, Batch: true}, err
	}
	ev, err := decodeOne(obj, pathDevice, "", now)
	if err != nil {
		return Put{}, err
	}
	return Put{Events: []eventstore.NewEvent{ev}}, nil
}

func decodeBatch(elems []json.RawMessage, pathDevice, batchDevice string, now time.Time) ([]eventstore.NewEvent, error) {
	if len(elems) == 0 || len(elems) > eventstore.MaxBatch {
		return nil, &eventstore.FieldError{Field: "events", Message: fmt.Sprintf("must hold 1 to %d events, not %d", eventstore.MaxBatch, len(elems))}
	}
	out := make([]eventstore.NewEvent, len(elems))
	for i, raw := range elems {
		prefix := fmt.Sprintf("events[%d]", i)
		obj, err := object(raw, prefix)
		if err != nil {
			return nil, err
		}
		if _, nested := obj["events"]; nested {
			return nil, &eventstore.FieldError{Field: prefix + ".events", Message: "batches do not nest"}
		}
		ev, err := decodeOne(obj, pathDevice, batchDevice, now)
		if err != nil {
			return nil, prefixed(err, prefix)
		}
		out[i] = ev
	}
	return out, nil
}

func prefixed(err error, prefix string) error {
	switch e := err.(type) {
	case *eventstore.FieldError:
		return e.Prefix(prefix)
	case *TooLargeError:
		return &TooLargeError{Field: prefix, Size: e.Size}
	}
	return err
}

// deviceOf reads deviceId or deviceid; both may be given if they agree.
func deviceOf(obj map[string]json.RawMessage) (device, field string, err error) {
	for _, f := range []string{"deviceId", "deviceid"} {
		raw, ok := obj[f]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", f, &eventstore.FieldError{Field: f, Message: "must be a string"}
		}
		if device != "" && s != device {
			return "", f, &eventstore.FieldError{Field: f, Message: "differs from deviceId"}
		}
		device, field = s, f
	}
	return device, field, nil
}

func sameDevice(field, device, pathDevice string) error {
	if device != "" && pathDevice != "" && device != pathDevice {
		return &eventstore.FieldError{Field: field, Message: fmt.Sprintf("%q differs from the device in the path", device)}
	}
	return nil
}

// decodeOne reads one event object of any of the shapes, and validates it
// at now.
func decodeOne(obj map[string]json.RawMessage, pathDevice, batchDevice string, now time.Time) (eventstore.NewEvent, error) {
	device, field, err := deviceOf(obj)
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	if err := sameDevice(field, device, pathDevice); err != nil {
		return eventstore.NewEvent{}, err
	}
	if device == "" {
		device = batchDevice
	}
	if device == "" {
		device = pathDevice
	}
	if device == "" {
		return eventstore.NewEvent{}, &eventstore.FieldError{Field: "deviceId", Message: "required (or deviceid) when invoking the function directly"}
	}
	var ev eventstore.NewEvent
	switch shapeOf(obj) {
	case salt:
		ev, err = decodeSalt(obj)
	case registrySalt:
		ev, err = decodeRegistrySalt(obj)
	case delaval:
		ev, err = decodeDeLaval(obj)
	default:
		ev, err = decodeNative(obj)
	}
	if err != nil {
		return ev, err
	}
	ev.DeviceID = device
	if n := eventSize(ev); n > eventstore.MaxEventBytes {
		return ev, &TooLargeError{Field: "body", Size: n}
	}
	if err := ev.Validate(now); err != nil {
		return ev, err
	}
	return ev, nil
}

// eventSize is the size of the event as the API will return it, less a
// fixed allowance for the fields the server adds.
func eventSize(ev eventstore.NewEvent) int {
	b, _ := jsonbody.Marshal(struct {
		T, S, X string
		D       map[string]any
	}{ev.Type, ev.Status, ev.Text, ev.Data})
	return len(b) + 400
}

// Package ingest reads the bodies put-event accepts and turns them into new
// events: the native event, the DeLaval device registry body, a Salt job
// return, and batches of these, over HTTP or as a direct Lambda invoke.
package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// TooLargeError is returned for an event over eventstore.MaxEventBytes.
type TooLargeError struct {
	Field string
	Size  int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: event is %d bytes as JSON, more than %d", e.Field, e.Size, eventstore.MaxEventBytes)
}

// Request is a decoded put-event body.
type Request struct {
	Events []eventstore.NewEvent
	// Batch is true when the body was an array or {"events": [...]}, even
	// of one event: the answer lists events either way, but only a single
	// event takes the Idempotency-Key header as its own key.
	Batch bool
}

// Decode reads a put-event body. pathDevice is the device in the URL; it is
// empty for a direct invoke, whose events name their device in deviceId or
// deviceid (at the top of the body or in each event). Errors are
// *jsonbody.Error (not JSON), *eventstore.FieldError (a field is wrong) or
// *TooLargeError.
func Decode(body []byte, pathDevice string) (Request, error) {
	if err := precheck(body); err != nil {
		return Request{}, err
	}
	if err := jsonbody.Check(body); err != nil {
		return Request{}, err
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return Request{}, &jsonbody.Error{Msg: "body is not JSON"}
		}
		events, err := decodeBatch(elems, pathDevice, "")
		return Request{Events: events, Batch: true}, err
	}
	obj, err := object(body, "body")
	if err != nil {
		return Request{}, err
	}
	if raw, ok := obj["events"]; ok {
		for k := range obj {
			if k != "events" && k != "deviceId" && k != "deviceid" {
				return Request{}, &eventstore.FieldError{Field: k, Message: "unknown field next to events"}
			}
		}
		device, field, err := deviceOf(obj)
		if err != nil {
			return Request{}, err
		}
		if err := sameDevice(field, device, pathDevice); err != nil {
			return Request{}, err
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return Request{}, &eventstore.FieldError{Field: "events", Message: "must be an array"}
		}
		events, err := decodeBatch(elems, pathDevice, device)
		return Request{Events: events, Batch: true}, err
	}
	ev, err := decodeOne(obj, pathDevice, "", len(body))
	if err != nil {
		return Request{}, err
	}
	return Request{Events: []eventstore.NewEvent{ev}}, nil
}

// sizeSlack is what an event's body may hold beyond what eventSize counts
// (field names, the device, the idempotency key, the time) while still
// being within MaxEventBytes: precheck refuses only what is certainly over.
const sizeSlack = 1 << 10

// precheck refuses, before anything is decoded, a body whose events are
// certainly too large or too many: a body of megabytes costs one reading
// of its bytes rather than its decoding (seconds of CPU for a body of small
// numbers). Anything it cannot judge, such as a body that is not JSON, it
// leaves to Check and the decoding, which decide exactly.
func precheck(body []byte) error {
	i := jsonbody.SkipSpace(body, 0)
	switch {
	case i == len(body):
		return nil
	case body[i] == '[':
		return precheckBatch(body, i)
	case body[i] != '{':
		return nil
	}
	// An object is one event, unless it has the member "events".
	size := 1
	for j := jsonbody.SkipSpace(body, i+1); j < len(body) && body[j] != '}'; {
		kend, ksize, ok := jsonbody.Value(body, j)
		if !ok || body[j] != '"' || bytes.IndexByte(body[j:kend], '\\') >= 0 {
			return nil
		}
		key := body[j:kend]
		if j = jsonbody.SkipSpace(body, kend); j == len(body) || body[j] != ':' {
			return nil
		}
		if string(key) == `"events"` {
			return precheckBatch(body, jsonbody.SkipSpace(body, j+1))
		}
		vend, vsize, ok := jsonbody.Value(body, j+1)
		if !ok {
			return nil
		}
		size += ksize + 1 + vsize + 1 // the colon, and a comma or the closing brace
		if j = jsonbody.SkipSpace(body, vend); j < len(body) && body[j] == ',' {
			j = jsonbody.SkipSpace(body, j+1)
		}
	}
	if size > eventstore.MaxEventBytes+sizeSlack {
		return &TooLargeError{Field: "body", Size: size}
	}
	return nil
}

// precheckBatch looks at the array at body[i]: more than MaxBatch elements,
// or one that is certainly over MaxEventBytes, is refused.
func precheckBatch(body []byte, i int) error {
	if i >= len(body) || body[i] != '[' {
		return nil
	}
	for n, j := 0, jsonbody.SkipSpace(body, i+1); j < len(body) && body[j] != ']'; n++ {
		if n == eventstore.MaxBatch {
			return &eventstore.FieldError{Field: "events", Message: fmt.Sprintf("must hold 1 to %d events, not more", eventstore.MaxBatch)}
		}
		end, size, ok := jsonbody.Value(body, j)
		if !ok {
			return nil
		}
		if size > eventstore.MaxEventBytes+sizeSlack {
			return &TooLargeError{Field: fmt.Sprintf("events[%d]", n), Size: size}
		}
		if j = jsonbody.SkipSpace(body, end); j < len(body) && body[j] == ',' {
			j = jsonbody.SkipSpace(body, j+1)
		}
	}
	return nil
}

func decodeBatch(elems []json.RawMessage, pathDevice, batchDevice string) ([]eventstore.NewEvent, error) {
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
		ev, err := decodeOne(obj, pathDevice, batchDevice, len(raw))
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

func object(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, &eventstore.FieldError{Field: field, Message: "must be a JSON object"}
	}
	return obj, nil
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

// decodeOne reads one event object of any of the three shapes.
func decodeOne(obj map[string]json.RawMessage, pathDevice, batchDevice string, size int) (eventstore.NewEvent, error) {
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
	if err := ev.Validate(time.Now()); err != nil {
		return ev, err
	}
	return ev, nil
}

type shape int

const (
	native shape = iota
	delaval
	salt
	// registrySalt is a Salt job result as the DeLaval registry took it:
	// {"deviceid", "function", "state": <the job return>}.
	registrySalt
)

func shapeOf(obj map[string]json.RawMessage) shape {
	_, fun := obj["fun"]
	_, jid := obj["jid"]
	_, ret := obj["return"]
	if fun && (jid || ret) {
		return salt
	}
	_, typ := obj["type"]
	_, function := obj["function"]
	if state, ok := obj["state"]; ok && function && !typ && bytes.HasPrefix(bytes.TrimLeft(state, " \t\r\n"), []byte("{")) {
		return registrySalt
	}
	_, description := obj["description"]
	_, lower := obj["deviceid"]
	if !typ && (function || description || lower) {
		return delaval
	}
	return native
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

func checkFields(obj map[string]json.RawMessage, allowed ...string) error {
	var unknown []string
	for k := range obj {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &eventstore.FieldError{Field: unknown[0], Message: "unknown field (allowed: " + strings.Join(allowed, ", ") + ")"}
	}
	return nil
}

func decodeNative(obj map[string]json.RawMessage) (eventstore.NewEvent, error) {
	var ev eventstore.NewEvent
	if err := checkFields(obj, "type", "time", "status", "severity", "text", "data", "idempotencyKey", "deviceId", "deviceid"); err != nil {
		return ev, err
	}
	var err error
	set := func(dst *string, field string) {
		if err == nil {
			*dst, err = str(obj, field)
		}
	}
	var severity string
	set(&ev.Type, "type")
	set(&ev.Status, "status")
	set(&severity, "severity")
	set(&ev.Text, "text")
	set(&ev.IdempotencyKey, "idempotencyKey")
	if err != nil {
		return ev, err
	}
	ev.Severity = eventstore.Severity(severity)
	if ev.Time, err = timeField(obj, "time"); err != nil {
		return ev, err
	}
	ev.Data, err = dataField(obj, "data")
	return ev, err
}

// decodeDeLaval reads the body of the DeLaval device registry:
// {"deviceid", "status", "description", "function"}.
func decodeDeLaval(obj map[string]json.RawMessage) (eventstore.NewEvent, error) {
	var ev eventstore.NewEvent
	if err := checkFields(obj, "deviceid", "deviceId", "status", "description", "function", "idempotencyKey"); err != nil {
		return ev, err
	}
	var err error
	set := func(dst *string, field string) {
		if err == nil {
			*dst, err = str(obj, field)
		}
	}
	set(&ev.Type, "function")
	set(&ev.Status, "status")
	set(&ev.Text, "description")
	set(&ev.IdempotencyKey, "idempotencyKey")
	if err == nil && ev.Type == "" {
		err = &eventstore.FieldError{Field: "function", Message: "required"}
	}
	if err == nil {
		if ferr := eventstore.CheckType("function", ev.Type); ferr != nil {
			err = ferr
		}
	}
	return ev, err
}

// decodeSalt reads a Salt job return: the function becomes the type, the
// whole return the data, and the state results are counted.
func decodeSalt(obj map[string]json.RawMessage) (eventstore.NewEvent, error) {
	var ev eventstore.NewEvent
	var err error
	if ev.Type, err = str(obj, "fun"); err != nil {
		return ev, err
	}
	if ev.Type == "" {
		return ev, &eventstore.FieldError{Field: "fun", Message: "required"}
	}
	if ev.IdempotencyKey, err = str(obj, "idempotencyKey"); err != nil {
		return ev, err
	}
	job := map[string]any{}
	for k, raw := range obj {
		if k == "deviceId" || k == "deviceid" || k == "idempotencyKey" {
			continue
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return ev, &eventstore.FieldError{Field: k, Message: "not JSON"}
		}
		job[k] = v
	}
	return saltEvent(ev.Type, ev.IdempotencyKey, job), nil
}

// decodeRegistrySalt reads a Salt job result in the registry's form: the
// function names the job, and state is its return as Salt gave it (no
// fun; fun_args, jid, success, return, retcode, ...).
func decodeRegistrySalt(obj map[string]json.RawMessage) (eventstore.NewEvent, error) {
	if err := checkFields(obj, "deviceid", "deviceId", "function", "state", "idempotencyKey"); err != nil {
		return eventstore.NewEvent{}, err
	}
	fun, err := str(obj, "function")
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	if err := eventstore.CheckType("function", fun); err != nil {
		return eventstore.NewEvent{}, err
	}
	key, err := str(obj, "idempotencyKey")
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	job, err := dataField(obj, "state")
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	return saltEvent(fun, key, job), nil
}

// saltEvent makes the event of a Salt job return: the function is the type,
// the whole return the data's job, the state results are counted, and the
// status says whether the job succeeded.
func saltEvent(fun, key string, job map[string]any) eventstore.NewEvent {
	ev := eventstore.NewEvent{Type: fun, IdempotencyKey: key}
	succeeded, failed := 0, 0
	if states, ok := job["return"].(map[string]any); ok {
		for _, st := range states {
			if m, ok := st.(map[string]any); ok {
				switch m["result"] {
				case true:
					succeeded++
				case false:
					failed++
				}
			}
		}
	}
	success, _ := job["success"].(bool)
	retcode, _ := job["retcode"].(json.Number)
	ev.Status = "Failed"
	if success && (retcode == "" || retcode == "0") && failed == 0 {
		ev.Status = "Succeeded"
	}
	ev.Data = map[string]any{"job": job, "succeeded": json.Number(strconv.Itoa(succeeded)), "failed": json.Number(strconv.Itoa(failed))}
	if minion, ok := job["id"].(string); ok && eventstore.ValidDeviceID(minion) {
		ev.Text = fmt.Sprintf("%s on %s: %d succeeded, %d failed", ev.Type, minion, succeeded, failed)
	} else {
		ev.Text = fmt.Sprintf("%s: %d succeeded, %d failed", ev.Type, succeeded, failed)
	}
	// Salt stamps a return with its UTC time, without a zone.
	if stamp, ok := job["_stamp"].(string); ok {
		if t, err := time.Parse("2006-01-02T15:04:05.999999", stamp); err == nil {
			ev.Time = t.UTC()
		}
	}
	return ev
}

func str(obj map[string]json.RawMessage, field string) (string, error) {
	raw, ok := obj[field]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &eventstore.FieldError{Field: field, Message: "must be a string"}
	}
	return s, nil
}

func timeField(obj map[string]json.RawMessage, field string) (time.Time, error) {
	raw, ok := obj[field]
	if !ok || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return time.Time{}, &eventstore.FieldError{Field: field, Message: "must be an ISO 8601 string or Unix seconds"}
		}
		s = n.String()
	}
	t, err := timestamp.Parse(s)
	if err != nil {
		return time.Time{}, &eventstore.FieldError{Field: field, Message: err.Error()}
	}
	return t, nil
}

func dataField(obj map[string]json.RawMessage, field string) (map[string]any, error) {
	raw, ok := obj[field]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, &eventstore.FieldError{Field: field, Message: "must be a JSON object"}
	}
	return m, nil
}

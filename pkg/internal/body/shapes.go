package body

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

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

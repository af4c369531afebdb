package body

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// DecodePatch reads a PATCH body, a JSON object of the settable fields
// (state, severity, status, text, comment, and data as an RFC 7396 merge
// patch) and of immutable ones sent back unchanged, into a store patch.
func DecodePatch(body []byte) (eventstore.Patch, error) {
	p := eventstore.Patch{Immutable: map[string]any{}, Changes: map[string]any{}}
	if err := jsonbody.Check(body); err != nil {
		return p, err
	}
	// The body is JSON by now: failing to read it as an object means it is
	// another value (an array, a number), which is the caller's mistake.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return p, &eventstore.FieldError{Field: "body", Message: "must be a JSON object"}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[k]
		null := string(raw) == "null"
		switch k {
		case "state", "severity":
			var s string
			if null || json.Unmarshal(raw, &s) != nil {
				return p, &eventstore.FieldError{Field: k, Message: "must be a string"}
			}
			if k == "state" {
				p.State = ptr(eventstore.State(s))
			} else {
				p.Severity = ptr(eventstore.Severity(s))
			}
		case "status", "text", "comment":
			var s string
			if !null && json.Unmarshal(raw, &s) != nil {
				return p, &eventstore.FieldError{Field: k, Message: "must be a string or null"}
			}
			switch k {
			case "status":
				p.Status = &s
			case "text":
				p.Text = &s
			default:
				if s == "" {
					return p, &eventstore.FieldError{Field: k, Message: "must not be empty"}
				}
				p.Comment = s
			}
		case "data":
			if null {
				p.DataRemove = true
				break
			}
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&p.Data); err != nil || p.Data == nil {
				return p, &eventstore.FieldError{Field: k, Message: "must be a JSON object (a merge patch) or null"}
			}
		case "id", "deviceId", "type":
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return p, &eventstore.ImmutableError{Field: k}
			}
			p.Immutable[k] = s
			continue
		case "time", "creationTime":
			t, err := readTime(raw)
			if err != nil {
				return p, &eventstore.ImmutableError{Field: k}
			}
			p.Immutable[k] = t.Truncate(time.Millisecond)
			continue
		default:
			return p, &eventstore.FieldError{Field: k, Message: "unknown field (settable: state, severity, status, text, comment, data)"}
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		_ = d.Decode(&v)
		p.Changes[k] = v
	}
	return p, nil
}

func ptr[T any](v T) *T { return &v }

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// patchEvent changes an event's lifecycle: state, severity, status, text,
// a comment for the history, and data as an RFC 7396 merge patch.
func (f *Function) patchEvent(ctx context.Context, r *Request) (Response, error) {
	if len(r.Body) > eventstore.MaxEventBytes { // before anything reads it
		return Response{}, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Message: "a patch is at most 256 KiB"}
	}
	device, err := deviceID(r)
	if err != nil {
		return Response{}, err
	}
	if err := (params{r}).allowOnly(); err != nil {
		return Response{}, err
	}
	if err := jsonContent(r, "application/merge-patch+json", "application/json"); err != nil {
		return Response{}, err
	}
	p, err := decodePatch(r.Body)
	if err != nil {
		return Response{}, err
	}
	if p.IfVersion, err = ifMatch(r); err != nil {
		return Response{}, err
	}
	p.By = r.caller()
	ev, err := f.deps.Store.Patch(ctx, device, r.PathParams["eventId"], p)
	if err != nil {
		return Response{}, err
	}
	resp := jsonResponse(http.StatusOK, render(ev, false))
	resp.Headers["ETag"] = etag(ev.Version)
	return resp, nil
}

// decodePatch reads a PATCH body into a store patch.
func decodePatch(body []byte) (eventstore.Patch, error) {
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
	for _, k := range sortedKeys(obj) {
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
			t, ok := parseTimeValue(raw)
			if !ok {
				return p, &eventstore.ImmutableError{Field: k}
			}
			p.Immutable[k] = t
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

// parseTimeValue reads a time sent as a string or as Unix seconds.
func parseTimeValue(raw json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return time.Time{}, false
		}
		s = n.String()
	}
	t, err := timestamp.Parse(s)
	return t.Truncate(time.Millisecond), err == nil
}

func ptr[T any](v T) *T { return &v }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Package body decodes every request body of the API, strictly: the
// bodies put-event takes (the native event, the DeLaval device registry's
// body, a Salt job return, the registry's Salt form, and batches of these,
// over HTTP or as a direct invoke) into new events, validated once on the
// clock it is given; and PATCH bodies into the store's patches. Times are
// read one way for both (readTime).
//
// Its errors are *jsonbody.Error (not JSON), *eventstore.FieldError (a
// field is wrong), *eventstore.ImmutableError (a PATCH changes what cannot
// change) and *TooLargeError; the handlers map them onto the contract.
package body

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
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

func object(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, &eventstore.FieldError{Field: field, Message: "must be a JSON object"}
	}
	return obj, nil
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
	t, err := readTime(raw)
	if err != nil {
		return time.Time{}, &eventstore.FieldError{Field: field, Message: err.Error()}
	}
	return t, nil
}

// errNotTime: a time is sent as a string or as a number.
var errNotTime = errors.New("must be an ISO 8601 string or Unix seconds")

// readTime reads a time as the API takes it in a body: an ISO 8601 string,
// or Unix seconds as a string or a number (timestamp.Parse).
func readTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return time.Time{}, errNotTime
		}
		s = n.String()
	}
	return timestamp.Parse(s)
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

// Package samples holds what it takes to play the sample events of events/
// in sequence: get-event.json, patch-event.json and delete-event.json name
// an event no fresh store holds, so they follow put-event.json, taking the
// id of the event it stored (`make invoke-lifecycle`, the sample events'
// test).
package samples

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetlog/device-events/pkg/routes"
)

// Step is a sample event file, the function it is for, and the status of
// the function's answer.
type Step struct {
	Function string
	File     string // in events/
	Status   int
}

// Lifecycle stores an event, then reads, patches and deletes it. Each step
// after the first names the event the first stored (WithEventID).
var Lifecycle = []Step{
	{routes.PutEvent, "put-event.json", 201},
	{routes.ListEvents, "get-event.json", 200},
	{routes.PatchEvent, "patch-event.json", 200},
	{routes.DeleteEvent, "delete-event.json", 204},
}

// proxyEvent is what WithEventID reads of an API Gateway event (payload
// 2.0 or 1.0).
type proxyEvent struct {
	PathParameters map[string]string `json:"pathParameters"`
}

// WithEventID returns the API Gateway event of a sample file with the
// event id it names (its path parameter, and its paths) replaced by id. A
// file that names no event is returned as it is.
func WithEventID(payload []byte, id string) ([]byte, error) {
	var ev proxyEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("samples: not an API Gateway event: %w", err)
	}
	old := ev.PathParameters["eventId"]
	if old == "" {
		return payload, nil
	}
	return bytes.ReplaceAll(payload, []byte(old), []byte(id)), nil
}

// Answer is a function's answer to an API Gateway event.
type Answer struct {
	Status int
	// EventID is the first event the answer's body holds, if any: the
	// one a put stored.
	EventID string
}

// ReadAnswer reads a function's answer to an API Gateway event.
func ReadAnswer(payload []byte) (Answer, error) {
	var res struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(payload, &res); err != nil || res.StatusCode == 0 {
		return Answer{}, errors.New("samples: the answer is not an API Gateway proxy answer")
	}
	var body struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	a := Answer{Status: res.StatusCode}
	if json.Unmarshal([]byte(res.Body), &body) == nil && len(body.Events) > 0 {
		a.EventID = body.Events[0].ID
	}
	return a, nil
}

// Invoke invokes a function with a payload and returns its answer; a
// function error is an error.
type Invoke func(function string, payload []byte) ([]byte, error)

// PlayLifecycle invokes the Lifecycle's files, read from dir, in order,
// each after the first on the event the first stored, and fails at the
// first answer whose status is not the step's.
func PlayLifecycle(dir string, invoke Invoke) error {
	event := ""
	for _, s := range Lifecycle {
		payload, err := os.ReadFile(filepath.Join(dir, s.File))
		if err != nil {
			return err
		}
		if event != "" {
			if payload, err = WithEventID(payload, event); err != nil {
				return err
			}
		}
		out, err := invoke(s.Function, payload)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", s.Function, s.File, err)
		}
		a, err := ReadAnswer(out)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", s.Function, s.File, err)
		}
		if a.Status != s.Status {
			return fmt.Errorf("%s on %s: status %d, want %d: %s", s.Function, s.File, a.Status, s.Status, out)
		}
		if event == "" {
			if event = a.EventID; event == "" {
				return fmt.Errorf("%s on %s: the answer holds no event: %s", s.Function, s.File, out)
			}
		}
	}
	return nil
}

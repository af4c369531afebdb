package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/body"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
)

func TestAsError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		parameter  string
		retryAfter int
		ours       bool
	}{
		{name: "an API error is answered as it is", err: &apierror.Error{Code: apierror.MethodNotAllowed}, status: 405, code: apierror.MethodNotAllowed, ours: true},
		{name: "a body that is not JSON is invalid_json", err: &jsonbody.Error{Msg: "bad"}, status: 400, code: apierror.InvalidJSON, ours: true},
		{name: "a wrong field is invalid_event", err: &eventstore.FieldError{Field: "type", Message: "required"}, status: 400, code: apierror.InvalidEvent, ours: true},
		{name: "an event too large is payload_too_large", err: &body.TooLargeError{Field: "events[0]", Size: 1 << 20}, status: 413, code: apierror.PayloadTooLarge, ours: true},
		{name: "a patch that would grow the event too much is payload_too_large", err: eventstore.ErrTooLarge, status: 413, code: apierror.PayloadTooLarge, ours: true},
		{name: "a change of an immutable field is immutable_field", err: &eventstore.ImmutableError{Field: "time"}, status: 400, code: apierror.ImmutableField, ours: true},
		{name: "a missing event is not_found", err: eventstore.ErrNotFound, status: 404, code: apierror.NotFound, ours: true},
		{name: "a version mismatch is precondition_failed", err: eventstore.ErrVersionMismatch, status: 412, code: apierror.PreconditionFailed, ours: true},
		{name: "an idempotency key reused with another body is conflict", err: eventstore.ErrIdempotencyConflict, status: 409, code: apierror.Conflict, ours: true},
		{name: "writers that kept colliding are conflict", err: fmt.Errorf("patch: %w", eventstore.ErrConflict), status: 409, code: apierror.Conflict, ours: true},
		{name: "throttled storage is 429 throttled with Retry-After", err: fmt.Errorf("get: %w", eventstore.ErrThrottled), status: 429, code: apierror.Throttled, retryAfter: 1, ours: true},
		{name: "unavailable storage is 503 unavailable with Retry-After", err: fmt.Errorf("get: %w", eventstore.ErrUnavailable), status: 503, code: apierror.Unavailable, retryAfter: 2, ours: true},
		{name: "a page-token key that cannot be loaded is 503 unavailable with Retry-After", err: fmt.Errorf("%w: %w", pagetoken.ErrKeyUnavailable, errors.New("connection refused")), status: 503, code: apierror.Unavailable, retryAfter: 2, ours: true},
		{name: "a deadline reached is 503 unavailable with Retry-After", err: fmt.Errorf("query: %w", context.DeadlineExceeded), status: 503, code: apierror.Unavailable, retryAfter: 2, ours: true},
		{name: "a cancelled request is 503 unavailable with Retry-After", err: context.Canceled, status: 503, code: apierror.Unavailable, retryAfter: 2, ours: true},
		{name: "a retry of events deleted since is conflict", err: eventstore.ErrKeyedEventsDeleted, status: 409, code: apierror.Conflict, ours: true},
		{name: "counters being compacted is 503 unavailable with Retry-After", err: eventstore.ErrCompacting, status: 503, code: apierror.Unavailable, retryAfter: 1, ours: true},
		{name: "a put that failed halfway is answered as its cause", err: &eventstore.PartialWriteError{StoredIDs: []string{"a"}, Err: fmt.Errorf("put: %w", eventstore.ErrUnavailable)}, status: 503, code: apierror.Unavailable, retryAfter: 2, ours: true},
		{name: "a range of too many buckets is invalid_parameter on from", err: eventstore.ErrTooManyBuckets, status: 400, code: apierror.InvalidParameter, parameter: "from", ours: true},
		{name: "a zone the counters cannot split days at is invalid_parameter on tz", err: eventstore.ErrUnsupportedZone, status: 400, code: apierror.InvalidParameter, parameter: "tz", ours: true},
		{name: "anything else is 500 internal, and ours to log", err: errors.New("decode event item: boom"), status: 500, code: apierror.Internal, ours: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ours := asError(tt.err)
			if e.Status() != tt.status || e.Code != tt.code || e.Parameter != tt.parameter || e.RetryAfter != tt.retryAfter || ours != tt.ours {
				t.Errorf("asError(%v): got %d %s parameter %q Retry-After %d ours %v, want %d %s parameter %q Retry-After %d ours %v",
					tt.err, e.Status(), e.Code, e.Parameter, e.RetryAfter, ours, tt.status, tt.code, tt.parameter, tt.retryAfter, tt.ours)
			}
			resp := errorResponse(e, "req-1")
			ra, has := resp.Headers["Retry-After"]
			if wantRA := tt.retryAfter > 0; has != wantRA || (wantRA && ra != fmt.Sprint(tt.retryAfter)) {
				t.Errorf("Retry-After header: got %q (present %v), want %d", ra, has, tt.retryAfter)
			}
			if e.Status() == 500 && e.Message != apierror.InternalMessage {
				t.Errorf("500 message: got %q, want the generic one", e.Message)
			}
		})
	}
}

func TestAPutThatFailedHalfwayListsTheStoredIDs(t *testing.T) {
	ids := []string{"01KAPWAC2VKXMQJ7JPJJ1X3M7D", "01KAPWAC2VKXMQJ7JPJJ1X3M7E"}
	e, _ := asError(fmt.Errorf("put: %w", &eventstore.PartialWriteError{StoredIDs: ids, Err: eventstore.ErrThrottled}))
	var body struct {
		Error     string   `json:"error"`
		Message   string   `json:"message"`
		StoredIDs []string `json:"storedIds"`
	}
	if err := json.Unmarshal(errorResponse(e, "req-1").Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Error != apierror.Throttled || !reflect.DeepEqual(body.StoredIDs, ids) || !strings.Contains(body.Message, "2 of the events were stored") {
		t.Fatalf("got %+v, want throttled with storedIds %v and a message saying 2 were stored", body, ids)
	}
	other, _ := asError(eventstore.ErrThrottled)
	if b := errorResponse(other, "req-1").Body; strings.Contains(string(b), "storedIds") {
		t.Fatalf("an answer without stored events carries storedIds: %s", b)
	}
}

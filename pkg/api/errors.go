package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/ingest"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
)

// Error is an answer other than success: a status, the contract's error
// code and a message safe to show the caller.
type Error struct {
	Status    int
	Code      string
	Message   string
	Parameter string // the query or path parameter (or header) at fault
	Field     string // the body field at fault
	// RetryAfter, in seconds, for 429 and 503.
	RetryAfter int
	// Allow lists the methods of the path, for 405.
	Allow []string
	// StoredIDs lists the events a put stored before it failed.
	StoredIDs []string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// The contract's error codes.
const (
	CodeInvalidJSON       = "invalid_json"
	CodeInvalidEvent      = "invalid_event"
	CodeInvalidParameter  = "invalid_parameter"
	CodeFieldNotAllowed   = "query_field_not_allowed"
	CodeInvalidPageToken  = "invalid_page_token"
	CodeImmutableField    = "immutable_field"
	CodeUnauthorized      = "unauthorized"
	CodeForbidden         = "forbidden"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeConflict          = "conflict"
	CodePrecondition      = "precondition_failed"
	CodePayloadTooLarge   = "payload_too_large"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeThrottled         = "throttled"
	CodeUnavailable       = "unavailable"
	CodeInternal          = "internal"
	internalErrorMessage  = "internal error; the request id identifies it in the logs"
	defaultRetryThrottled = 1
	defaultRetryDown      = 2
)

func invalidParam(name, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter, Parameter: name,
		Message: name + ": " + fmt.Sprintf(format, args...)}
}

// asError maps any error a handler returns onto the contract. This is the
// one place where errors become statuses. The second result is false for
// errors that are our fault (500), whose cause goes to the log only.
func asError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var pw *eventstore.PartialWriteError
	if errors.As(err, &pw) {
		// Answered as its cause, listing what was stored already so that
		// the caller knows a retry (with the same key) completes it.
		e, ours := asError(pw.Err)
		withIDs := *e
		withIDs.StoredIDs = pw.StoredIDs
		withIDs.Message = fmt.Sprintf("%s; %d of the events were stored before the failure (storedIds)", e.Message, len(pw.StoredIDs))
		return &withIDs, ours
	}
	var je *jsonbody.Error
	if errors.As(err, &je) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: je.Msg}, true
	}
	var fe *eventstore.FieldError
	if errors.As(err, &fe) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidEvent, Field: fe.Field, Message: fe.Error()}, true
	}
	var tl *ingest.TooLargeError
	if errors.As(err, &tl) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Field: tl.Field, Message: tl.Error()}, true
	}
	var ie *eventstore.ImmutableError
	if errors.As(err, &ie) {
		return &Error{Status: http.StatusBadRequest, Code: CodeImmutableField, Field: ie.Field, Message: ie.Error()}, true
	}
	switch {
	case errors.Is(err, eventstore.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Message: err.Error()}, true
	case errors.Is(err, eventstore.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "event not found"}, true
	case errors.Is(err, eventstore.ErrVersionMismatch):
		return &Error{Status: http.StatusPreconditionFailed, Code: CodePrecondition, Message: "If-Match does not match the event's version"}, true
	case errors.Is(err, eventstore.ErrKeyedEventsDeleted):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the events stored under this idempotency key have since been deleted or have expired; they are not stored again"}, true
	case errors.Is(err, eventstore.ErrCompacting):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the counts are being compacted; retry in a moment", RetryAfter: defaultRetryThrottled}, true
	case errors.Is(err, eventstore.ErrIdempotencyConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "this idempotency key was used with a different body"}, true
	case errors.Is(err, eventstore.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "concurrent changes collided; retry the request"}, true
	case errors.Is(err, eventstore.ErrThrottled):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeThrottled, Message: "storage is throttling requests; retry later", RetryAfter: defaultRetryThrottled}, true
	// A deadline or a cancellation is the storage not answering in time
	// (or the caller gone); either way a retry may succeed.
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, pagetoken.ErrKeyUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "storage is unavailable; retry later", RetryAfter: defaultRetryDown}, true
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: internalErrorMessage}, false
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error     string   `json:"error"`
	Message   string   `json:"message"`
	Parameter string   `json:"parameter,omitempty"`
	Field     string   `json:"field,omitempty"`
	StoredIDs []string `json:"storedIds,omitempty"`
	RequestID string   `json:"requestId"`
}

func errorResponse(e *Error, requestID string) Response {
	r := jsonResponse(e.Status, errorBody{Error: e.Code, Message: e.Message, Parameter: e.Parameter, Field: e.Field, StoredIDs: e.StoredIDs, RequestID: requestID})
	if e.RetryAfter > 0 {
		r.Headers["Retry-After"] = strconv.Itoa(e.RetryAfter)
	}
	if len(e.Allow) > 0 {
		allow := ""
		for i, m := range e.Allow {
			if i > 0 {
				allow += ", "
			}
			allow += m
		}
		r.Headers["Allow"] = allow
	}
	return r
}

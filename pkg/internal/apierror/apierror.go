// Package apierror is the API's error vocabulary: the contract's error
// codes, declared once; the HTTP status of each, in one table; the Error the
// handlers answer with; and the JSON body every error answer has. The Go
// client names the same codes (pkg/eventsclient re-exports them), and a
// direct invoke's function error carries them as its errorType.
//
// Which error of the store or of a body becomes which code is the
// handlers' decision (pkg/internal/handlers, errors.go); this package
// imports nothing of the service, so that the client links none of it.
package apierror

import (
	"fmt"
	"net/http"
)

// The contract's error codes.
const (
	InvalidJSON          = "invalid_json"
	InvalidEvent         = "invalid_event"
	InvalidParameter     = "invalid_parameter"
	QueryFieldNotAllowed = "query_field_not_allowed"
	InvalidPageToken     = "invalid_page_token"
	ImmutableField       = "immutable_field"
	Unauthorized         = "unauthorized"
	Forbidden            = "forbidden"
	NotFound             = "not_found"
	MethodNotAllowed     = "method_not_allowed"
	Conflict             = "conflict"
	PreconditionFailed   = "precondition_failed"
	PayloadTooLarge      = "payload_too_large"
	UnsupportedMediaType = "unsupported_media_type"
	Throttled            = "throttled"
	Unavailable          = "unavailable"
	Internal             = "internal"
	// UnsupportedPayload is the errorType of a direct invoke of a function
	// that answers API Gateway events only; no HTTP answer carries it.
	UnsupportedPayload = "unsupported_payload"
)

// statuses is the HTTP status of each code: the one place where a code
// becomes a status.
var statuses = map[string]int{
	InvalidJSON:          http.StatusBadRequest,
	InvalidEvent:         http.StatusBadRequest,
	InvalidParameter:     http.StatusBadRequest,
	QueryFieldNotAllowed: http.StatusBadRequest,
	InvalidPageToken:     http.StatusBadRequest,
	ImmutableField:       http.StatusBadRequest,
	UnsupportedPayload:   http.StatusBadRequest,
	Unauthorized:         http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	Conflict:             http.StatusConflict,
	PreconditionFailed:   http.StatusPreconditionFailed,
	PayloadTooLarge:      http.StatusRequestEntityTooLarge,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	Throttled:            http.StatusTooManyRequests,
	Unavailable:          http.StatusServiceUnavailable,
	Internal:             http.StatusInternalServerError,
}

// Codes lists every code, in no particular order.
func Codes() []string {
	out := make([]string, 0, len(statuses))
	for c := range statuses {
		out = append(out, c)
	}
	return out
}

// Status is the HTTP status of code: 500 for a code the table lacks.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// InternalMessage is the message of every 500: its cause is for the log,
// never for the caller.
const InternalMessage = "internal error; the request id identifies it in the logs"

// Error is an answer other than success: the contract's error code and a
// message safe to show the caller.
type Error struct {
	Code    string
	Message string
	// Parameter is the query or path parameter (or header) at fault.
	Parameter string
	// Field is the body field at fault.
	Field string
	// RetryAfter, in seconds, for 429 and 503.
	RetryAfter int
	// Allow lists the methods of the path, for 405.
	Allow []string
	// StoredIDs lists the events a put stored before it failed.
	StoredIDs []string
}

// Status is the error's HTTP status.
func (e *Error) Status() int { return Status(e.Code) }

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status(), e.Code, e.Message) }

// Body is the JSON of every error answer.
type Body struct {
	Error     string   `json:"error"`
	Message   string   `json:"message"`
	Parameter string   `json:"parameter,omitempty"`
	Field     string   `json:"field,omitempty"`
	StoredIDs []string `json:"storedIds,omitempty"`
	RequestID string   `json:"requestId"`
}

// Body is the error's answer body for the request requestID.
func (e *Error) Body(requestID string) Body {
	return Body{Error: e.Code, Message: e.Message, Parameter: e.Parameter, Field: e.Field, StoredIDs: e.StoredIDs, RequestID: requestID}
}

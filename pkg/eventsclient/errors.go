package eventsclient

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

// The API's error codes (APIError.Code), as the service declares them.
const (
	CodeInvalidJSON          = apierror.InvalidJSON
	CodeInvalidEvent         = apierror.InvalidEvent
	CodeInvalidParameter     = apierror.InvalidParameter
	CodeQueryFieldNotAllowed = apierror.QueryFieldNotAllowed
	CodeInvalidPageToken     = apierror.InvalidPageToken
	CodeImmutableField       = apierror.ImmutableField
	CodeUnauthorized         = apierror.Unauthorized
	CodeForbidden            = apierror.Forbidden
	CodeNotFound             = apierror.NotFound
	CodeMethodNotAllowed     = apierror.MethodNotAllowed
	CodeConflict             = apierror.Conflict
	CodePreconditionFailed   = apierror.PreconditionFailed
	CodePayloadTooLarge      = apierror.PayloadTooLarge
	CodeUnsupportedMediaType = apierror.UnsupportedMediaType
	CodeThrottled            = apierror.Throttled
	CodeUnavailable          = apierror.Unavailable
	CodeInternal             = apierror.Internal
	// CodeUnsupportedPayload is a direct invoke's errorType when the
	// function invoked takes API Gateway events only.
	CodeUnsupportedPayload = apierror.UnsupportedPayload
)

// APIError is an error answer of the API, or a function error of a direct
// invoke. Use errors.As to get it.
type APIError struct {
	// Status is the HTTP status; 0 for a direct invoke's function error.
	Status int
	// Code is the API's error code (the Code constants); for a direct
	// invoke, the function error's errorType.
	Code    string
	Message string
	// Parameter is the query or path parameter (or header) at fault.
	Parameter string
	// Field is the body field at fault, such as "events[3].time".
	Field     string
	RequestID string
	// RetryAfter is how long the server asked to wait (429 and 503).
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("eventsclient: ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status) + " ")
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// codeOfStatus names the error of an answer that is not the API's own JSON,
// such as API Gateway's {"message":"Too Many Requests"}.
var codeOfStatus = map[int]string{
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             CodeForbidden,
	http.StatusNotFound:              CodeNotFound,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusRequestEntityTooLarge: CodePayloadTooLarge,
	http.StatusTooManyRequests:       CodeThrottled,
	http.StatusInternalServerError:   CodeInternal,
	http.StatusBadGateway:            CodeInternal,
	http.StatusServiceUnavailable:    CodeUnavailable,
	http.StatusGatewayTimeout:        CodeUnavailable,
}

// apiError reads an error answer.
func apiError(status int, header http.Header, body []byte) *APIError {
	var b apierror.Body
	e := &APIError{Status: status, RetryAfter: retryAfter(header.Get("Retry-After"))}
	if json.Unmarshal(body, &b) == nil {
		e.Code, e.Message, e.Parameter, e.Field, e.RequestID = b.Error, b.Message, b.Parameter, b.Field, b.RequestID
	} else {
		e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	if e.Code == "" {
		e.Code = codeOfStatus[status]
	}
	if e.RequestID == "" {
		e.RequestID = header.Get("Apigw-Requestid")
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// retryAfter reads Retry-After: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// functionError reads a direct invoke's function error: the payload is
// {"errorType", "errorMessage"} when the function returned an error, and
// anything (or nothing) when the runtime failed.
func functionError(kind string, payload []byte, requestID string) *APIError {
	var b struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	e := &APIError{Code: kind, RequestID: requestID}
	if json.Unmarshal(payload, &b) == nil && b.Type != "" {
		e.Code, e.Message = b.Type, b.Message
	} else {
		e.Message = strings.TrimSpace(string(payload[:min(len(payload), 200)]))
	}
	return e
}

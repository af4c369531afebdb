package losant

import (
	"strings"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

// Error is an error as Losant's clients read it: losant-rest makes its
// message the Error's message and copies type onto it.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// types are the Losant error types of the native codes: Validation and
// NotFound as Losant's document names them, the others after their HTTP
// status, as Losant names its own (Unauthorized, Forbidden, ...).
var types = map[string]string{
	apierror.InvalidJSON:          "Validation",
	apierror.InvalidEvent:         "Validation",
	apierror.InvalidParameter:     "Validation",
	apierror.QueryFieldNotAllowed: "Validation",
	apierror.InvalidPageToken:     "Validation",
	apierror.ImmutableField:       "Validation",
	apierror.Unauthorized:         "Unauthorized",
	apierror.Forbidden:            "Forbidden",
	apierror.NotFound:             "NotFound",
	apierror.MethodNotAllowed:     "MethodNotAllowed",
	apierror.Conflict:             "Conflict",
	apierror.PreconditionFailed:   "PreconditionFailed",
	apierror.PayloadTooLarge:      "PayloadTooLarge",
	apierror.UnsupportedMediaType: "UnsupportedMediaType",
	apierror.Throttled:            "RateLimited",
	apierror.Unavailable:          "ServiceUnavailable",
	apierror.Internal:             "InternalError",
}

// names are the Losant names of the native fields and parameters an
// error may name.
var names = map[string]string{
	"severity": "level", "text": "message", "type": "subject", "time": "creationDate",
	"creationTime": "creationDate", "from": "query", "to": "query",
}

// ErrorBody is e in Losant's shape; the status stays e's. A message that
// names a native field names Losant's instead.
func ErrorBody(e *apierror.Error) Error {
	t, ok := types[e.Code]
	if !ok {
		t = "InternalError"
	}
	msg := e.Message
	for _, native := range []string{e.Field, e.Parameter} {
		if name, ok := names[native]; ok {
			if rest, ok := strings.CutPrefix(msg, native+":"); ok {
				msg = name + ":" + rest
			}
		}
	}
	return Error{Type: t, Message: msg}
}

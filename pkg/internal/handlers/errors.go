package handlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/body"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Retry-After of a throttled request, and of one the storage could not
// serve, in seconds.
const (
	retryThrottled = 1
	retryDown      = 2
)

// sentinels are the errors of the store (and of the page-token keys and the
// request's context) that become the contract's errors, with the answer of
// each, tested in this order with errors.Is. An empty message is the
// error's own text.
var sentinels = []struct {
	err error
	apierror.Error
}{
	{eventstore.ErrTooLarge, apierror.Error{Code: apierror.PayloadTooLarge}},
	{eventstore.ErrNotFound, apierror.Error{Code: apierror.NotFound, Message: "event not found"}},
	{eventstore.ErrVersionMismatch, apierror.Error{Code: apierror.PreconditionFailed, Message: "If-Match does not match the event's version"}},
	{eventstore.ErrKeyedEventsDeleted, apierror.Error{Code: apierror.Conflict, Message: "the events stored under this idempotency key have since been deleted or have expired; they are not stored again"}},
	{eventstore.ErrCompacting, apierror.Error{Code: apierror.Unavailable, Message: "the counts are being compacted; retry in a moment", RetryAfter: retryThrottled}},
	{eventstore.ErrIdempotencyConflict, apierror.Error{Code: apierror.Conflict, Message: "this idempotency key was used with a different body"}},
	{eventstore.ErrConflict, apierror.Error{Code: apierror.Conflict, Message: "concurrent changes collided; retry the request"}},
	{eventstore.ErrThrottled, apierror.Error{Code: apierror.Throttled, Message: "storage is throttling requests; retry later", RetryAfter: retryThrottled}},
	{eventstore.ErrTooManyBuckets, apierror.Error{Code: apierror.InvalidParameter, Parameter: "from",
		Message: fmt.Sprintf("from: the range holds more than %d buckets", eventstore.MaxBuckets)}},
	{eventstore.ErrUnsupportedZone, apierror.Error{Code: apierror.InvalidParameter, Parameter: "tz"}},
	// A deadline or a cancellation is the storage not answering in time
	// (or the caller gone); either way a retry may succeed.
	{eventstore.ErrUnavailable, unavailable},
	{pagetoken.ErrKeyUnavailable, unavailable},
	{context.DeadlineExceeded, unavailable},
	{context.Canceled, unavailable},
}

var unavailable = apierror.Error{Code: apierror.Unavailable, Message: "storage is unavailable; retry later", RetryAfter: retryDown}

// asError maps any error a handler returns onto the contract: this is the
// one place where errors become the contract's codes. The second result is
// false for errors that are our fault (500), whose cause goes to the log
// only.
func asError(err error) (*apierror.Error, bool) {
	var e *apierror.Error
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
		return &apierror.Error{Code: apierror.InvalidJSON, Message: je.Msg}, true
	}
	var fe *eventstore.FieldError
	if errors.As(err, &fe) {
		return &apierror.Error{Code: apierror.InvalidEvent, Field: fe.Field, Message: fe.Error()}, true
	}
	var tl *body.TooLargeError
	if errors.As(err, &tl) {
		return &apierror.Error{Code: apierror.PayloadTooLarge, Field: tl.Field, Message: tl.Error()}, true
	}
	var ie *eventstore.ImmutableError
	if errors.As(err, &ie) {
		return &apierror.Error{Code: apierror.ImmutableField, Field: ie.Field, Message: ie.Error()}, true
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			e := s.Error
			if e.Message == "" {
				e.Message = err.Error()
				if e.Parameter != "" {
					e.Message = e.Parameter + ": " + e.Message
				}
			}
			return &e, true
		}
	}
	return &apierror.Error{Code: apierror.Internal, Message: apierror.InternalMessage}, false
}

// errorResponse is the answer of an error.
func errorResponse(e *apierror.Error, requestID string) apigw.Response {
	r := jsonResponse(e.Status(), e.Body(requestID))
	if e.RetryAfter > 0 {
		r.Headers["Retry-After"] = strconv.Itoa(e.RetryAfter)
	}
	if len(e.Allow) > 0 {
		r.Headers["Allow"] = strings.Join(e.Allow, ", ")
	}
	return r
}

// dialectErrors render an error in the shape a dialect's clients expect
// (each in the dialect's file); nil, or another route, the native shape
// (errorResponse).
var dialectErrors = map[routes.Dialect]func(e *apierror.Error, requestID string) apigw.Response{
	routes.Lhings:     lhingsError,
	routes.Cumulocity: cumulocityError,
	routes.Losant:     losantError,
	routes.Droplit:    droplitError,
}

// errorAnswer is the answer of e to request r, in the shape of its
// route's dialect.
func (f *Function) errorAnswer(r *apigw.Request, e *apierror.Error) apigw.Response {
	if render := dialectErrors[r.Route.Dialect]; render != nil {
		return render(e, r.RequestID)
	}
	return errorResponse(e, r.RequestID)
}

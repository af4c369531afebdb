// Package api is the HTTP side of the device events service: it reads API
// Gateway events (HTTP API payload 2.0 and REST payload 1.0) and direct
// Lambda invokes, checks the caller's claims, validates parameters, calls
// the event store and writes the contract's answers and errors. All five
// functions and the local gateway use it.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Deps are what the handlers need from outside.
type Deps struct {
	Store *eventstore.Store
	// PageTokens returns the signer for page tokens; it may load its key on
	// first use, so that functions that never page pay nothing at start.
	PageTokens func(ctx context.Context) (*pagetoken.Signer, error)
	// ReloadPageTokens, when set, reads the keys again for a token signed
	// with a key PageTokens' signer lacks (another instance rotated first).
	ReloadPageTokens func(ctx context.Context) (*pagetoken.Signer, error)
	Logger           *slog.Logger
	// APIs maps the ids of the API Gateway APIs allowed to send requests
	// to which API each is: an event whose requestContext.apiId is another,
	// or that names a route of another API, did not come through the
	// stack's APIs (someone invoked the function with a forged event, and
	// its claims mean nothing) and is refused. Empty accepts any, as in
	// tests that build events by hand.
	APIs map[string]routes.API
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// Function is one Lambda function: the routes it serves and, for
// put-event, direct invokes.
type Function struct {
	name     string
	deps     Deps
	handlers map[string]handlerFunc
}

type handlerFunc func(ctx context.Context, r *Request) (Response, error)

// NewAll builds every function of routes.Functions over one Deps, as the
// local gateway runs them in one process.
func NewAll(deps Deps) ([]*Function, error) {
	out := make([]*Function, 0, len(routes.Functions))
	for _, name := range routes.Functions {
		f, err := New(name, deps)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// New builds the handler of the named function (one of routes.Functions).
func New(name string, deps Deps) (*Function, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	deps.Logger = slog.New(requestIDHandler{deps.Logger.Handler()})
	if deps.Now == nil {
		deps.Now = time.Now
	}
	f := &Function{name: name, deps: deps, handlers: map[string]handlerFunc{}}
	all := f.routeHandlers()
	for _, r := range routes.ForFunction(name) {
		h, ok := all[r.Key()]
		if !ok {
			return nil, fmt.Errorf("api: no handler for route %s", r.Key())
		}
		f.handlers[r.Key()] = h
	}
	if len(f.handlers) == 0 {
		return nil, fmt.Errorf("api: unknown function %q", name)
	}
	return f, nil
}

// routeHandlers maps every route key of routes.All to its handler.
func (f *Function) routeHandlers() map[string]handlerFunc {
	return map[string]handlerFunc{
		"POST /devices/{deviceId}/events":          f.putEvents,
		"GET /devices/{deviceId}/events":           f.listDeviceEvents,
		"GET /devices/{deviceId}/events/{eventId}": f.getEvent,
		"GET /events":                                 f.listFleetEvents,
		"GET /devices/{deviceId}/aggregates":          f.aggregateDevice,
		"GET /aggregates":                             f.aggregateFleet,
		"PATCH /devices/{deviceId}/events/{eventId}":  f.patchEvent,
		"DELETE /devices/{deviceId}/events/{eventId}": f.deleteEvent,
		"DELETE /devices/{deviceId}/events":           f.deleteEvents,
		"POST /devices/{deviceid}/events":             f.registryPut,
		"POST /devices":                               f.registryPut,
		"GET /devices/{deviceid}/events":              f.registryList,
	}
}

// Name is the function's name.
func (f *Function) Name() string { return f.name }

// Invoke is the Lambda handler: it takes any payload the function may be
// sent and answers in the same kind.
func (f *Function) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	// End before Lambda does: a request still waiting on DynamoDB when the
	// function times out gets API Gateway's bare 500, not our 503.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	ctx = telemetry.StartTrace(ctx)
	if e, ok := decodeHTTPAPI(payload); ok {
		r, rerr := fromHTTPAPI(e)
		return f.serve(ctx, r, rerr).httpAPI(), nil
	}
	switch kindOf(payload) {
	case kindHTTPAPI:
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, invokeError(CodeInvalidJSON, "not an API Gateway HTTP API event")
		}
		r, rerr := fromHTTPAPI(&e)
		return f.serve(ctx, r, rerr).httpAPI(), nil
	case kindREST:
		var e events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, invokeError(CodeInvalidJSON, "not an API Gateway REST API event")
		}
		r, rerr := fromREST(&e)
		return f.serve(ctx, r, rerr).rest(), nil
	}
	if f.name != routes.PutEvent {
		return nil, invokeError("unsupported_payload", f.name+" answers API Gateway events only")
	}
	return f.putDirect(ctx, payload)
}

// invokeError is a Lambda function error: errorType names the problem, as
// a direct caller sees it.
func invokeError(code, message string) error {
	return messages.InvokeResponse_Error{Type: code, Message: message}
}

// serve runs one API request through routing, authorization and its
// handler, and writes one log line for it, which also carries the
// request's metrics (see metrics.go).
func (f *Function) serve(ctx context.Context, r *Request, rerr *Error) Response {
	start := time.Now()
	ctx, m := withMetrics(ctx)
	resp, code, cause := f.dispatch(ctx, r, rerr)
	took := time.Since(start)
	level := slog.LevelInfo
	var buf [20]slog.Attr // on the stack: a put's log line allocates little
	attrs := append(buf[:0],
		slog.String("route", r.Route.Key()), slog.String("method", r.Method),
		slog.Int("status", resp.Status), slog.Int64("durationMs", took.Milliseconds()),
		slog.String("apiRequestId", r.RequestID),
	)
	if d := r.PathParams["deviceId"]; d != "" {
		attrs = append(attrs, slog.String("deviceId", d))
	}
	if cause != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", cause.Error()))
	}
	attrs = appendEMF(attrs, m, f.name, resp.Status, code, took)
	f.deps.Logger.LogAttrs(ctx, level, "request", attrs...)
	return resp
}

// dispatch returns the answer, its error code ("" on success) and, for a
// 5xx, the cause to log.
func (f *Function) dispatch(ctx context.Context, r *Request, rerr *Error) (Response, string, error) {
	if len(f.deps.APIs) > 0 {
		api, ok := f.deps.APIs[r.APIID]
		if !ok || (rerr == nil && api != r.Route.API) {
			e := &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "the request did not come through the service's API"}
			return errorResponse(e, r.RequestID), e.Code, nil
		}
	}
	if rerr != nil {
		return errorResponse(rerr, r.RequestID), rerr.Code, nil
	}
	h, ok := f.handlers[r.Route.Key()]
	if !ok {
		return errorResponse(&Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such resource"}, r.RequestID), CodeNotFound, nil
	}
	if err := authorize(r); err != nil {
		return errorResponse(err, r.RequestID), err.Code, nil
	}
	resp, err := h(ctx, r)
	if err == nil {
		return resp, "", nil
	}
	e, ours := asError(err)
	if !ours || e.Status >= 500 {
		return errorResponse(e, r.RequestID), e.Code, err
	}
	return errorResponse(e, r.RequestID), e.Code, nil
}

var errNoPageTokens = errors.New("no page token key configured")

// deadlineMargin is how long before the function's deadline a request
// stops waiting on DynamoDB, to answer 503 while it still can.
const deadlineMargin = 500 * time.Millisecond

// requestIDHandler gives every line the function logs the Lambda request id
// of its invocation, as "requestId", whatever handler the deployment chose:
// lambdacontext's handler adds it, but a plain JSON handler (make run, the
// local gateway, tests) does not, and a line without it cannot be matched
// with the invocation's other lines. The handler inside sees the context
// without its LambdaContext, so that the id is written once, not twice.
type requestIDHandler struct{ inner slog.Handler }

func (h requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc != nil {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
		ctx = withoutLambdaContext{ctx}
	}
	return h.inner.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.inner.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.inner.WithGroup(name)}
}

// withoutLambdaContext hides the LambdaContext of a context, and nothing
// else.
type withoutLambdaContext struct{ context.Context }

func (c withoutLambdaContext) Value(key any) any {
	v := c.Context.Value(key)
	if _, ok := v.(*lambdacontext.LambdaContext); ok {
		return nil
	}
	return v
}

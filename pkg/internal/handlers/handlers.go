// Package handlers is the contract of the device events API: one handler
// per operation of the route table (routes.Op), each found through the
// route table itself; the caller's authorization (the scopes and devices
// of a token or an API key, the registry's caller); query parameters; the
// answers' JSON;
// page tokens; and which errors of the store and of a body become which of
// the contract's errors (errors.go). Each request writes one log line,
// which carries its metrics.
//
// It reads requests that pkg/internal/apigw decoded, and bodies through
// pkg/internal/body; pkg/function builds it for each Lambda function.
package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/apikeys"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Deps are what the handlers need from outside.
type Deps struct {
	// Store is the event store; its clock is the handlers' clock.
	Store *eventstore.Store
	// PageTokens returns the signer for page tokens; it may load its key on
	// first use, so that functions that never page pay nothing at start.
	PageTokens func(ctx context.Context) (*pagetoken.Signer, error)
	// ReloadPageTokens, when set, reads the keys again for a token signed
	// with a key PageTokens' signer lacks (another instance rotated first).
	ReloadPageTokens func(ctx context.Context) (*pagetoken.Signer, error)
	Logger           *slog.Logger
	// Zones loads the IANA time zone of a name, for the aggregates' tz
	// (zoneinfo.Load); required by a function that serves them, so that
	// no zone is read from wherever the system keeps them.
	Zones func(name string) (*time.Location, error)
	// APIs maps the ids of the API Gateway APIs allowed to send requests
	// to which API each is: an event whose requestContext.apiId is another,
	// or that names a route of another API, did not come through the
	// stack's APIs (someone invoked the function with a forged event, and
	// its claims mean nothing) and is refused. Empty accepts any, as in
	// tests that build events by hand.
	APIs map[string]routes.API
	// KeyPepper returns the pepper the API keys' secrets are hashed under
	// (api-keys only).
	KeyPepper apikeys.Pepper
}

// Function is the handlers of one Lambda function: the operations of the
// routes it serves and, for put-event, direct invokes. It is the
// apigw.Handler of the function.
type Function struct {
	name     string
	deps     Deps
	handlers map[routes.Op]handler
}

type handler func(f *Function, ctx context.Context, r *apigw.Request) (apigw.Response, error)

// New builds the handlers of the named function (one of routes.Functions)
// from the routes the route table gives it, with every function's
// operations: for tests. A function's main builds it with NewWith and its
// own operations (ops.go), so that its binary links only its handlers.
func New(name string, deps Deps) (*Function, error) {
	return NewWith(name, allOperations(), deps)
}

// NewWith builds the handlers of the named function from the routes the
// route table gives it and ops; a route whose operation ops lacks fails
// the build.
func NewWith(name string, ops Operations, deps Deps) (*Function, error) {
	return build(name, routes.ForFunction(name), ops, deps)
}

// build makes the function that serves rs.
func build(name string, rs []routes.Route, ops Operations, deps Deps) (*Function, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	deps.Logger = telemetry.WithRequestID(deps.Logger)
	f := &Function{name: name, deps: deps, handlers: map[routes.Op]handler{}}
	for _, r := range rs {
		h, ok := ops[r.Op]
		if !ok {
			return nil, fmt.Errorf("handlers: no handler for operation %q (%s)", r.Op, r.Key())
		}
		f.handlers[r.Op] = h
	}
	if len(f.handlers) == 0 {
		return nil, fmt.Errorf("handlers: unknown function %q", name)
	}
	_, device := f.handlers[routes.OpAggregateDeviceEvents]
	_, fleet := f.handlers[routes.OpAggregateEvents]
	if (device || fleet) && deps.Zones == nil {
		return nil, fmt.Errorf("handlers: %s serves aggregates, but has no Zones to read their tz", name)
	}
	return f, nil
}

// Serve runs one API request through routing, authorization and its
// handler, and writes one log line for it, which also carries the
// request's metrics.
func (f *Function) Serve(ctx context.Context, r *apigw.Request, rerr *apierror.Error) apigw.Response {
	start := time.Now()
	ctx, m := withMeter(ctx)
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
	attrs = f.metrics(m, resp.Status, code, took).AppendEMF(attrs)
	f.deps.Logger.LogAttrs(ctx, level, "request", attrs...)
	return resp
}

// dispatch returns the answer, its error code ("" on success) and, for a
// 5xx, the cause to log.
func (f *Function) dispatch(ctx context.Context, r *apigw.Request, rerr *apierror.Error) (apigw.Response, string, error) {
	if len(f.deps.APIs) > 0 {
		api, ok := f.deps.APIs[r.APIID]
		if !ok || (rerr == nil && api != r.Route.API) {
			e := &apierror.Error{Code: apierror.Forbidden, Message: "the request did not come through the service's API"}
			return f.errorAnswer(r, e), e.Code, nil
		}
	}
	if rerr != nil {
		return f.errorAnswer(r, rerr), rerr.Code, nil
	}
	h, ok := f.handlers[r.Route.Op]
	if !ok {
		return f.errorAnswer(r, &apierror.Error{Code: apierror.NotFound, Message: "no such resource"}), apierror.NotFound, nil
	}
	if err := authorize(r); err != nil {
		return f.errorAnswer(r, err), err.Code, nil
	}
	resp, err := h(f, ctx, r)
	if err == nil {
		return resp, "", nil
	}
	e, ours := asError(err)
	if !ours || e.Status() >= 500 {
		return f.errorAnswer(r, e), e.Code, err
	}
	return f.errorAnswer(r, e), e.Code, nil
}

// Direct answers a direct invoke: put-event takes the raw body of a put,
// naming its device(s) itself; the other functions take API Gateway
// events only.
func (f *Function) Direct(ctx context.Context, payload []byte) (json.RawMessage, *apierror.Error) {
	if f.name != routes.PutEvent {
		return nil, &apierror.Error{Code: apierror.UnsupportedPayload, Message: f.name + " answers API Gateway events only"}
	}
	return f.putDirect(ctx, payload)
}

// withMeter starts the metering of one request: the store meters what it
// does into the context.
func withMeter(ctx context.Context) (context.Context, *eventstore.Meter) {
	m := &eventstore.Meter{}
	return eventstore.WithMeter(ctx, m), m
}

// metrics are the metrics of a request that answered status with code
// ("" on success).
func (f *Function) metrics(m *eventstore.Meter, status int, code string, took time.Duration) telemetry.Request {
	read, write := m.Units()
	written, duplicates := m.Events()
	return telemetry.Request{Function: f.name, Status: status, Code: code, Took: took,
		ReadUnits: read, WriteUnits: write, EventsWritten: written, Duplicates: duplicates}
}

// now is the handlers' clock: the store's.
func (f *Function) now() time.Time { return f.deps.Store.Now() }

var errNoPageTokens = errors.New("no page token key configured")

package apikeys

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
	"github.com/fleetlog/device-events/pkg/routes"
)

// ErrDenied is the authorizer's answer to a request without a key that
// opens the API. API Gateway reads a Lambda authorizer's error whose
// message is exactly "Unauthorized" as its own 401; any other error is its
// 500.
var ErrDenied = errors.New("Unauthorized")

// errFailed is the authorizer's answer when it cannot decide (the store or
// the pepper failed): API Gateway's 500. Its cause goes to the log only.
var errFailed = errors.New("the authorizer could not check the key; the log has the cause")

// Authorizer is the key API's Lambda authorizer (HTTP API, payload 2.0,
// simple responses, no identity source and no result cache at API
// Gateway, so it is called for every request). It allows a request whose
// key opens the API and has the route's scope, as the JWT authorizer
// allows a token, and hands the key's claims on in its context, written as
// a JWT authorizer writes claims: "sub" (apikey:<id>), "scope" (space
// delimited), "devices" ("[d1 d2]", absent for a key of every device) and
// "keyId". The functions then apply the scope and devices rules to them as
// to a token's.
//
// Answers: no key, a malformed, unknown, revoked or expired one, or a
// wrong secret is ErrDenied (API Gateway's 401); a good key without the
// route's scope is isAuthorized false (its 403); a failure to check is an
// error (its 500).
type Authorizer struct {
	keys *Verifier
	// apis are the API Gateway APIs by id (API_IDS); empty accepts any.
	apis   map[string]routes.API
	logger *slog.Logger
}

// NewAuthorizer returns the authorizer of keys, for the APIs of apis (see
// handlers.Deps.APIs), logging one line per request to logger.
func NewAuthorizer(keys *Verifier, apis map[string]routes.API, logger *slog.Logger) *Authorizer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Authorizer{keys: keys, apis: apis, logger: telemetry.WithRequestID(logger)}
}

// outcome is how a request was answered, for its log line and metrics.
type outcome struct {
	status int
	code   string // the contract's name for it; "" when allowed
	keyID  string // the id of a stored key the request named
	cause  error
}

// Authorize answers API Gateway's authorizer request.
func (a *Authorizer) Authorize(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	start := time.Now()
	ctx = telemetry.StartTrace(ctx)
	m := &eventstore.Meter{}
	ctx = eventstore.WithMeter(ctx, m)
	resp, o := a.authorize(ctx, req)
	attrs := []slog.Attr{
		slog.String("route", req.RouteKey), slog.Int("status", o.status),
		slog.Int64("durationMs", time.Since(start).Milliseconds()),
		slog.String("apiRequestId", req.RequestContext.RequestID),
	}
	if o.keyID != "" {
		attrs = append(attrs, slog.String("keyId", o.keyID))
	}
	level := slog.LevelInfo
	if o.cause != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", o.cause.Error()))
	}
	read, write := m.Units()
	attrs = telemetry.Request{Function: routes.AuthorizeKey, Status: o.status, Code: o.code, Took: time.Since(start),
		ReadUnits: read, WriteUnits: write}.AppendEMF(attrs)
	a.logger.LogAttrs(ctx, level, "authorize", attrs...)
	switch o.status {
	case http.StatusUnauthorized:
		return resp, ErrDenied
	case http.StatusInternalServerError:
		return resp, errFailed
	}
	return resp, nil
}

func (a *Authorizer) authorize(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, outcome) {
	denied := outcome{status: http.StatusUnauthorized, code: apierror.Unauthorized}
	// The key API's own requests only: another API's (or a hand-made
	// event) names no route of it.
	if len(a.apis) > 0 && a.apis[req.RequestContext.APIID] != routes.Keys {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, denied
	}
	route, ok := routes.ByKey(routes.Keys, req.RouteKey)
	if !ok {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, denied
	}
	k, ok := FromHeaders(req.Headers)
	if !ok {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, denied
	}
	key, err := a.keys.Verify(ctx, k)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, denied
	case err != nil:
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, outcome{status: http.StatusInternalServerError, code: apierror.Internal, cause: err}
	}
	o := outcome{status: http.StatusOK, keyID: key.ID}
	// A failure to record the use is logged, and the request served: the
	// key is good.
	if err := a.keys.RecordUse(ctx, key); err != nil {
		o.cause = err
	}
	if !slices.Contains(key.Scopes, route.Scope) {
		o.status, o.code = http.StatusForbidden, apierror.Forbidden
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, o
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: Claims(key)}, o
}

// Claims are the authorizer context of an allowed key, which the functions
// read as they read a JWT authorizer's claims (pkg/internal/apigw).
func Claims(key eventstore.APIKey) map[string]any {
	c := map[string]any{
		"sub":   "apikey:" + key.ID,
		"scope": strings.Join(key.Scopes, " "),
		"keyId": key.ID,
	}
	if key.Devices != nil {
		c["devices"] = "[" + strings.Join(key.Devices, " ") + "]"
	}
	return c
}

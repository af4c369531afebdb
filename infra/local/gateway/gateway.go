// Package gateway is the local stand-in for the stack's APIs in API
// Gateway: an HTTP server that matches requests against the routes of one
// API of the route table, turns each request into the event API Gateway
// sends, invokes the route's function through the local Lambda service,
// and writes the function's answer back.
//
// The events API is an HTTP API (payload 2.0): the gateway checks bearer
// JWTs signed with a local secret and the route's scope, as the stack's JWT
// authorizer does. The key API is an HTTP API behind a Lambda authorizer
// (routes.Authorizers): the gateway invokes the authorizer's function
// before every request, as API Gateway does, and passes what it allows
// on with its context. The registry API is a REST API (payload 1.0)
// without tokens: in AWS it is private or IAM-authorized, and locally it
// is served on its own port, as the internal registry was.
//
// Where API Gateway answers by itself, the gateway answers as it does, with
// its {"message": …} bodies rather than the functions' error format. HTTP
// API: no or an invalid token, or a key its authorizer refuses (401), a
// token or a key without the route's scope (403), a path or method no
// route has (404), a body over 10 MB (413), throttling (429), and a failed
// invoke of the function or of the authorizer (500: it crashed, timed
// out, ran out of memory, or Lambda refused the payload). REST API: a path
// or method no route has (403 "Missing Authentication Token"), a body over
// 10 MB (413), throttling (429), a function error (502) and a refused
// invoke (500).
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// MaxBody is the largest request body API Gateway's HTTP API takes.
const MaxBody = 10 << 20

// Invoker runs a function synchronously, as API Gateway's Lambda
// integration does: the function's answer, or failed (a function error,
// or Lambda refusing the invoke), with what to log.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) (answer []byte, failed error)
}

// Options are the gateway's settings beyond its functions and tokens.
type Options struct {
	// API is the API of the route table served: routes.Events (the
	// default), routes.Keys or routes.Registry.
	API routes.API
	// APIID is requestContext.apiId in the events, as the stack's API id
	// is in AWS; the functions refuse events of other APIs.
	APIID string
	// RateLimit and Burst throttle requests as the stage's throttling
	// does (a token bucket); zero RateLimit does not throttle.
	RateLimit float64
	Burst     int
	Logger    *slog.Logger
}

// Gateway serves the API locally.
type Gateway struct {
	invoker Invoker
	auth    *Auth
	opts    Options
	bucket  *tokenBucket
}

// New returns a gateway that invokes functions through invoker and checks
// tokens with auth.
func New(invoker Invoker, auth *Auth, opts Options) *Gateway {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.API == "" {
		opts.API = routes.Events
	}
	if opts.APIID == "" {
		opts.APIID = "local-" + string(opts.API)
	}
	g := &Gateway{invoker: invoker, auth: auth, opts: opts}
	if opts.RateLimit > 0 {
		g.bucket = newTokenBucket(opts.RateLimit, max(opts.Burst, 1))
	}
	return g
}

// API Gateway's own answers. A REST API answers an unknown route as it
// answers a missing signature, and a failed function with 502.
var (
	missingToken = apiGatewayAnswer{http.StatusForbidden, "Missing Authentication Token"}
	restTooLarge = apiGatewayAnswer{http.StatusRequestEntityTooLarge, "Request Too Long"}
	restInternal = apiGatewayAnswer{http.StatusInternalServerError, "Internal server error"}
	badGateway   = apiGatewayAnswer{http.StatusBadGateway, "Internal server error"}
	notFound     = apiGatewayAnswer{http.StatusNotFound, "Not Found"}
	unauthorized = apiGatewayAnswer{http.StatusUnauthorized, "Unauthorized"}
	forbidden    = apiGatewayAnswer{http.StatusForbidden, "Forbidden"}
	tooLarge     = apiGatewayAnswer{http.StatusRequestEntityTooLarge, "Request Entity Too Large"}
	throttled    = apiGatewayAnswer{http.StatusTooManyRequests, "Too Many Requests"}
	internal     = apiGatewayAnswer{http.StatusInternalServerError, "Internal Server Error"}
)

type apiGatewayAnswer struct {
	status  int
	message string
}

func (a apiGatewayAnswer) write(w http.ResponseWriter, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Apigw-Requestid", requestID)
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": a.message})
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// Local conveniences, not routes of the API.
	if req.URL.Path == "/healthz" && req.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		return
	}
	if req.URL.Path == "/openapi.json" && req.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.For(g.opts.API).JSON())
		return
	}
	requestID := newRequestID()
	if g.bucket != nil && !g.bucket.take() {
		throttled.write(w, requestID)
		return
	}
	route, params, ok := match(g.opts.API, req)
	if g.opts.API == routes.Registry {
		g.serveREST(w, req, route, params, ok, requestID)
		return
	}
	if !ok {
		notFound.write(w, requestID)
		return
	}
	e := g.httpAPIEvent(req, route, params, requestID)
	var authorized bool
	if fn := routes.Authorizers[g.opts.API]; fn != "" {
		e.RequestContext.Authorizer, authorized = g.authorizeLambda(req.Context(), w, fn, e)
	} else {
		e.RequestContext.Authorizer, authorized = g.authorizeJWT(w, req, route, requestID)
	}
	if !authorized {
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil {
		internal.write(w, requestID)
		return
	}
	if len(body) > MaxBody {
		tooLarge.write(w, requestID)
		return
	}
	setBody(&e.Body, &e.IsBase64Encoded, body)
	payload, err := json.Marshal(e)
	if err != nil {
		internal.write(w, requestID)
		return
	}
	out, err := g.invoker.Invoke(req.Context(), route.Function, payload)
	if err != nil {
		g.opts.Logger.Error("integration error", "function", route.Function, "error", err.Error(), "apiRequestId", requestID)
		internal.write(w, requestID)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		g.opts.Logger.Error("integration error", "function", route.Function, "error", "the function's answer is not an HTTP API response", "apiRequestId", requestID)
		internal.write(w, requestID)
		return
	}
	writeAnswer(w, requestID, resp.StatusCode, resp.Headers, resp.MultiValueHeaders, resp.Body, resp.IsBase64Encoded)
}

// authorizeJWT checks the bearer token and the route's scope as the JWT
// authorizer does, answering 401 or 403 itself when they fail, and returns
// the claims as it passes them on.
func (g *Gateway) authorizeJWT(w http.ResponseWriter, req *http.Request, route routes.Route, requestID string) (*events.APIGatewayV2HTTPRequestContextAuthorizerDescription, bool) {
	claims, err := g.auth.Verify(req.Header.Values("Authorization"))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		unauthorized.write(w, requestID)
		return nil, false
	}
	// The JWT authorizer reads the scopes from "scope" (else "scp"), space
	// delimited (RFC 6749 3.3).
	scopes := claims["scope"]
	if scopes == "" {
		scopes = claims["scp"]
	}
	if !slices.Contains(strings.Fields(scopes), route.Scope) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		forbidden.write(w, requestID)
		return nil, false
	}
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}, true
}

// authorizeLambda runs the API's Lambda authorizer fn on the request as
// API Gateway does for an authorizer with simple responses, no identity
// source and no result cache: before every request, with the request's
// headers, query and context but not its body. The function error
// "Unauthorized" is API Gateway's 401, isAuthorized false its 403, and
// any other failure its 500; an allowed request carries the authorizer's
// context to the route's function.
func (g *Gateway) authorizeLambda(ctx context.Context, w http.ResponseWriter, fn string, e events.APIGatewayV2HTTPRequest) (*events.APIGatewayV2HTTPRequestContextAuthorizerDescription, bool) {
	requestID := e.RequestContext.RequestID
	payload, err := json.Marshal(authorizerRequest(e))
	if err != nil {
		internal.write(w, requestID)
		return nil, false
	}
	out, err := g.invoker.Invoke(ctx, fn, payload)
	var fe *FunctionError
	switch {
	case errors.As(err, &fe) && fe.Message == "Unauthorized":
		unauthorized.write(w, requestID)
		return nil, false
	case err != nil:
		g.opts.Logger.Error("authorizer error", "function", fn, "error", err.Error(), "apiRequestId", requestID)
		internal.write(w, requestID)
		return nil, false
	}
	var res events.APIGatewayV2CustomAuthorizerSimpleResponse
	if err := json.Unmarshal(out, &res); err != nil {
		g.opts.Logger.Error("authorizer error", "function", fn, "error", "the answer is not a simple response", "apiRequestId", requestID)
		internal.write(w, requestID)
		return nil, false
	}
	if !res.IsAuthorized {
		forbidden.write(w, requestID)
		return nil, false
	}
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: res.Context}, true
}

// authorizerRequest is the event an HTTP API sends a Lambda authorizer
// (payload 2.0) for the request e: e without its body and authorizer.
func authorizerRequest(e events.APIGatewayV2HTTPRequest) events.APIGatewayV2CustomAuthorizerV2Request {
	rc := e.RequestContext
	rc.Authorizer = nil
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              "arn:aws:execute-api:us-east-1:" + rc.AccountID + ":" + rc.APIID + "/" + rc.Stage + "/" + rc.HTTP.Method + rc.HTTP.Path,
		RouteKey:              e.RouteKey,
		RawPath:               e.RawPath,
		RawQueryString:        e.RawQueryString,
		Cookies:               e.Cookies,
		Headers:               e.Headers,
		QueryStringParameters: e.QueryStringParameters,
		RequestContext:        rc,
		PathParameters:        e.PathParameters,
	}
}

// FunctionError is a function's error answer (Lambda's
// X-Amz-Function-Error), which an Invoker returns for it: API Gateway
// reads an authorizer's errorMessage.
type FunctionError struct {
	Type, Message string
}

func (e *FunctionError) Error() string { return "function error " + e.Type + ": " + e.Message }

// serveREST serves a route of a REST API with a Lambda proxy integration
// (payload 1.0) and no authorizer.
func (g *Gateway) serveREST(w http.ResponseWriter, req *http.Request, route routes.Route, params map[string]string, ok bool, requestID string) {
	if !ok {
		missingToken.write(w, requestID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil {
		restInternal.write(w, requestID)
		return
	}
	if len(body) > MaxBody {
		restTooLarge.write(w, requestID)
		return
	}
	payload, err := json.Marshal(g.restEvent(req, route, params, body, requestID))
	if err != nil {
		restInternal.write(w, requestID)
		return
	}
	out, err := g.invoker.Invoke(req.Context(), route.Function, payload)
	if err != nil {
		g.opts.Logger.Error("integration error", "function", route.Function, "error", err.Error(), "apiRequestId", requestID)
		badGateway.write(w, requestID)
		return
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		badGateway.write(w, requestID)
		return
	}
	writeAnswer(w, requestID, resp.StatusCode, resp.Headers, resp.MultiValueHeaders, resp.Body, resp.IsBase64Encoded)
}

// writeAnswer writes a function's answer as API Gateway passes it on.
func writeAnswer(w http.ResponseWriter, requestID string, status int, headers map[string]string, multi map[string][]string, body string, b64 bool) {
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	for k, vs := range multi {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Apigw-Requestid", requestID)
	raw := []byte(body)
	if b64 {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(body); err != nil {
			internal.write(w, requestID)
			return
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// match finds the route of a request as an HTTP API without a $default
// route does: its method and path must be a route's, else API Gateway
// answers 404 (it has no 405). Path segments are decoded; an encoded slash
// stays inside its segment.
func match(api routes.API, req *http.Request) (routes.Route, map[string]string, bool) {
	raw, ok := strings.CutPrefix(req.URL.EscapedPath(), "/")
	if !ok {
		return routes.Route{}, nil, false
	}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		var err error
		if parts[i], err = url.PathUnescape(p); err != nil {
			return routes.Route{}, nil, false
		}
	}
	route, params, _ := routes.Match(api, req.Method, parts)
	return route, params, route.Function != ""
}

// httpAPIEvent builds the event API Gateway's HTTP API sends for req.
func (g *Gateway) httpAPIEvent(req *http.Request, route routes.Route, params map[string]string, requestID string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, v := range req.Header {
		if strings.EqualFold(k, "Cookie") {
			cookies = append(cookies, v...)
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	if req.Host != "" {
		headers["host"] = req.Host
	}
	query := map[string]string{}
	for k, v := range req.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	now := time.Now()
	sourceIP, _, _ := net.SplitHostPort(req.RemoteAddr)
	e := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.Key(),
		RawPath:               req.URL.EscapedPath(),
		RawQueryString:        req.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:  "000000000000",
			APIID:      g.opts.APIID,
			DomainName: req.Host,
			RequestID:  requestID,
			RouteKey:   route.Key(),
			Stage:      "$default",
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: sourceIP, UserAgent: req.UserAgent(),
			},
		},
	}
	if len(query) == 0 {
		e.QueryStringParameters = nil
	}
	if len(params) == 0 {
		e.PathParameters = nil
	}
	return e
}

// restEvent builds the event a REST API's Lambda proxy integration sends
// for req: single- and multi-value headers and query parameters, the
// resource and path, and the caller's identity (here only its address).
func (g *Gateway) restEvent(req *http.Request, route routes.Route, params map[string]string, body []byte, requestID string) events.APIGatewayProxyRequest {
	headers, multiHeaders := map[string]string{}, map[string][]string{}
	for k, v := range req.Header {
		headers[k] = v[len(v)-1]
		multiHeaders[k] = v
	}
	if req.Host != "" {
		headers["Host"], multiHeaders["Host"] = req.Host, []string{req.Host}
	}
	query, multiQuery := map[string]string{}, map[string][]string{}
	for k, v := range req.URL.Query() {
		query[k] = v[len(v)-1]
		multiQuery[k] = v
	}
	sourceIP, _, _ := net.SplitHostPort(req.RemoteAddr)
	now := time.Now()
	e := events.APIGatewayProxyRequest{
		Resource:                        route.Path,
		Path:                            req.URL.Path,
		HTTPMethod:                      req.Method,
		Headers:                         headers,
		MultiValueHeaders:               multiHeaders,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        "000000000000",
			APIID:            g.opts.APIID,
			ResourcePath:     route.Path,
			Stage:            "registry",
			RequestID:        requestID,
			HTTPMethod:       req.Method,
			Path:             "/registry" + req.URL.Path,
			RequestTime:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP, UserAgent: req.UserAgent()},
		},
	}
	setBody(&e.Body, &e.IsBase64Encoded, body)
	if len(query) == 0 {
		e.QueryStringParameters, e.MultiValueQueryStringParameters = nil, nil
	}
	if len(params) == 0 {
		e.PathParameters = nil
	}
	return e
}

// setBody sets an event's body as API Gateway does: as text when it is
// UTF-8, else base64-encoded.
func setBody(dst *string, isBase64 *bool, body []byte) {
	switch {
	case len(body) == 0:
	case utf8.Valid(body):
		*dst = string(body)
	default:
		*dst, *isBase64 = base64.StdEncoding.EncodeToString(body), true
	}
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// tokenBucket is the stage's throttling: rate requests a second, bursts
// of up to burst.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

func (b *tokenBucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

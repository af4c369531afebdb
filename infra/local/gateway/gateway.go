// Package gateway is the local stand-in for API Gateway: an HTTP server
// that matches requests against the route table the stack deploys, checks
// bearer JWTs signed with a local secret, turns each request into an HTTP
// API (payload 2.0) event, invokes the route's function in-process through
// aws-lambda-go's own handler (so the event goes through JSON exactly as in
// Lambda) and writes the function's answer back.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/fleetlog/device-events/pkg/api"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Limits API Gateway applies before a function sees a request.
const (
	maxBody        = 10 << 20
	functionTimout = 10 * time.Second
)

// Gateway serves the API locally.
type Gateway struct {
	functions map[string]lambda.Handler
	auth      *Auth
	logger    *slog.Logger
}

// New returns a gateway over the given functions, one per routes.Functions
// entry, checking tokens with auth.
func New(functions []*api.Function, auth *Auth, logger *slog.Logger) *Gateway {
	g := &Gateway{functions: map[string]lambda.Handler{}, auth: auth, logger: logger}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range functions {
		g.functions[f.Name()] = lambda.NewHandler(f.Invoke)
	}
	return g
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/healthz" && req.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	if req.URL.Path == "/openapi.json" && req.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Document())
		return
	}
	requestID := newRequestID()
	segments, err := api.SplitPath(req.URL.EscapedPath())
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such resource", requestID, nil)
		return
	}
	route, params, known := routes.Match(req.Method, segments)
	if route.Function == "" {
		if known {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", req.Method+" is not allowed here", requestID,
				map[string]string{"Allow": strings.Join(routes.Methods(segments), ", ")})
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such resource", requestID, nil)
		return
	}
	// Two Authorization headers are refused, as API Gateway refuses them,
	// rather than one of them being picked.
	authz := req.Header.Values("Authorization")
	if len(authz) > 1 {
		authz = []string{""}
	}
	claims, err := g.auth.Verify(strings.Join(authz, ""))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error(), requestID,
			map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`})
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "could not read the body", requestID, nil)
		return
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "body is larger than 10 MB", requestID, nil)
		return
	}
	event := httpAPIEvent(req, route, params, claims, body, requestID)
	payload, err := json.Marshal(event)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "could not build the event", requestID, nil)
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), functionTimout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID,
		InvokedFunctionArn: "arn:aws:lambda:local:000000000000:function:" + route.Function})
	out, err := g.functions[route.Function].Invoke(ctx, payload)
	if err != nil {
		// A function error behind API Gateway becomes a bare 500 (or 502).
		g.logger.Error("function error", "function", route.Function, "error", err.Error(), "requestId", requestID)
		writeError(w, http.StatusInternalServerError, "internal", "internal error", requestID, nil)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		writeError(w, http.StatusBadGateway, "internal", "the function's answer is not an HTTP API response", requestID, nil)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Apigw-Requestid", requestID)
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		respBody, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// httpAPIEvent builds the event API Gateway's HTTP API sends for req.
func httpAPIEvent(req *http.Request, route routes.Route, params map[string]string, claims map[string]string, body []byte, requestID string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, v := range req.Header {
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
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:  "000000000000",
			APIID:      "local",
			DomainName: req.Host,
			RequestID:  requestID,
			RouteKey:   route.Key(),
			Stage:      "$default",
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: sourceIP, UserAgent: req.UserAgent(),
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			e.Body = string(body)
		} else {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	if len(query) == 0 {
		e.QueryStringParameters = nil
	}
	if len(params) == 0 {
		e.PathParameters = nil
	}
	return e
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the contract's error format: the local gateway's
// own refusals look like the functions' ones.
func writeError(w http.ResponseWriter, status int, code, msg, requestID string, headers map[string]string) {
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	writeJSON(w, status, map[string]string{"error": code, "message": msg, "requestId": requestID})
}

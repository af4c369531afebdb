package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
	"github.com/fleetlog/device-events/pkg/zoneinfo"
)

// edgeReq is an HTTP API request as the JWT authorizer passes it on (or,
// with key, as the key API's Lambda authorizer does), with the claims and
// API id under test.
type edgeReq struct {
	method, path, query string
	scope, devices      string // claims; devices "" means no devices claim
	apiID               string
	key                 bool
}

func (r edgeReq) payload(t *testing.T) json.RawMessage {
	t.Helper()
	claims := map[string]string{"sub": "edge-test", "scope": r.scope}
	if r.devices != "" {
		claims["devices"] = r.devices
	}
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: r.path, RawQueryString: r.query,
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "edge", APIID: r.apiID,
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.method, Path: r.path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}},
		},
	}
	if r.key {
		lambda := map[string]any{}
		for k, v := range claims {
			lambda[k] = v
		}
		e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambda}
	}
	if r.method == "POST" || r.method == "PATCH" {
		e.Body = `{"type":"door"}`
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTheEdgesRefuseWhatTheContractRefuses: scopes are space-delimited,
// each devices element is matched whole, events that did not come through
// the service's API are refused, and types and times in query parameters
// are checked as in bodies. Each case that must be refused has a twin that
// must pass, so that the refusal is shown to come from the point tested.
func TestTheEdgesRefuseWhatTheContractRefuses(t *testing.T) {
	const api = "a1b2c3d4e5"
	const keysAPI = "k1k2k3k4k5"
	deps := Deps{Store: eventstore.New(stubDynamoDB{}, "events", eventstore.Options{}), Zones: zoneinfo.Load, APIs: map[string]routes.API{api: routes.Events, "f6g7h8i9j0": routes.Events, "r1r2r3r4r5": routes.Registry, keysAPI: routes.Keys}}
	list := edgeReq{method: "GET", path: "/devices/d1/events", scope: "events/read", apiID: api}
	with := func(r edgeReq, f func(*edgeReq)) edgeReq { f(&r); return r }
	cases := []struct {
		name   string
		req    edgeReq
		status int
		code   string
	}{
		{"a listing through the API passes", list, 200, ""},
		{"scopes separated by spaces are read apart", with(list, func(r *edgeReq) { r.scope = "events/write events/read" }), 200, ""},
		{"scopes separated by a comma are one unknown scope", with(list, func(r *edgeReq) { r.scope = "events/write,events/read" }), 403, apierror.Forbidden},
		{"a device listed in the devices claim passes", with(list, func(r *edgeReq) { r.devices = "[d0 d1]" }), 200, ""},
		{"a devices element d1,d2 does not name d1", with(list, func(r *edgeReq) { r.devices = "[d1,d2]" }), 403, apierror.Forbidden},
		{"a JSON devices element d1,d2 does not name d1", with(list, func(r *edgeReq) { r.devices = `["d1,d2"]` }), 403, apierror.Forbidden},
		{"an event from the second deployed API passes", with(list, func(r *edgeReq) { r.apiID = "f6g7h8i9j0" }), 200, ""},
		{"an events API route through the registry's API is 403", with(list, func(r *edgeReq) { r.apiID = "r1r2r3r4r5" }), 403, apierror.Forbidden},
		{"an event from another API is refused", with(list, func(r *edgeReq) { r.apiID = "zzzzzzzzzz" }), 403, apierror.Forbidden},
		{"an event without an API id is refused", with(list, func(r *edgeReq) { r.apiID = "" }), 403, apierror.Forbidden},
		{"a key's claims through the key API pass", with(list, func(r *edgeReq) { r.apiID, r.key = keysAPI, true }), 200, ""},
		{"a device key's claims through the key API are held to its devices", with(list, func(r *edgeReq) { r.apiID, r.key, r.devices = keysAPI, true, "[d2]" }), 403, apierror.Forbidden},
		{"a key's claims through the events API are refused", with(list, func(r *edgeReq) { r.key = true }), 403, apierror.Forbidden},
		{"a token's claims through the key API are refused", with(list, func(r *edgeReq) { r.apiID = keysAPI }), 403, apierror.Forbidden},
		{"a type with a zero-width space in the query is 400", with(list, func(r *edgeReq) { r.query = "type=" + url.QueryEscape("door\u200b") }), 400, apierror.InvalidParameter},
		{"a type with a bidi override in the query is 400", with(list, func(r *edgeReq) { r.query = "type=" + url.QueryEscape("\u202erood") }), 400, apierror.InvalidParameter},
		{"a type with a leading space in the query is 400", with(list, func(r *edgeReq) { r.query = "type=" + url.QueryEscape(" door") }), 400, apierror.InvalidParameter},
		{"a type not in NFC in the query is 400", with(list, func(r *edgeReq) { r.query = "type=" + url.QueryEscape("porte ouverte e\u0301") }), 400, apierror.InvalidParameter},
		{"a plain type in the query passes", with(list, func(r *edgeReq) { r.query = "type=door,window" }), 200, ""},
		{"an offset of +23:59 passes", with(list, func(r *edgeReq) { r.query = "from=" + url.QueryEscape("2026-11-22T10:00:00+23:59") }), 200, ""},
		{"an offset of +24:00 is 400", with(list, func(r *edgeReq) { r.query = "from=" + url.QueryEscape("2026-11-22T10:00:00+24:00") }), 400, apierror.InvalidParameter},
		{"an offset of -23:60 is 400", with(list, func(r *edgeReq) { r.query = "to=" + url.QueryEscape("2026-11-22T10:00:00-23:60") }), 400, apierror.InvalidParameter},
	}
	// The store answers every call with nothing: a patch or delete then
	// finds no event (404), a put stores (201).
	for fn, through := range map[string]struct {
		status int
		code   string
	}{routes.ListEvents: {200, ""}, routes.AggregateEvents: {200, ""}, routes.PatchEvent: {404, apierror.NotFound}, routes.DeleteEvent: {404, apierror.NotFound}, routes.PutEvent: {201, ""}} {
		cases = append(cases, struct {
			name   string
			req    edgeReq
			status int
			code   string
		}{fn + " serves an event from the API", apiRequest(fn, api), through.status, through.code}, struct {
			name   string
			req    edgeReq
			status int
			code   string
		}{fn + " refuses an event from another API", apiRequest(fn, "zzzzzzzzzz"), 403, apierror.Forbidden})
	}
	fns := map[string]*Function{}
	for _, name := range routes.Functions {
		if routes.IsAuthorizer(name) {
			continue
		}
		f, err := New(name, deps)
		if err != nil {
			t.Fatal(err)
		}
		fns[name] = f
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			route, _, _ := routes.Match(routes.Events, tc.req.method, segments(tc.req.path))
			out, err := apigw.Invoke(context.Background(), fns[route.Function], tc.req.payload(t))
			resp, ok := out.(events.APIGatewayV2HTTPResponse)
			if err != nil || !ok {
				t.Fatalf("Invoke = %v, %v; want an HTTP API answer", out, err)
			}
			var body apierror.Body
			_ = json.Unmarshal([]byte(resp.Body), &body)
			if resp.StatusCode != tc.status || body.Error != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, body.Error, strings.TrimSpace(body.Message), tc.status, tc.code)
			}
		})
	}
}

// apiRequest is a request to function fn that would pass but for its API id.
func apiRequest(fn, apiID string) edgeReq {
	r := edgeReq{scope: "events/read events/write events/delete", apiID: apiID}
	switch fn {
	case routes.ListEvents:
		r.method, r.path = "GET", "/devices/d1/events"
	case routes.AggregateEvents:
		r.method, r.path, r.query = "GET", "/devices/d1/aggregates", "interval=day"
	case routes.PatchEvent:
		r.method, r.path = "PATCH", "/devices/d1/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	case routes.DeleteEvent:
		r.method, r.path = "DELETE", "/devices/d1/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	case routes.PutEvent:
		r.method, r.path = "POST", "/devices/d1/events"
	}
	return r
}

// A REST API (payload 1.0) event is held to the same API ids.
func TestARESTEventFromAnotherAPIIsRefused(t *testing.T) {
	f, err := New(routes.ListEvents, Deps{Store: eventstore.New(stubDynamoDB{}, "events", eventstore.Options{}), APIs: map[string]routes.API{"a1b2c3d4e5": routes.Events}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		apiID  string
		status int
	}{{"a1b2c3d4e5", 200}, {"zzzzzzzzzz", 403}} {
		payload, _ := json.Marshal(events.APIGatewayProxyRequest{
			Resource: "/devices/{deviceId}/events", Path: "/devices/d1/events", HTTPMethod: "GET",
			PathParameters: map[string]string{"deviceId": "d1"},
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r", APIID: tc.apiID,
				Authorizer: map[string]any{"claims": map[string]any{"sub": "u", "scope": "events/read"}}},
		})
		out, err := apigw.Invoke(context.Background(), f, payload)
		if resp, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || resp.StatusCode != tc.status {
			t.Fatalf("API id %s: %+v, %v; want %d", tc.apiID, out, err, tc.status)
		}
	}
}

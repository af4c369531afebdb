package apigw

import (
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/routes"
)

func TestKindOfTellsThePayloadsApart(t *testing.T) {
	cases := []struct {
		payload string
		want    payloadKind
	}{
		{`{"version":"2.0","routeKey":"POST /devices/{deviceId}/events","rawPath":"/devices/d/events","requestContext":{}}`, kindHTTPAPI},
		{`{"resource":"/devices/{deviceId}/events","httpMethod":"GET","path":"/devices/d/events","requestContext":{}}`, kindREST},
		{`{"deviceid":"d","function":"f","status":"x","description":"y"}`, kindDirect},
		{`[{"deviceId":"d","type":"a"}]`, kindDirect},
		{`{"version":"2.0","type":"sneaky"}`, kindDirect},
		{`not json`, kindDirect},
	}
	for _, tc := range cases {
		if got := kindOf([]byte(tc.payload)); got != tc.want {
			t.Errorf("kindOf(%s) = %v, want %v", tc.payload, got, tc.want)
		}
	}
}

func TestClaimsAreReadInEveryFormTheyArrive(t *testing.T) {
	cases := []struct {
		name    string
		claims  map[string]string
		scopes  []string
		devices []string
	}{
		{"API Gateway's array form", map[string]string{"scope": "events/read events/write", "devices": "[d1 d2]"}, []string{"events/read", "events/write"}, []string{"d1", "d2"}},
		{"a JSON array", map[string]string{"scp": "events/read", "devices": `["d1","d2"]`}, []string{"events/read"}, []string{"d1", "d2"}},
		{"a space-delimited string", map[string]string{"scope": "events/read events/delete", "devices": "d1 d2"}, []string{"events/read", "events/delete"}, []string{"d1", "d2"}},
		{"a comma inside a scope or a device is part of it", map[string]string{"scope": "events/read,events/write", "devices": "[d1,d2 d3]"}, []string{"events/read,events/write"}, []string{"d1,d2", "d3"}},
		{"a JSON array element is matched whole", map[string]string{"scope": "events/read", "devices": `["d1,d2"," d3"]`}, []string{"events/read"}, []string{"d1,d2", " d3"}},
		{"no devices claim means every device", map[string]string{"scope": "events/read"}, []string{"events/read"}, nil},
		{"an empty devices claim means none", map[string]string{"scope": "events/read", "devices": "[]"}, []string{"events/read"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsFromStrings(tc.claims, nil)
			if !slices.Equal(c.Scopes, tc.scopes) || !slices.Equal(c.Devices, tc.devices) || (c.Devices == nil) != (tc.devices == nil) {
				t.Fatalf("scopes %q devices %q, want %q %q", c.Scopes, c.Devices, tc.scopes, tc.devices)
			}
		})
	}
	rest := claimsFromREST(map[string]any{"claims": map[string]any{"sub": "u", "scope": "events/write", "devices": []any{"d1"}}})
	if rest.Subject != "u" || !slices.Equal(rest.Scopes, []string{"events/write"}) || !slices.Equal(rest.Devices, []string{"d1"}) {
		t.Fatalf("REST claims = %+v", rest)
	}
}

// TestAnHTTPAPIEventsRouteIsOfTheAPIItsAuthorizerSays: the key API's
// events carry a Lambda authorizer's context, the events API's a JWT
// authorizer's claims (or none); both are read into the same Claims, and
// the route is the one of that API (the handlers hold it against API_IDS).
func TestAnHTTPAPIEventsRouteIsOfTheAPIItsAuthorizerSays(t *testing.T) {
	const key = "GET /devices/{deviceId}/events"
	cases := []struct {
		name       string
		authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		api        routes.API
		claims     *Claims
	}{
		{"a Lambda authorizer's context is the key API's, its strings read as claims",
			&events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{
				"sub": "apikey:k1", "scope": "events/read events/write", "devices": "[d1 d2]", "keyId": "k1", "n": 1.0}},
			routes.Keys, &Claims{Subject: "apikey:k1", Scopes: []string{"events/read", "events/write"}, Devices: []string{"d1", "d2"}}},
		{"a Lambda context without devices is every device",
			&events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"sub": "apikey:k2", "scope": "events/read"}},
			routes.Keys, &Claims{Subject: "apikey:k2", Scopes: []string{"events/read"}}},
		{"a JWT authorizer's claims are the events API's",
			&events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "u", "scope": "events/read"}}},
			routes.Events, &Claims{Subject: "u", Scopes: []string{"events/read"}}},
		{"no authorizer is the events API's, without claims", nil, routes.Events, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: key, RawPath: "/devices/d1/events",
				PathParameters: map[string]string{"deviceId": "d1"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r", Authorizer: tc.authorizer,
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}
			r, rerr := fromHTTPAPI(e)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if r.Route.API != tc.api || r.Route.Key() != key {
				t.Errorf("route %s %s, want %s %s", r.Route.API, r.Route.Key(), tc.api, key)
			}
			if !reflect.DeepEqual(r.Claims, tc.claims) {
				t.Errorf("claims %+v, want %+v", r.Claims, tc.claims)
			}
		})
	}
}

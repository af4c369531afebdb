package apigw

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/routes"
)

// delavalPut is the HTTP API event API Gateway sends for a typical DeLaval
// device registry event, as the local gateway builds it.
func delavalPut(tb testing.TB) []byte {
	tb.Helper()
	const device = "e8613951-216a-4ad7-85e3-dd963d0823c4"
	body, err := json.Marshal(map[string]string{
		"deviceid":    device,
		"status":      "Failed",
		"description": "Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment",
		"function":    "get-greengrass-configurations",
	})
	if err != nil {
		tb.Fatal(err)
	}
	route := routes.All[0]
	e := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: route.Key(),
		RawPath:  "/devices/" + device + "/events",
		Headers: map[string]string{
			"content-type": "application/json", "host": "api.example.com", "user-agent": "registry/1.4",
			"authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl", "content-length": "205",
			"x-forwarded-for": "203.0.113.7", "x-forwarded-port": "443", "x-forwarded-proto": "https",
		},
		PathParameters: map[string]string{"deviceId": device},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "a1b2c3d4e5", DomainName: "api.example.com",
			RequestID: "JKJaXmPLvHcESHA=", RouteKey: route.Key(), Stage: "$default",
			Time: "22/Nov/2026:10:15:30 +0000", TimeEpoch: 1795342530000,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: "/devices/" + device + "/events", Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.7", UserAgent: "registry/1.4",
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
					Claims: map[string]string{"sub": "registry", "scope": "events/write", "iss": "https://auth.example.com", "aud": "device-events"},
				},
			},
		},
		Body: string(body),
	}
	payload, err := json.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	return payload
}

// Invoke reads plain HTTP API events in one decoding (decodeHTTPAPI) and
// leaves every other payload to kindOf: whatever it takes must be what
// kindOf calls an HTTP API event, decoded as before.
func TestOneDecodingReadsHTTPAPIEventsAsBefore(t *testing.T) {
	payloads := []string{
		string(delavalPut(t)),
		`{"version":"2.0","routeKey":"POST /devices/{deviceId}/events","rawPath":"/devices/d/events","requestContext":{}}`,
		`{"version":"2.0","routeKey":"$default","rawPath":"/x","requestContext":{"requestId":"r","http":{"method":"GET"}}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"},"httpMethod":"POST"}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"},"httpMethod":7}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"},"headers":{"a":1}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":null}`,
		`{"version":"1.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"}}`,
		`{"version":"2.0","requestContext":{"requestId":"r"}}`,
		`{"resource":"/devices/{deviceId}/events","httpMethod":"GET","path":"/devices/d/events","requestContext":{"requestId":"r"}}`,
		`{"deviceid":"d","function":"f","status":"x","description":"y"}`,
		`[{"deviceId":"d","type":"a"}]`,
		`not json`,
	}
	for _, p := range payloads {
		e, ok := decodeHTTPAPI([]byte(p))
		if !ok {
			continue
		}
		if kind := kindOf([]byte(p)); kind != kindHTTPAPI {
			t.Errorf("%s: decoded as an HTTP API event, kindOf says %v", p, kind)
		}
		var want events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal([]byte(p), &want); err != nil || !reflect.DeepEqual(*e, want) {
			t.Errorf("%s: decoded %+v, want %+v (%v)", p, *e, want, err)
		}
	}
	if _, ok := decodeHTTPAPI(delavalPut(t)); !ok {
		t.Error("a put from API Gateway was not read in one decoding")
	}
}

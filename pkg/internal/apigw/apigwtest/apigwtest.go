// Package apigwtest holds API Gateway events for the tests of the packages
// that read them.
package apigwtest

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/routes"
)

// DelavalPut is the HTTP API event API Gateway sends for a typical DeLaval
// device registry event, as the local gateway builds it: the fixture of
// the adapter's tests and of put-event's handler benchmarks.
func DelavalPut(tb testing.TB) []byte {
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

package apikeys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

const keysAPIID, eventsAPIID = "k1k2k3k4k5", "e1e2e3e4e5"

func authorizerRequest(apiID, routeKey string, headers map[string]string) events.APIGatewayV2CustomAuthorizerV2Request {
	return events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST", RouteKey: routeKey, Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{APIID: apiID, RequestID: "api-request-1", RouteKey: routeKey}}
}

// TestTheAuthorizerAnswersAsAPIGatewayExpects holds each request to the
// answer that makes API Gateway allow it (with the key's claims), answer
// its 403 (isAuthorized false), its 401 (the error "Unauthorized") or its
// 500 (any other error), and each answer to one log line without the key.
func TestTheAuthorizerAnswersAsAPIGatewayExpects(t *testing.T) {
	s := newTestStore(t)
	readOnly := storeKey(t, s, t0, []string{routes.ScopeRead}, []string{"d1", "d2"}, time.Time{})
	everything := storeKey(t, s, t0, []string{routes.ScopeRead, routes.ScopeWrite}, nil, time.Time{})
	var logs bytes.Buffer
	apis := map[string]routes.API{keysAPIID: routes.Keys, eventsAPIID: routes.Events}
	a := NewAuthorizer(NewVerifier(s, pepperOf(testPepper), VerifierOptions{}), apis, slog.New(slog.NewJSONHandler(&logs, nil)))
	down, err := dynamodblocal.Client(context.Background(), "http://127.0.0.1:1", func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} })
	if err != nil {
		t.Fatal(err)
	}
	broken := NewAuthorizer(NewVerifier(eventstore.New(down, "t", eventstore.Options{}), pepperOf(testPepper), VerifierOptions{}), apis, slog.New(slog.NewJSONHandler(&logs, nil)))
	const list, put = "GET /devices/{deviceId}/events", "POST /devices/{deviceId}/events"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(readOnly.ID+":"+readOnly.Secret))

	for _, c := range []struct {
		name    string
		a       *Authorizer
		req     events.APIGatewayV2CustomAuthorizerV2Request
		allowed bool
		context map[string]any
		err     error // nil, ErrDenied, or errFailed
	}{
		{name: "a device key with the route's scope is allowed, with its claims", a: a,
			req: authorizerRequest(keysAPIID, list, map[string]string{"x-api-key": readOnly.String()}), allowed: true,
			context: map[string]any{"sub": "apikey:" + readOnly.ID, "scope": routes.ScopeRead, "devices": "[d1 d2]", "keyId": readOnly.ID}},
		{name: "a key of every device is allowed without a devices claim", a: a,
			req: authorizerRequest(keysAPIID, put, map[string]string{"authorization": everything.String()}), allowed: true,
			context: map[string]any{"sub": "apikey:" + everything.ID, "scope": routes.ScopeRead + " " + routes.ScopeWrite, "keyId": everything.ID}},
		{name: "a key in Basic credentials is allowed", a: a,
			req: authorizerRequest(keysAPIID, list, map[string]string{"authorization": basic}), allowed: true,
			context: map[string]any{"sub": "apikey:" + readOnly.ID, "scope": routes.ScopeRead, "devices": "[d1 d2]", "keyId": readOnly.ID}},
		{name: "a key without the route's scope is not authorized (403)", a: a,
			req: authorizerRequest(keysAPIID, put, map[string]string{"x-api-key": readOnly.String()})},
		{name: "no key is Unauthorized (401)", a: a, req: authorizerRequest(keysAPIID, list, nil), err: ErrDenied},
		{name: "a wrong secret is Unauthorized", a: a, err: ErrDenied,
			req: authorizerRequest(keysAPIID, list, map[string]string{"x-api-key": Key{readOnly.ID, everything.Secret}.String()})},
		{name: "an unknown key is Unauthorized", a: a, err: ErrDenied,
			req: authorizerRequest(keysAPIID, list, map[string]string{"x-api-key": New(t0).String()})},
		{name: "a request of the events API is Unauthorized", a: a, err: ErrDenied,
			req: authorizerRequest(eventsAPIID, list, map[string]string{"x-api-key": readOnly.String()})},
		{name: "a route the key API does not have is Unauthorized", a: a, err: ErrDenied,
			req: authorizerRequest(keysAPIID, "POST /apikeys", map[string]string{"x-api-key": readOnly.String()})},
		{name: "a store that cannot be read is a failure (500)", a: broken, err: errFailed,
			req: authorizerRequest(keysAPIID, list, map[string]string{"x-api-key": readOnly.String()})},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := logs.Len()
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-1"})
			res, err := c.a.Authorize(ctx, c.req)
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if err != nil && err.Error() != "Unauthorized" && c.err == ErrDenied {
				t.Fatalf("error message %q, want exactly Unauthorized (API Gateway's 401)", err)
			}
			if res.IsAuthorized != c.allowed || !reflect.DeepEqual(res.Context, c.context) {
				t.Errorf("got %+v, want allowed %v with %v", res, c.allowed, c.context)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()[start:]), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1", len(lines))
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatal(err)
			}
			if line["requestId"] != "lambda-1" || line["apiRequestId"] != "api-request-1" || line["route"] != c.req.RouteKey {
				t.Errorf("log line %s lacks the request ids or the route", lines[0])
			}
			if c.err == errFailed && (line["level"] != "ERROR" || line["error"] == nil) {
				t.Errorf("log line %s: want ERROR with the cause", lines[0])
			}
		})
	}
	for _, k := range []Key{readOnly, everything} {
		for _, secret := range []string{k.Secret, k.String(), base64.StdEncoding.EncodeToString([]byte(k.ID + ":" + k.Secret))} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds a key's secret %q:\n%s", secret, logs.String())
			}
		}
	}
}

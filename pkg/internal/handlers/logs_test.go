package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// Everything secret in the requests below carries this marker, so that no
// log line may contain it, whatever the field.
const secretMarker = "SECRET"

// TestLogsCarryTheRequestIDAndNothingSecret drives requests through the
// functions with a plain JSON logger, as make run and the local gateway
// log: good and bad requests, a 500 and a 503, direct invokes, API keys
// made and listed. Every line carries the invocation's Lambda request id
// (and an API request its API Gateway id, the one the caller sees in error
// bodies); no line carries a bearer token, an API key or its secret, the
// page-token key, the keys' pepper, or any value of an event's data or
// text.
func TestLogsCarryTheRequestIDAndNothingSecret(t *testing.T) {
	client := ddbtest.Client(t)
	table := ddbtest.Table(t, client, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	good := eventstore.New(client, table, eventstore.Options{Retention: -1})
	// A table that does not exist: DynamoDB's answer is one the store does
	// not classify, so the function answers 500 and logs the cause.
	missing := eventstore.New(client, table+"-missing", eventstore.Options{Retention: -1})
	// Nothing listens there: each call fails at once.
	downClient, err := dynamodblocal.Client(context.Background(), "http://127.0.0.1:1", func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} })
	if err != nil {
		t.Fatal(err)
	}
	down := eventstore.New(downClient, table, eventstore.Options{Retention: -1})

	pageKey := []byte("page-token-key-" + secretMarker + "-0123456789")
	signer, err := pagetoken.NewSigner(pageKey)
	if err != nil {
		t.Fatal(err)
	}
	const bearer = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTRUNSRVQifQ.U0VDUkVULXNpZ25hdHVyZQ"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fn := func(name string, store *eventstore.Store) *Function {
		t.Helper()
		f, err := New(name, Deps{Store: store, Logger: logger,
			PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	put, list, patch := fn(routes.PutEvent, good), fn(routes.ListEvents, good), fn(routes.PatchEvent, good)
	keyPepper := []byte("key-pepper-" + secretMarker)
	keys, err := New(routes.APIKeys, Deps{Store: good, Logger: logger,
		PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil },
		KeyPepper:  func(context.Context) ([]byte, error) { return keyPepper, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var madeKey, madeSecret string
	putMissing, putDown := fn(routes.PutEvent, missing), fn(routes.PutEvent, down)

	secretEvent := `{"type":"door","text":"text-` + secretMarker + `","data":{"password":"data-` + secretMarker + `","nested":{"apiKey":"key-` + secretMarker + `"}}}`
	secretHeaders := map[string]string{"authorization": "Bearer " + bearer, "x-api-key": "xak-" + secretMarker, "cookie": "session=" + secretMarker}
	var eventID, nextToken string

	cases := []struct {
		name   string
		fn     *Function
		req    *httpReq // nil for a direct invoke of direct
		direct string
		want   string // the status, or the direct invoke's errorType ("ok" when none)
		then   func(t *testing.T, body map[string]any)
	}{
		{name: "a put with a bearer token and secret data", fn: put, want: "201",
			req: &httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", headers: secretHeaders, body: secretEvent},
			then: func(t *testing.T, body map[string]any) {
				eventID = body["events"].([]any)[0].(map[string]any)["id"].(string)
			}},
		{name: "a put of a second event", fn: put, want: "201",
			req: &httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", headers: secretHeaders, body: secretEvent}},
		{name: "a first page of one event", fn: list, want: "200",
			req:  &httpReq{route: "GET /devices/{deviceId}/events", path: "/devices/d1/events", query: "limit=1", headers: secretHeaders},
			then: func(t *testing.T, body map[string]any) { nextToken, _ = body["nextPageToken"].(string) }},
		{name: "the next page, with the page token", fn: list, want: "200",
			req: &httpReq{route: "GET /devices/{deviceId}/events", path: "/devices/d1/events", query: "limit=1&pageToken=<token>", headers: secretHeaders}},
		{name: "a merge patch of secret data", fn: patch, want: "200",
			req: &httpReq{route: "PATCH /devices/{deviceId}/events/{eventId}", path: "/devices/d1/events/<id>", headers: secretHeaders,
				body: `{"text":"patched-` + secretMarker + `","data":{"password":null,"pin":"pin-` + secretMarker + `"},"comment":"comment-` + secretMarker + `"}`}},
		{name: "an invalid event with secrets in it", fn: put, want: "400",
			req: &httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", headers: secretHeaders,
				body: `{"type":"door","data":{"password":"bad-` + secretMarker + `"},"colour":"red-` + secretMarker + `"}`}},
		{name: "a body cut short inside a secret", fn: put, want: "400",
			req: &httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", headers: secretHeaders,
				body: `{"type":"door","data":{"password":"cut-` + secretMarker}},
		{name: "a put into a table that does not exist is a 500", fn: putMissing, want: "500",
			req: &httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", headers: secretHeaders, body: secretEvent}},
		{name: "a put while DynamoDB is unreachable is a 503", fn: putDown, want: "503",
			req: &httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", headers: secretHeaders, body: secretEvent}},
		{name: "a key made, its secret in the answer", fn: keys, want: "201",
			req: &httpReq{route: "POST /apikeys", path: "/apikeys", headers: secretHeaders, body: `{"name":"key-` + secretMarker + `","scopes":["events/read"],"devices":["d1"]}`},
			then: func(t *testing.T, body map[string]any) {
				madeKey, madeSecret = body["key"].(string), body["secret"].(string)
			}},
		{name: "the keys listed", fn: keys, want: "200",
			req: &httpReq{route: "GET /apikeys", path: "/apikeys", headers: secretHeaders}},
		{name: "a key refused for a bad body", fn: keys, want: "400",
			req: &httpReq{route: "POST /apikeys", path: "/apikeys", headers: secretHeaders, body: `{"name":"n","scopes":["events/` + secretMarker + `"]}`}},
		{name: "a direct invoke with secret data", fn: put, want: "ok",
			direct: `{"deviceId":"d1","type":"door","text":"direct-` + secretMarker + `","data":{"token":"direct-` + secretMarker + `"}}`},
		{name: "a direct invoke while DynamoDB is unreachable", fn: putDown, want: apierror.Unavailable,
			direct: `{"deviceId":"d1","type":"door","data":{"token":"down-` + secretMarker + `"}}`},
		{name: "a direct invoke into a table that does not exist", fn: putMissing, want: apierror.Internal,
			direct: `{"deviceId":"d1","type":"door","data":{"token":"missing-` + secretMarker + `"}}`},
		{name: "an invalid direct invoke", fn: put, want: apierror.InvalidEvent,
			direct: `{"deviceId":"d1","type":"door","data":{"token":"invalid-` + secretMarker + `"},"extra":1}`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lambdaID := fmt.Sprintf("lambda-request-%02d", i)
			apiID := fmt.Sprintf("api-request-%02d", i)
			ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
			start := logs.Len()
			if tc.req != nil {
				r := *tc.req
				r.path = strings.ReplaceAll(r.path, "<id>", eventID)
				r.query = strings.ReplaceAll(r.query, "<token>", nextToken)
				out, err := apigw.Invoke(ctx, tc.fn, r.event(t, apiID))
				if err != nil {
					t.Fatalf("Invoke: %v, want an answer", err)
				}
				res := out.(events.APIGatewayV2HTTPResponse)
				if got := fmt.Sprint(res.StatusCode); got != tc.want {
					t.Fatalf("status %s, want %s; body %s", got, tc.want, res.Body)
				}
				if tc.then != nil {
					var body map[string]any
					if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
						t.Fatal(err)
					}
					tc.then(t, body)
				}
			} else {
				_, err := apigw.Invoke(ctx, tc.fn, json.RawMessage(tc.direct))
				got := "ok"
				if ie, ok := err.(messages.InvokeResponse_Error); ok {
					got = ie.Type
				} else if err != nil {
					got = err.Error()
				}
				if got != tc.want {
					t.Fatalf("direct invoke: %s, want %s", got, tc.want)
				}
			}
			lines := logLines(t, logs.Bytes()[start:])
			if tc.req != nil && len(lines) != 1 {
				t.Fatalf("%d log lines, want one per request", len(lines))
			}
			for _, l := range lines {
				if l["requestId"] != lambdaID {
					t.Errorf("requestId = %v, want %s in %v", l["requestId"], lambdaID, l)
				}
				if tc.req != nil && l["apiRequestId"] != apiID {
					t.Errorf("apiRequestId = %v, want %s in %v", l["apiRequestId"], apiID, l)
				}
				// A 5xx's cause goes to the log, since the answer hides it.
				if (tc.want == "500" || tc.want == "503" || tc.want == apierror.Internal || tc.want == apierror.Unavailable) && (l["level"] != "ERROR" || l["error"] == nil) {
					t.Errorf("level %v, error %v; want ERROR with the cause in %v", l["level"], l["error"], l)
				}
			}
		})
	}
	if eventID == "" || nextToken == "" || madeKey == "" {
		t.Fatalf("event id %q, page token %q, key %q: the requests that need them did not run", eventID, nextToken, madeKey)
	}
	forbidden := []string{secretMarker, bearer, strings.Split(bearer, ".")[2], string(pageKey), hex.EncodeToString(pageKey),
		base64.StdEncoding.EncodeToString(pageKey), base64.RawURLEncoding.EncodeToString(pageKey), madeKey, madeSecret}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		for _, f := range forbidden {
			if strings.Contains(line, f) {
				t.Errorf("a log line contains %q: %s", f, line)
			}
		}
	}
}

// httpReq is an API request as API Gateway's HTTP API hands it on.
type httpReq struct {
	route, path, query string
	headers            map[string]string
	body               string
}

func (r httpReq) event(t testing.TB, requestID string) json.RawMessage {
	t.Helper()
	method, _, _ := strings.Cut(r.route, " ")
	route, _ := routes.ByKey(routes.Events, r.route)
	_, params, _ := routes.Match(routes.Events, method, segments(r.path))
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route.Key(), RawPath: r.path, RawQueryString: r.query,
		Headers: r.headers, PathParameters: params, Body: r.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: requestID, RouteKey: route.Key(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: r.path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "log-test", "scope": strings.Join([]string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete, routes.ScopeAdmin}, " ")},
			}},
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// segments splits a path of the tests (no escapes in it) as API Gateway
// does.
func segments(path string) []string { return strings.Split(strings.TrimPrefix(path, "/"), "/") }

// logLines decodes JSON log lines.
func logLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// TestTheRequestIDIsLoggedOnceWithLambdasOwnHandler: in AWS the functions
// log through lambdacontext's handler, which adds requestId itself; the
// function's own must not add it a second time.
func TestTheRequestIDIsLoggedOnceWithLambdasOwnHandler(t *testing.T) {
	var logs bytes.Buffer
	f, err := New(routes.PutEvent, Deps{Store: eventstore.New(stubDynamoDB{}, "events", eventstore.Options{}),
		Logger: slog.New(lambdaLikeHandler{slog.NewJSONHandler(&logs, nil)})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-request-once"})
	out, err := apigw.Invoke(ctx, f, httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events", body: "{"}.event(t, "api-request-once"))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(events.APIGatewayV2HTTPResponse).StatusCode; got != 400 {
		t.Fatalf("status %d, want 400", got)
	}
	if n := strings.Count(logs.String(), `"requestId":"lambda-request-once"`); n != 1 {
		t.Fatalf("the request id is in the log %d times, want once: %s", n, logs.String())
	}
}

// lambdaLikeHandler adds the request id of the context as
// lambdacontext.NewLogHandler does (which writes to stdout only).
type lambdaLikeHandler struct{ slog.Handler }

func (h lambdaLikeHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

package function

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/handlers"
	"github.com/fleetlog/device-events/pkg/routes"
)

// fakeDynamoDB answers every request with h.
func fakeDynamoDB(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func dynamoError(status int, code, extra string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected"%s}`, code, extra)
	}
}

// putThrough sends one put-event request through the put-event function
// over a store whose DynamoDB is at endpoint, and returns the answer.
func putThrough(t *testing.T, ctx context.Context, db *dynamodb.Client) events.APIGatewayV2HTTPResponse {
	t.Helper()
	f, err := handlers.New(routes.PutEvent, handlers.Deps{Store: eventstore.New(db, "events", eventstore.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /devices/{deviceId}/events", RawPath: "/devices/d-1/events",
		Headers:        map[string]string{"content-type": "application/json"},
		PathParameters: map[string]string{"deviceId": "d-1"},
		Body:           `{"type":"door_opened"}`,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/devices/d-1/events"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "tester", "scope": routes.ScopeWrite},
			}},
		},
	})
	out, err := apigw.Invoke(ctx, f, payload)
	if err != nil {
		t.Fatalf("Invoke: got error %v, want an HTTP answer (an error would be a 502 at API Gateway)", err)
	}
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("Invoke: got %T, want events.APIGatewayV2HTTPResponse", out)
	}
	return resp
}

// oneAttempt is an SDK client that does not retry, so that each case is
// one answer of the fake DynamoDB.
func oneAttempt(endpoint string, timeout time.Duration) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:     aws.NopRetryer{}, HTTPClient: &http.Client{Timeout: timeout},
		DisableValidateResponseChecksum: true,
	})
}

// TestStorageFailuresOverHTTP: what DynamoDB answers when it is throttling
// or failing becomes, through the real store and handler, the contract's
// 429 or 503 with Retry-After, never a 500.
func TestStorageFailuresOverHTTP(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		ctx     context.Context
		lambda  bool // the client configured as in Lambda (retries included)
		status  int
		code    string
	}{
		{name: "ThrottlingException answers 429 throttled", handler: dynamoError(400, "ThrottlingException", ""), status: 429, code: apierror.Throttled},
		{name: "ProvisionedThroughputExceededException answers 429 throttled", handler: dynamoError(400, "ProvisionedThroughputExceededException", ""), status: 429, code: apierror.Throttled},
		{name: "a transaction cancelled for throughput answers 429 throttled",
			handler: dynamoError(400, "TransactionCanceledException", `,"CancellationReasons":[{"Code":"None"},{"Code":"ProvisionedThroughputExceeded"},{"Code":"None"}]`),
			status:  429, code: apierror.Throttled},
		{name: "throttling through the Lambda client's three attempts answers 429 throttled", handler: dynamoError(400, "ThrottlingException", ""), lambda: true, status: 429, code: apierror.Throttled},
		{name: "InternalServerError answers 503 unavailable", handler: dynamoError(500, "InternalServerError", ""), status: 503, code: apierror.Unavailable},
		{name: "a connection closed without an answer answers 503 unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, status: 503, code: apierror.Unavailable},
		{name: "an answer later than the attempt timeout answers 503 unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leave only after the body
			<-r.Context().Done()
		}, timeout: 50 * time.Millisecond, status: 503, code: apierror.Unavailable},
		{name: "a request past its deadline answers 503 unavailable", handler: dynamoError(400, "ThrottlingException", ""), ctx: expired, status: 503, code: apierror.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := fakeDynamoDB(t, tt.handler)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			db := oneAttempt(endpoint, timeout)
			if tt.lambda {
				var err error
				if db, _, err = DynamoDB(context.Background(), endpoint); err != nil {
					t.Fatal(err)
				}
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			resp := putThrough(t, ctx, db)
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal([]byte(resp.Body), &body)
			if resp.StatusCode != tt.status || body.Error != tt.code {
				t.Errorf("answer: got %d %s, want %d %s (body %s)", resp.StatusCode, body.Error, tt.status, tt.code, resp.Body)
			}
			if resp.Headers["Retry-After"] == "" {
				t.Errorf("Retry-After: got none, want one on a %d", resp.StatusCode)
			}
		})
	}
}

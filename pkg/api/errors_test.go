package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/ingest"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestAsError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter int
		ours       bool
	}{
		{name: "an API error is answered as it is", err: &Error{Status: 405, Code: CodeMethodNotAllowed}, status: 405, code: CodeMethodNotAllowed, ours: true},
		{name: "a body that is not JSON is invalid_json", err: &jsonbody.Error{Msg: "bad"}, status: 400, code: CodeInvalidJSON, ours: true},
		{name: "a wrong field is invalid_event", err: &eventstore.FieldError{Field: "type", Message: "required"}, status: 400, code: CodeInvalidEvent, ours: true},
		{name: "an event too large is payload_too_large", err: &ingest.TooLargeError{Field: "events[0]", Size: 1 << 20}, status: 413, code: CodePayloadTooLarge, ours: true},
		{name: "a patch that would grow the event too much is payload_too_large", err: eventstore.ErrTooLarge, status: 413, code: CodePayloadTooLarge, ours: true},
		{name: "a change of an immutable field is immutable_field", err: &eventstore.ImmutableError{Field: "time"}, status: 400, code: CodeImmutableField, ours: true},
		{name: "a missing event is not_found", err: eventstore.ErrNotFound, status: 404, code: CodeNotFound, ours: true},
		{name: "a version mismatch is precondition_failed", err: eventstore.ErrVersionMismatch, status: 412, code: CodePrecondition, ours: true},
		{name: "an idempotency key reused with another body is conflict", err: eventstore.ErrIdempotencyConflict, status: 409, code: CodeConflict, ours: true},
		{name: "writers that kept colliding are conflict", err: fmt.Errorf("patch: %w", eventstore.ErrConflict), status: 409, code: CodeConflict, ours: true},
		{name: "throttled storage is 429 throttled with Retry-After", err: fmt.Errorf("get: %w", eventstore.ErrThrottled), status: 429, code: CodeThrottled, retryAfter: 1, ours: true},
		{name: "unavailable storage is 503 unavailable with Retry-After", err: fmt.Errorf("get: %w", eventstore.ErrUnavailable), status: 503, code: CodeUnavailable, retryAfter: 2, ours: true},
		{name: "a page-token key that cannot be loaded is 503 unavailable with Retry-After", err: fmt.Errorf("%w: %w", pagetoken.ErrKeyUnavailable, errors.New("connection refused")), status: 503, code: CodeUnavailable, retryAfter: 2, ours: true},
		{name: "a deadline reached is 503 unavailable with Retry-After", err: fmt.Errorf("query: %w", context.DeadlineExceeded), status: 503, code: CodeUnavailable, retryAfter: 2, ours: true},
		{name: "a cancelled request is 503 unavailable with Retry-After", err: context.Canceled, status: 503, code: CodeUnavailable, retryAfter: 2, ours: true},
		{name: "a retry of events deleted since is conflict", err: eventstore.ErrKeyedEventsDeleted, status: 409, code: CodeConflict, ours: true},
		{name: "counters being compacted is 503 unavailable with Retry-After", err: eventstore.ErrCompacting, status: 503, code: CodeUnavailable, retryAfter: 1, ours: true},
		{name: "a put that failed halfway is answered as its cause", err: &eventstore.PartialWriteError{StoredIDs: []string{"a"}, Err: fmt.Errorf("put: %w", eventstore.ErrUnavailable)}, status: 503, code: CodeUnavailable, retryAfter: 2, ours: true},
		{name: "anything else is 500 internal, and ours to log", err: errors.New("decode event item: boom"), status: 500, code: CodeInternal, ours: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ours := asError(tt.err)
			if e.Status != tt.status || e.Code != tt.code || e.RetryAfter != tt.retryAfter || ours != tt.ours {
				t.Errorf("asError(%v): got %d %s Retry-After %d ours %v, want %d %s Retry-After %d ours %v",
					tt.err, e.Status, e.Code, e.RetryAfter, ours, tt.status, tt.code, tt.retryAfter, tt.ours)
			}
			resp := errorResponse(e, "req-1")
			ra, has := resp.Headers["Retry-After"]
			if wantRA := tt.retryAfter > 0; has != wantRA || (wantRA && ra != fmt.Sprint(tt.retryAfter)) {
				t.Errorf("Retry-After header: got %q (present %v), want %d", ra, has, tt.retryAfter)
			}
			if e.Status == 500 && e.Message != internalErrorMessage {
				t.Errorf("500 message: got %q, want the generic one", e.Message)
			}
		})
	}
}

func TestAPutThatFailedHalfwayListsTheStoredIDs(t *testing.T) {
	ids := []string{"01KAPWAC2VKXMQJ7JPJJ1X3M7D", "01KAPWAC2VKXMQJ7JPJJ1X3M7E"}
	e, _ := asError(fmt.Errorf("put: %w", &eventstore.PartialWriteError{StoredIDs: ids, Err: eventstore.ErrThrottled}))
	var body struct {
		Error     string   `json:"error"`
		Message   string   `json:"message"`
		StoredIDs []string `json:"storedIds"`
	}
	if err := json.Unmarshal(errorResponse(e, "req-1").Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Error != CodeThrottled || !reflect.DeepEqual(body.StoredIDs, ids) || !strings.Contains(body.Message, "2 of the events were stored") {
		t.Fatalf("got %+v, want throttled with storedIds %v and a message saying 2 were stored", body, ids)
	}
	other, _ := asError(eventstore.ErrThrottled)
	if b := errorResponse(other, "req-1").Body; strings.Contains(string(b), "storedIds") {
		t.Fatalf("an answer without stored events carries storedIds: %s", b)
	}
}

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
	f, err := New(routes.PutEvent, Deps{Store: eventstore.New(db, "events", eventstore.Options{})})
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
	out, err := f.Invoke(ctx, payload)
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
		{name: "ThrottlingException answers 429 throttled", handler: dynamoError(400, "ThrottlingException", ""), status: 429, code: CodeThrottled},
		{name: "ProvisionedThroughputExceededException answers 429 throttled", handler: dynamoError(400, "ProvisionedThroughputExceededException", ""), status: 429, code: CodeThrottled},
		{name: "a transaction cancelled for throughput answers 429 throttled",
			handler: dynamoError(400, "TransactionCanceledException", `,"CancellationReasons":[{"Code":"None"},{"Code":"ProvisionedThroughputExceeded"},{"Code":"None"}]`),
			status:  429, code: CodeThrottled},
		{name: "throttling through the Lambda client's three attempts answers 429 throttled", handler: dynamoError(400, "ThrottlingException", ""), lambda: true, status: 429, code: CodeThrottled},
		{name: "InternalServerError answers 503 unavailable", handler: dynamoError(500, "InternalServerError", ""), status: 503, code: CodeUnavailable},
		{name: "a connection closed without an answer answers 503 unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, status: 503, code: CodeUnavailable},
		{name: "an answer later than the attempt timeout answers 503 unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leave only after the body
			<-r.Context().Done()
		}, timeout: 50 * time.Millisecond, status: 503, code: CodeUnavailable},
		{name: "a request past its deadline answers 503 unavailable", handler: dynamoError(400, "ThrottlingException", ""), ctx: expired, status: 503, code: CodeUnavailable},
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

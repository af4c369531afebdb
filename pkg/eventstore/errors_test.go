package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dynamoAnswer is a DynamoDB error answer in its JSON protocol.
func dynamoAnswer(status int, code, extra string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected"%s}`, code, extra)
	}
}

func cancelled(reasons ...string) http.HandlerFunc {
	list := ""
	for i, r := range reasons {
		if i > 0 {
			list += ","
		}
		list += `{"Code":"` + r + `"}`
	}
	return dynamoAnswer(http.StatusBadRequest, "TransactionCanceledException", `,"CancellationReasons":[`+list+`]`)
}

// sdkError makes one SDK call against a server that answers with h, and
// returns the SDK's error: the errors classify sees in Lambda.
func sdkError(t *testing.T, h http.HandlerFunc, opts func(*dynamodb.Options), ctx context.Context) error {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	return callAt(ctx, srv.URL, opts)
}

func callAt(ctx context.Context, endpoint string, opts func(*dynamodb.Options)) error {
	o := dynamodb.Options{
		BaseEndpoint:                    aws.String(endpoint),
		Region:                          "us-east-1",
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:                         aws.NopRetryer{},
		HTTPClient:                      &http.Client{Timeout: 10 * time.Second},
		DisableValidateResponseChecksum: true,
	}
	if opts != nil {
		opts(&o)
	}
	_, err := dynamodb.New(o).TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{{Put: &types.Put{
			TableName: aws.String("t"),
			Item:      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}},
		}}},
	})
	return err
}

func TestClassify(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	stopped, stop := context.WithCancel(context.Background())
	stop()
	standard := func(limit uint) func(*dynamodb.Options) {
		return func(o *dynamodb.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 2
				so.MaxBackoff = time.Millisecond
				so.RateLimiter = ratelimit.NewTokenRateLimit(limit)
			})
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		opts    func(*dynamodb.Options)
		ctx     context.Context
		want    error // nil: left as it is (the API answers 500)
	}{
		{name: "ThrottlingException is throttled", handler: dynamoAnswer(400, "ThrottlingException", ""), want: ErrThrottled},
		{name: "ProvisionedThroughputExceededException is throttled", handler: dynamoAnswer(400, "ProvisionedThroughputExceededException", ""), want: ErrThrottled},
		{name: "RequestLimitExceeded is throttled", handler: dynamoAnswer(400, "RequestLimitExceeded", ""), want: ErrThrottled},
		{name: "TransactionInProgressException is throttled, to be retried later", handler: dynamoAnswer(400, "TransactionInProgressException", ""), want: ErrThrottled},
		{name: "a transaction cancelled by a ThrottlingError reason is throttled", handler: cancelled("None", "ThrottlingError"), want: ErrThrottled},
		{name: "a transaction cancelled by a ProvisionedThroughputExceeded reason is throttled", handler: cancelled("ProvisionedThroughputExceeded", "None"), want: ErrThrottled},
		{name: "a transaction cancelled by a TransactionConflict reason is a conflict", handler: cancelled("None", "TransactionConflict"), want: ErrConflict},
		{name: "TransactionConflictException on a single write is a conflict", handler: dynamoAnswer(400, "TransactionConflictException", ""), want: ErrConflict},
		{name: "throttling that outlasts the SDK's attempts is throttled", handler: dynamoAnswer(400, "ThrottlingException", ""), opts: standard(1000), want: ErrThrottled},
		{name: "throttling once the SDK's retry quota is spent is throttled", handler: dynamoAnswer(400, "ThrottlingException", ""), opts: standard(1), want: ErrThrottled},
		{name: "InternalServerError is unavailable", handler: dynamoAnswer(500, "InternalServerError", ""), want: ErrUnavailable},
		{name: "ServiceUnavailable is unavailable", handler: dynamoAnswer(503, "ServiceUnavailable", ""), want: ErrUnavailable},
		{name: "an answer that is not DynamoDB's, with a 502, is unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}, want: ErrUnavailable},
		{name: "a connection closed without an answer is unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, want: ErrUnavailable},
		{name: "an answer that never comes within the attempt timeout is unavailable", handler: func(w http.ResponseWriter, r *http.Request) {
			// Read the request first: the server notices the client going
			// away only once the body is consumed.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}, opts: func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} }, want: ErrUnavailable},
		{name: "a request whose context deadline passed is unavailable", handler: dynamoAnswer(400, "ThrottlingException", ""), ctx: expired, want: ErrUnavailable},
		{name: "a request whose context was cancelled is unavailable", handler: dynamoAnswer(400, "ThrottlingException", ""), ctx: stopped, want: ErrUnavailable},
		{name: "ConditionalCheckFailedException is left to the caller", handler: dynamoAnswer(400, "ConditionalCheckFailedException", ""), want: nil},
		{name: "a transaction cancelled by a failed condition is left to the caller", handler: cancelled("ConditionalCheckFailed"), want: nil},
		{name: "ValidationException is left as it is: a bug of ours", handler: dynamoAnswer(400, "ValidationException", ""), want: nil},
		{name: "ResourceNotFoundException is left as it is: a missing table is a deployment bug", handler: dynamoAnswer(400, "ResourceNotFoundException", ""), want: nil},
	}
	sentinels := []error{ErrThrottled, ErrUnavailable, ErrConflict}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			sdkErr := sdkError(t, tt.handler, tt.opts, ctx)
			if sdkErr == nil {
				t.Fatal("SDK call: got no error, want one")
			}
			got := classify(sdkErr)
			var matched error
			for _, s := range sentinels {
				if errors.Is(got, s) {
					matched = s
				}
			}
			if matched != tt.want {
				t.Errorf("classify(%v): got sentinel %v, want %v", sdkErr, matched, tt.want)
			}
			if !errors.Is(got, sdkErr) && got != sdkErr {
				t.Errorf("classify: got %v, want it to wrap the SDK's error for the logs", got)
			}
		})
	}
}

func TestClassifyConnectionRefused(t *testing.T) {
	t.Run("a DynamoDB that is not listening is unavailable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := "http://" + ln.Addr().String()
		ln.Close()
		got := classify(callAt(context.Background(), addr, nil))
		if !errors.Is(got, ErrUnavailable) {
			t.Errorf("classify: got %v, want ErrUnavailable", got)
		}
	})
	t.Run("no error stays no error", func(t *testing.T) {
		if got := classify(nil); got != nil {
			t.Errorf("classify(nil): got %v, want nil", got)
		}
	})
}

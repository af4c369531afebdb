package faultproxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// backend stands in for DynamoDB: it counts the requests that reach it and
// answers every one as a successful PutItem.
type backend struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// client is an SDK client of the proxy that makes one attempt per call, so
// that each call is one request through the proxy.
func client(endpoint string, timeout time.Duration) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint:                    aws.String(endpoint),
		Region:                          "us-east-1",
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:                         aws.NopRetryer{},
		HTTPClient:                      &http.Client{Timeout: timeout},
		DisableValidateResponseChecksum: true,
	})
}

func putItem(ctx context.Context, c *dynamodb.Client) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("t"),
		Item:      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}},
	})
	return err
}

func isThrottle(err error) bool {
	var te *types.ThrottlingException
	var pe *types.ProvisionedThroughputExceededException
	return errors.As(err, &te) || errors.As(err, &pe)
}

func isInternal(err error) bool {
	var ie *types.InternalServerError
	return errors.As(err, &ie)
}

// isTransport: the call failed without an answer from DynamoDB.
func isTransport(err error) bool {
	var ae smithy.APIError
	return err != nil && !errors.As(err, &ae)
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		timeout time.Duration
		// reached is how many requests DynamoDB sees.
		reached int64
		errOK   func(error) bool
		errWant string
		counted func(Counts) int64
	}{
		{
			name: "a request without faults reaches DynamoDB and gets its answer", reached: 1,
			errOK: func(err error) bool { return err == nil }, errWant: "no error",
			counted: func(c Counts) int64 { return 1 - c.Injected() },
		},
		{
			name: "a throttled request never reaches DynamoDB and the SDK reads a throttling error", faults: Faults{Throttle: 1},
			errOK: isThrottle, errWant: "ThrottlingException or ProvisionedThroughputExceededException",
			counted: func(c Counts) int64 { return c.Throttled },
		},
		{
			name: "a server error never reaches DynamoDB and the SDK reads InternalServerError", faults: Faults{ServerError: 1},
			errOK: isInternal, errWant: "InternalServerError",
			counted: func(c Counts) int64 { return c.ServerErrors },
		},
		{
			name: "a connection dropped before forwarding never reaches DynamoDB", faults: Faults{DropBefore: 1},
			errOK: isTransport, errWant: "a transport error",
			counted: func(c Counts) int64 { return c.DroppedBefore },
		},
		{
			name: "a connection dropped after forwarding reached DynamoDB but the client gets no answer", faults: Faults{DropAfter: 1}, reached: 1,
			errOK: isTransport, errWant: "a transport error",
			counted: func(c Counts) int64 { return c.DroppedAfter },
		},
		{
			name: "a delayed request reaches DynamoDB and gets its answer", faults: Faults{Delay: 1, MaxDelay: time.Millisecond}, reached: 1,
			errOK: func(err error) bool { return err == nil }, errWant: "no error",
			counted: func(c Counts) int64 { return c.Delayed },
		},
		{
			name: "a hung request never reaches DynamoDB and the client times out", faults: Faults{Hang: 1},
			timeout: 200 * time.Millisecond,
			errOK:   isTransport, errWant: "a timeout",
			counted: func(c Counts) int64 { return c.Hung },
		},
		{
			name: "a stall past the client's timeout reached DynamoDB but the client times out", faults: Faults{Stall: 1, StallFor: time.Minute},
			timeout: 200 * time.Millisecond, reached: 1,
			errOK: isTransport, errWant: "a timeout",
			counted: func(c Counts) int64 { return c.Stalled },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t)
			p, err := Start(b.srv.URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			p.Set(tt.faults)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			err = putItem(context.Background(), client(p.URL(), timeout))
			if !tt.errOK(err) {
				t.Errorf("PutItem: got error %v, want %s", err, tt.errWant)
			}
			if got := b.hits.Load(); got != tt.reached {
				t.Errorf("requests that reached DynamoDB: got %d, want %d", got, tt.reached)
			}
			if got := tt.counted(p.Counts()); got != 1 {
				t.Errorf("faults counted: got %d, want 1 (counts %+v)", got, p.Counts())
			}
		})
	}
}

func TestThrottlesUseBothCodes(t *testing.T) {
	b := newBackend(t)
	p, err := Start(b.srv.URL, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Set(Faults{Throttle: 1})
	c := client(p.URL(), 10*time.Second)
	seen := map[string]int{}
	for range 32 {
		var ae smithy.APIError
		if err := putItem(context.Background(), c); errors.As(err, &ae) {
			seen[ae.ErrorCode()]++
		}
	}
	for _, code := range throttleCodes {
		if seen[code] == 0 {
			t.Errorf("throttling answers with %s: got 0 of 32 (seen %v), want some", code, seen)
		}
	}
}

func TestDown(t *testing.T) {
	t.Run("a proxy set down closes connections without forwarding until set up again", func(t *testing.T) {
		b := newBackend(t)
		p, err := Start(b.srv.URL, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		c := client(p.URL(), 10*time.Second)
		p.SetDown(true)
		if err := putItem(context.Background(), c); !isTransport(err) {
			t.Errorf("PutItem while down: got error %v, want a transport error", err)
		}
		p.SetDown(false)
		if err := putItem(context.Background(), c); err != nil {
			t.Errorf("PutItem once up: got error %v, want none", err)
		}
		if got := b.hits.Load(); got != 1 {
			t.Errorf("requests that reached DynamoDB: got %d, want 1", got)
		}
		if got := p.Counts().Unreachable; got != 1 {
			t.Errorf("unreachable: got %d, want 1", got)
		}
	})
}

func TestUnreachableTarget(t *testing.T) {
	t.Run("a request while DynamoDB is down fails at the client and counts as unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := "http://" + ln.Addr().String()
		ln.Close() // nothing listens there now
		p, err := Start(down, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		err = putItem(context.Background(), client(p.URL(), 10*time.Second))
		if !isTransport(err) {
			t.Errorf("PutItem: got error %v, want a transport error", err)
		}
		if got := p.Counts().Unreachable; got != 1 {
			t.Errorf("unreachable: got %d, want 1", got)
		}
	})
}

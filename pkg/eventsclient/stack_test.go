package eventsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

var allScopes = stacktest.AllScopes

// stack is the local API (stacktest) with the helpers these tests use.
type stack struct {
	*stacktest.Stack
	t   *testing.T
	url string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st := stacktest.New(t)
	return &stack{Stack: st, t: t, url: st.URL}
}

func (s *stack) mint(scopes ...string) string {
	s.t.Helper()
	return s.Mint(s.t, scopes, nil)
}

// client returns a client of url (the stack's, or a server in front of
// it) with every scope, whose waits between attempts are recorded rather
// than slept.
func (s *stack) client(url string, opts ...Option) (*Client, *sleeps) {
	s.t.Helper()
	return newTestClient(s.t, url, StaticToken(s.mint(allScopes...)), opts...)
}

func newTestClient(t *testing.T, url string, tokens TokenSource, opts ...Option) (*Client, *sleeps) {
	t.Helper()
	c, err := New(url, tokens, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", url, err)
	}
	z := &sleeps{}
	c.sleep = z.sleep
	return c, z
}

// sleeps records the waits a client would make.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (z *sleeps) sleep(_ context.Context, d time.Duration) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.d = append(z.d, d)
	return nil
}

func (z *sleeps) waits() []time.Duration {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]time.Duration(nil), z.d...)
}

// recordingLambda is the SDK's Lambda client calling the local Lambda
// service's Invoke API (the put-event bootstrap under lambdalocal), with
// the payloads it sent recorded.
type recordingLambda struct {
	client *lambda.Client

	mu       sync.Mutex
	payloads [][]byte
}

func (s *stack) lambda() *recordingLambda {
	srv := httptest.NewServer(s.Lambda.Handler())
	s.t.Cleanup(srv.Close)
	return &recordingLambda{client: lambda.New(lambda.Options{
		Region:       devstack.Region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})}
}

func (l *recordingLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	l.mu.Lock()
	l.payloads = append(l.payloads, in.Payload)
	l.mu.Unlock()
	return l.client.Invoke(ctx, in, opts...)
}

func (l *recordingLambda) sent() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.payloads...)
}

// counter is a RoundTripper that counts the requests it sends.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// Package e2e tests the API end to end: HTTP requests through the local
// gateway, the five functions in-process, and DynamoDB Local.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal"
	"github.com/fleetlog/device-events/infra/local/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/pkg/api"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

var allScopes = []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}

// stack is one local API over a fresh table.
type stack struct {
	t      *testing.T
	url    string
	client *dynamodb.Client
	table  string
	auth   *gateway.Auth
	fns    map[string]*api.Function
	token  string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	client := ddbtest.Client(t)
	table := ddbtest.Table(t, client, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	signer, _ := pagetoken.NewSigner(bytes.Repeat([]byte{7}, 32))
	deps := api.Deps{
		// DynamoDB Local runs TTL for real, and the tests use fixed dates.
		Store:      eventstore.New(client, table, eventstore.Options{Retention: -1}),
		PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil },
	}
	s := &stack{t: t, client: client, table: table, fns: map[string]*api.Function{}}
	var fns []*api.Function
	for _, name := range routes.Functions {
		f, err := api.New(name, deps)
		if err != nil {
			t.Fatalf("api.New(%s): %v", name, err)
		}
		s.fns[name] = f
		fns = append(fns, f)
	}
	s.auth, _ = gateway.NewAuth(bytes.Repeat([]byte{9}, 32))
	srv := httptest.NewServer(gateway.New(fns, s.auth, nil))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.token = s.mint(allScopes, nil)
	return s
}

func (s *stack) mint(scopes []string, devices []string) string {
	s.t.Helper()
	tok, err := s.auth.Mint(gateway.TokenClaims{Subject: "tester", Scopes: scopes, Devices: devices, TTL: time.Hour})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// reply is an HTTP answer with its body decoded when it is JSON.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

type option func(*http.Request)

func header(k, v string) option { return func(r *http.Request) { r.Header.Set(k, v) } }
func bearer(tok string) option  { return header("Authorization", "Bearer "+tok) }
func noToken() option           { return func(r *http.Request) { r.Header.Del("Authorization") } }

// do sends a request with the all-scopes token unless an option changes it.
// body is sent as is when it is a string or []byte, else as JSON.
func (s *stack) do(method, path string, body any, opts ...option) reply {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&r.body); err != nil {
			s.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return r
}

// want fails the test unless the reply has the status (and, for errors, the
// contract's error code).
func (r reply) want(t *testing.T, status int, code ...string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(code) > 0 && r.body["error"] != code[0] {
		t.Fatalf("error = %v, want %s; body %s", r.body["error"], code[0], r.raw)
	}
	if status >= 400 {
		if r.body["message"] == nil || r.body["requestId"] == nil {
			t.Fatalf("error body lacks message or requestId: %s", r.raw)
		}
	}
	return r
}

func (r reply) events(t *testing.T) []map[string]any {
	t.Helper()
	list, ok := r.body["events"].([]any)
	if !ok {
		t.Fatalf("no events list in %s", r.raw)
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		out[i] = e.(map[string]any)
	}
	return out
}

func (s *stack) put(device string, body any, opts ...option) map[string]any {
	s.t.Helper()
	evs := s.do("POST", "/devices/"+device+"/events", body, opts...).want(s.t, 201).events(s.t)
	return evs[0]
}

// scan counts the items in the table, for checking that a refused request
// wrote nothing.
func (s *stack) scan() []map[string]any {
	s.t.Helper()
	out, err := s.client.Scan(context.Background(), &dynamodb.ScanInput{TableName: &s.table, ConsistentRead: ptr(true)})
	if err != nil {
		s.t.Fatal(err)
	}
	items := make([]map[string]any, len(out.Items))
	for i, it := range out.Items {
		items[i] = map[string]any{}
		for k, v := range it {
			items[i][k] = v
		}
	}
	return items
}

func ptr[T any](v T) *T { return &v }

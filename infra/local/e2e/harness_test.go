// Package e2e tests the API end to end: HTTP requests through the local
// gateways (the events API, the key API, the registry's), the functions'
// bootstraps under the Lambda stand-in, and DynamoDB Local.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

var allScopes = stacktest.AllScopes

// stack is one local API over a fresh table, with helpers to call it. Every
// exchange is checked against the OpenAPI document: the answer always, the
// request whenever the API accepted it.
type stack struct {
	*stacktest.Stack
	t     *testing.T
	url   string
	token string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	o := stacktest.Options{}
	// A mutation run (TestTheSuiteFailsWithoutAPermission) takes one
	// permission away from every stack.
	if deny := os.Getenv(denyEnv); deny != "" {
		fn, action, _ := strings.Cut(deny, "=")
		o.Permissions = maps.Clone(routes.Permissions)
		o.Permissions[fn] = without(o.Permissions[fn], action)
	}
	return newStackWith(t, o)
}

func newStackWith(t *testing.T, o stacktest.Options) *stack {
	t.Helper()
	st := stacktest.NewWith(t, o)
	return &stack{Stack: st, t: t, url: st.URL, token: st.Token}
}

func (s *stack) mint(scopes []string, devices []string) string {
	s.t.Helper()
	return s.Mint(s.t, scopes, devices)
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

// onKeys sends the request to the key API, without the bearer token; the
// options after it give the key.
func (s *stack) onKeys() option {
	return func(r *http.Request) {
		u, err := url.Parse(s.KeysURL)
		if err != nil {
			s.t.Fatal(err)
		}
		r.URL.Host = u.Host
		r.Header.Del("Authorization")
	}
}

// The forms a device sends its key in.
func xAPIKey(key string) option { return header("X-Api-Key", key) }
func rawKey(key string) option  { return header("Authorization", key) }
func basic(user, pass string) option {
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

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
	return send(s.t, openapi.Events, req, false)
}

// want fails the test unless the reply has the status and, for errors, the
// contract's error code, or for API Gateway's own answers (apigw(...)) its
// {"message"} body.
func (r reply) want(t *testing.T, status int, code ...string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(code) > 0 {
		if msg, ok := strings.CutPrefix(code[0], apigwPrefix); ok {
			if len(r.body) != 1 || r.body["message"] != msg {
				t.Fatalf("body = %s, want API Gateway's {\"message\":%q}", r.raw, msg)
			}
			return r
		}
		if r.body["error"] != code[0] {
			t.Fatalf("error = %v, want %s; body %s", r.body["error"], code[0], r.raw)
		}
	}
	if status >= 400 {
		if r.body["message"] == nil || r.body["requestId"] == nil {
			t.Fatalf("error body lacks message or requestId: %s", r.raw)
		}
	}
	return r
}

const apigwPrefix = "apigw:"

// apigw names an answer of API Gateway itself, whose body is
// {"message": msg}: its authorizer's 401 and 403, unknown routes, its
// payload limit, a failed integration.
func apigw(msg string) string { return apigwPrefix + msg }

// validators are the OpenAPI documents' validators, made once each.
var validators sync.Map // *openapi.Spec -> func() (*openapi.Validator, error)

// send sends req and fails the test when the exchange is not what spec's
// document says: any answer it does not describe, and any request the API
// accepted that the document would refuse. A JSON answer must be an
// object, which becomes the reply's body, unless keepRaw.
func send(t *testing.T, spec *openapi.Spec, req *http.Request, keepRaw bool) reply {
	t.Helper()
	var sent []byte
	if req.Body != nil {
		sent, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	load, _ := validators.LoadOrStore(spec, sync.OnceValues(spec.NewValidator))
	v, err := load.(func() (*openapi.Validator, error))()
	if err != nil {
		t.Fatalf("OpenAPI validator: %v", err)
	}
	check, _ := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(sent))
	check.Header = req.Header.Clone()
	if err := v.Response(check, r.status, r.header, raw); err != nil {
		t.Errorf("%s %s: the answer does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path, err, raw)
	}
	if r.status < 300 {
		if err := v.Request(check, sent); err != nil {
			t.Errorf("%s %s: the API accepted a request the OpenAPI document refuses: %v", req.Method, req.URL.Path, err)
		}
	}
	if !keepRaw && strings.Contains(res.Header.Get("Content-Type"), "json") {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %s", req.Method, req.URL.Path, raw)
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
	out, err := s.Client.Scan(context.Background(), &dynamodb.ScanInput{TableName: &s.Table, ConsistentRead: ptr(true)})
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

package openapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestTheDocumentLoadsAndValidates(t *testing.T) {
	doc, err := Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	var served map[string]any
	if err := json.Unmarshal(Document(), &served); err != nil {
		t.Fatalf("Document() is not JSON: %v", err)
	}
	if served["openapi"] != doc.OpenAPI || served["paths"] == nil {
		t.Errorf("Document() has openapi %v and paths %v, want the loaded document's", served["openapi"], served["paths"] != nil)
	}
}

// unsecured are the paths the local gateway serves without a token, outside
// the route table.
var unsecured = []string{"/healthz", "/openapi.json"}

// keySchemes are the security schemes of a device API key, one
// alternative each, on the key API's routes.
var keySchemes = []string{"apiKeyHeader", "basicKey", "rawKey", "bearerKey"}

// wantSecurity is the security an operation of the route key documents:
// on the events API a JWT with the route's scope, on the key API a key in
// any of its forms with that scope, on the registry's API none.
func wantSecurity(key string) []map[string][]string {
	var want []map[string][]string
	if r, ok := routes.ByKey(routes.Events, key); ok {
		want = append(want, map[string][]string{"jwt": {r.Scope}})
	}
	if r, ok := routes.ByKey(routes.Keys, key); ok {
		for _, scheme := range keySchemes {
			want = append(want, map[string][]string{scheme: {r.Scope}})
		}
	}
	return want
}

func TestTheDocumentsAgreeWithTheRouteTable(t *testing.T) {
	for _, api := range routes.APIs {
		spec := For(api)
		doc, err := spec.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Run(string(api)+": every route is an operation with the route's security", func(t *testing.T) {
			for _, r := range routes.ForAPI(api) {
				if r.Dialect != "" {
					continue // in its dialect's document
				}
				item := doc.Paths.Value(r.Path)
				if item == nil {
					t.Errorf("%s: no path %s in %s", r.Key(), r.Path, spec.name)
					continue
				}
				op := item.GetOperation(r.Method)
				if op == nil {
					t.Errorf("%s: no %s operation on %s", r.Key(), r.Method, r.Path)
					continue
				}
				if api == routes.Registry {
					// No token: the network or IAM authorizes its callers.
					if op.Security != nil && len(*op.Security) != 0 || len(doc.Security) != 0 {
						t.Errorf("%s: security = %v, want none", r.Key(), op.Security)
					}
					continue
				}
				var got []map[string][]string
				if op.Security != nil {
					for _, req := range *op.Security {
						got = append(got, map[string][]string(req))
					}
				}
				if want := wantSecurity(r.Key()); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: security = %v, want %v", r.Key(), got, want)
				}
			}
		})
		t.Run(string(api)+": every route's Op is its operation's operationId", func(t *testing.T) {
			for _, r := range routes.ForAPI(api) {
				if r.Dialect != "" {
					continue // in its dialect's document
				}
				item := doc.Paths.Value(r.Path)
				if item == nil || item.GetOperation(r.Method) == nil {
					continue // reported above
				}
				if got := item.GetOperation(r.Method).OperationID; got != string(r.Op) {
					t.Errorf("%s: operationId %q, want the route's Op %q", r.Key(), got, r.Op)
				}
			}
		})
		t.Run(string(api)+": every operation is a route of an API the document is of, or a path served without a token", func(t *testing.T) {
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					if slices.Contains(unsecured, path) {
						if op.Security == nil || len(*op.Security) != 0 {
							t.Errorf("%s %s: security = %v, want none (security: [])", method, path, op.Security)
						}
						continue
					}
					found := false
					for _, a := range routes.APIs {
						r, ok := routes.ByKey(a, method+" "+path)
						found = found || (ok && r.Dialect == "" && For(a) == spec)
					}
					if !found {
						t.Errorf("%s %s is in %s but not among the routes of the APIs it documents", method, path, spec.name)
					}
				}
			}
		})
	}
	for _, d := range routes.Dialects {
		rs := routes.ForDialect(d)
		if len(rs) == 0 {
			continue
		}
		t.Run(string(d)+": the dialect's document has every route of the dialect, and only them", func(t *testing.T) {
			spec := ForDialect(d)
			if spec == nil {
				t.Fatalf("no pkg/openapi/dialects/%s.yaml for its %d routes", d, len(rs))
			}
			doc, err := spec.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if _, ok := routes.ByKey(routes.Keys, r.Key()); !ok {
					t.Errorf("%s: on API %s, not on the key API", r.Key(), r.API)
				}
				item := doc.Paths.Value(r.Path)
				if item == nil || item.GetOperation(r.Method) == nil {
					t.Errorf("%s: no operation in %s", r.Key(), spec.name)
					continue
				}
				op := item.GetOperation(r.Method)
				if op.OperationID != string(r.Op) {
					t.Errorf("%s: operationId %q, want the route's Op %q", r.Key(), op.OperationID, r.Op)
				}
				if !slices.Contains(op.Tags, string(d)) {
					t.Errorf("%s: tags %v, want the dialect's tag %s", r.Key(), op.Tags, d)
				}
				// On the events API, its JWTs with the route's scope.
				if r.API == routes.Events && (op.Security == nil || !slices.ContainsFunc(*op.Security, func(req openapi3.SecurityRequirement) bool {
					return slices.Equal(req["jwt"], []string{r.Scope})
				})) {
					t.Errorf("%s: on the events API, but its security has no jwt requirement of %s", r.Key(), r.Scope)
				}
			}
			for path, item := range doc.Paths.Map() {
				for method := range item.Operations() {
					if r, ok := routes.ByKey(routes.Keys, method+" "+path); !ok || r.Dialect != d {
						t.Errorf("%s %s is in %s but is not a route of %s", method, path, spec.name, d)
					}
				}
			}
		})
	}
	t.Run("the error codes of the Error schema are the service's", func(t *testing.T) {
		doc, err := Events.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var documented []string
		for _, v := range doc.Components.Schemas["Error"].Value.Properties["error"].Value.Enum {
			documented = append(documented, fmt.Sprint(v))
		}
		// A direct invoke's errorType only; no HTTP answer carries it.
		want := slices.DeleteFunc(apierror.Codes(), func(c string) bool { return c == apierror.UnsupportedPayload })
		slices.Sort(documented)
		slices.Sort(want)
		if !slices.Equal(documented, want) {
			t.Errorf("the Error schema's codes are %v, want apierror's %v", documented, want)
		}
	})
	t.Run("every scope an events route needs is declared by the security scheme", func(t *testing.T) {
		doc, err := Events.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		scheme := doc.Components.SecuritySchemes["jwt"].Value
		for _, r := range routes.ForAPI(routes.Events) {
			if _, ok := scheme.Flows.ClientCredentials.Scopes[r.Scope]; !ok {
				t.Errorf("scope %s of %s is not declared", r.Scope, r.Key())
			}
		}
	})
	t.Run("the key schemes are the key API's four forms", func(t *testing.T) {
		doc, err := Events.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"apiKeyHeader": "apiKey header X-Api-Key", "basicKey": "http basic ", "rawKey": "apiKey header Authorization", "bearerKey": "http bearer "} {
			ref := doc.Components.SecuritySchemes[name]
			if ref == nil {
				t.Errorf("no scheme %s", name)
				continue
			}
			if got := ref.Value.Type + " " + ref.Value.Scheme + ref.Value.In + " " + ref.Value.Name; got != want {
				t.Errorf("scheme %s: got %q, want %q", name, got, want)
			}
		}
	})
}

func newValidator(t *testing.T) *Validator {
	t.Helper()
	v, err := NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

func request(t *testing.T, method, target, contentType string, headers ...string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

func TestTheValidatorJudgesRequests(t *testing.T) {
	v := newValidator(t)
	const event = "/devices/robot-7/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	cases := []struct {
		name         string
		req          *http.Request
		body         string
		wantErr      bool
		undocumented bool
	}{
		{"a native event is valid", request(t, "POST", "/devices/robot-7/events", "application/json"), `{"type":"door_opened","severity":"warning","time":1763806530,"data":{"a":1}}`, false, false},
		{"a DeLaval body is valid", request(t, "POST", "/devices/gg-1/events", "application/json"), `{"deviceid":"gg-1","status":"Failed","description":"d","function":"get-greengrass-configurations"}`, false, false},
		{"a Salt job return with extra fields is valid", request(t, "POST", "/devices/gw-1/events", "application/json"), `{"fun":"state.apply","jid":"1","return":{},"retcode":0,"success":true,"fun_args":[],"_stamp":"2026-11-22T10:15:30.123456","cmd":"_return"}`, false, false},
		{"a batch array is valid", request(t, "POST", "/devices/d/events", "application/json"), `[{"type":"a"},{"function":"f"}]`, false, false},
		{"a batch object is valid", request(t, "POST", "/devices/d/events", "application/json", "Idempotency-Key", "k-1"), `{"events":[{"type":"a"}]}`, false, false},
		{"an empty batch is invalid", request(t, "POST", "/devices/d/events", "application/json"), `[]`, true, false},
		{"a native event with an unknown field is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"t","colour":"red"}`, true, false},
		{"a native event without type is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"severity":"info"}`, true, false},
		{"an unknown severity is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"t","severity":"fatal"}`, true, false},
		{"a time that is neither ISO nor Unix is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"t","time":"soon"}`, true, false},
		{"an Idempotency-Key with a space is invalid", request(t, "POST", "/devices/d/events", "application/json", "Idempotency-Key", "a b"), `{"type":"t"}`, true, false},
		{"XML is invalid", request(t, "POST", "/devices/d/events", "application/xml"), `<event/>`, true, false},
		{"JSON labelled text/plain is valid", request(t, "POST", "/devices/d/events", "text/plain"), `{"type":"t"}`, false, false},
		{"a Unix time with a fraction is valid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"t","time":1795342530.123}`, false, false},
		{"a Salt job return without jid or return is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"fun":"state.apply","retcode":0}`, true, false},
		{"a Salt job return with return and no jid is valid", request(t, "POST", "/devices/d/events", "application/json"), `{"fun":"state.apply","return":{}}`, false, false},
		{"the registry's Salt job result is valid", request(t, "POST", "/devices/d/events", "application/json"), `{"function":"test.ping","state":{"jid":"1","success":true}}`, false, false},
		{"a batch object of the registry's Salt job results is valid", request(t, "POST", "/devices/d/events", "application/json"), `{"events":[{"function":"test.ping","state":{}},{"type":"t"}]}`, false, false},
		{"a bad device id is invalid", request(t, "GET", "/devices/bad%20id/events", ""), "", true, false},
		{"a listing with every filter is valid", request(t, "GET", "/devices/d/events?type=a,b&from=2026-11-22T10:15:30Z&to=1763906530.5&status=Open&severity=info,error&state=new&order=asc&limit=1000&pageToken=x&timeFormat=unix", ""), "", false, false},
		{"an offset whose + arrived as a space is valid", request(t, "GET", "/devices/d/events?from=2026-11-22T10:15:30+01:00", ""), "", false, false},
		{"an offset of +23:59 is valid", request(t, "GET", "/devices/d/events?from=2026-11-22T10:15:30%2B23:59", ""), "", false, false},
		{"an offset of +24:00 is invalid", request(t, "GET", "/devices/d/events?from=2026-11-22T10:15:30%2B24:00", ""), "", true, false},
		{"an offset of -05:60 is invalid", request(t, "GET", "/devices/d/events?to=2026-11-22T10:15:30-05:60", ""), "", true, false},
		{"a type with a zero-width space in the query is invalid", request(t, "GET", "/devices/d/events?type=door%E2%80%8B", ""), "", true, false},
		{"a type with a comma in the body is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"door,window"}`, true, false},
		{"a type with a bidi override in the body is invalid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"\u202edoor"}`, true, false},
		{"a type in Japanese is valid", request(t, "POST", "/devices/d/events", "application/json"), `{"type":"扉が開いた"}`, false, false},
		{"limit 0 is invalid", request(t, "GET", "/devices/d/events?limit=0", ""), "", true, false},
		{"limit 1001 is invalid", request(t, "GET", "/devices/d/events?limit=1001", ""), "", true, false},
		{"eleven types are invalid", request(t, "GET", "/devices/d/events?type=a,b,c,d,e,f,g,h,i,j,k", ""), "", true, false},
		{"a from that is not a time is invalid", request(t, "GET", "/devices/d/events?from=yesterday", ""), "", true, false},
		// Without type and without an alarm severity, the fleet list is 400 by
		// the handler; OpenAPI cannot make one parameter depend on another.
		{"the fleet's alarms without type are valid", request(t, "GET", "/events?severity=warning,error,critical&state=new", ""), "", false, false},
		{"the fleet list with an unknown severity is invalid", request(t, "GET", "/events?severity=fatal", ""), "", true, false},
		{"aggregates without interval are invalid", request(t, "GET", "/devices/d/aggregates", ""), "", true, false},
		{"fleet aggregates with type and interval are valid", request(t, "GET", "/aggregates?type=t&interval=day&tz=Europe/Stockholm", ""), "", false, false},
		{"a merge patch is valid", request(t, "PATCH", event, "application/merge-patch+json", "If-Match", `"3"`), `{"state":"acknowledged","comment":"on it","data":{"gone":null},"text":null}`, false, false},
		{"a patch of an unknown field is invalid", request(t, "PATCH", event, "application/json"), `{"colour":"red"}`, true, false},
		{"an If-Match that is not a version is invalid", request(t, "DELETE", event, "", "If-Match", "soon"), "", true, false},
		{"a bulk delete dry run is valid", request(t, "DELETE", "/devices/d/events?all=true&dryRun=true", ""), "", false, false},
		{"a bulk delete with all=yes is invalid", request(t, "DELETE", "/devices/d/events?all=yes", ""), "", true, false},
		{"a new key is valid", request(t, "POST", "/apikeys", "application/json"), `{"name":"door sensor","scopes":["events/read","events/write"],"devices":["d1"],"expiresAt":"2027-01-01T00:00:00Z"}`, false, false},
		{"a new key expiring at a Unix time is valid", request(t, "POST", "/apikeys", "application/json"), `{"name":"n","scopes":["events/read"],"expiresAt":1798761600}`, false, false},
		{"a new key with the admin scope is invalid", request(t, "POST", "/apikeys", "application/json"), `{"name":"n","scopes":["events/admin"]}`, true, false},
		{"a new key for no device is invalid", request(t, "POST", "/apikeys", "application/json"), `{"name":"n","scopes":["events/read"],"devices":[]}`, true, false},
		{"a key id of another form is invalid", request(t, "DELETE", "/apikeys/ABC", ""), "", true, false},
		{"a method the path lacks is undocumented", request(t, "PUT", "/devices/d/events", "application/json"), `{}`, true, true},
		{"an unknown path is undocumented", request(t, "GET", "/nothing/here", ""), "", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Request(tc.req, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Request error = %v, want an error: %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Status != 0 || ve.Method != tc.req.Method {
				t.Errorf("error = %#v, want a *ValidationError of the request", err)
			}
			if got := errors.Is(err, ErrUndocumented); got != tc.undocumented {
				t.Errorf("errors.Is(err, ErrUndocumented) = %v, want %v (%v)", got, tc.undocumented, err)
			}
			if strings.Contains(err.Error(), "Schema:\n") {
				t.Errorf("error dumps the schema: %v", err)
			}
		})
	}
}

func TestTheValidatorLeavesTheRequestAsItWas(t *testing.T) {
	v := newValidator(t)
	req := httptest.NewRequest("GET", "/devices/d/events?type=a", strings.NewReader("unread"))
	if err := v.Request(req, nil); err != nil {
		t.Fatal(err)
	}
	if q := req.URL.RawQuery; q != "type=a" {
		t.Errorf("query = %q after validation, want type=a (no defaults added)", q)
	}
	buf := make([]byte, 6)
	if n, _ := req.Body.Read(buf); string(buf[:n]) != "unread" {
		t.Errorf("body = %q after validation, want it unread", buf[:n])
	}
}

func TestOneValidatorServesConcurrentRequests(t *testing.T) {
	v := newValidator(t)
	for i := range 8 {
		t.Run("request "+string(rune('a'+i)), func(t *testing.T) {
			t.Parallel()
			req := request(t, "POST", "/devices/d-"+string(rune('a'+i))+"/events", "application/json")
			if err := v.Request(req, []byte(`{"type":"t","idempotencyKey":"k"}`)); err != nil {
				t.Errorf("Request: %v, want nil", err)
			}
			h := http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}}
			if err := v.Response(req, 429, h, []byte(`{"error":"throttled","message":"m","requestId":"r"}`)); err != nil {
				t.Errorf("Response: %v, want nil", err)
			}
		})
	}
}

func TestTheValidatorCatchesAnswersThatDriftFromTheDocument(t *testing.T) {
	v := newValidator(t)
	const path = "/devices/d/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	ev := `{"id":"01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T","self":"` + path + `","deviceId":"d","type":"t","time":"2026-11-22T10:15:30.123Z","creationTime":1795342530123,"lastUpdated":"2026-11-22T10:15:30.456Z","severity":"info","state":"new","updates":[],"version":1}`
	errBody := `{"error":"unavailable","message":"storage is unavailable; retry later","requestId":"r"}`
	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name    string
		method  string
		path    string
		status  int
		header  http.Header
		body    string
		wantErr bool
	}{
		{"an event with its ETag matches", "GET", path, 200, jsonHeader("ETag", `"1"`), ev, false},
		{"an event without an ETag does not", "GET", path, 200, jsonHeader(), ev, true},
		{"an event without a version does not", "GET", path, 200, jsonHeader("ETag", `"1"`), strings.Replace(ev, `,"version":1`, "", 1), true},
		{"an event of an unknown severity does not", "GET", path, 200, jsonHeader("ETag", `"1"`), strings.Replace(ev, `"info"`, `"fatal"`, 1), true},
		{"a status the operation does not list does not", "GET", path, 418, jsonHeader(), errBody, true},
		{"a 503 with Retry-After matches", "GET", path, 503, jsonHeader("Retry-After", "2"), errBody, false},
		{"API Gateway's 503 without Retry-After matches", "GET", path, 503, jsonHeader(), `{"message":"Service Unavailable"}`, false},
		{"API Gateway's answer with a message of its own does not", "GET", path, 503, jsonHeader(), `{"message":"storage is down"}`, true},
		{"API Gateway's answer with more than a message does not", "GET", path, 503, jsonHeader(), `{"message":"Service Unavailable","requestId":"r"}`, true},
		{"an error of ours at a status only ours answer matches", "PATCH", path, 412, jsonHeader(), `{"error":"precondition_failed","message":"m","requestId":"r"}`, false},
		{"API Gateway's shape at a status only ours answer does not", "PATCH", path, 412, jsonHeader(), `{"message":"Forbidden"}`, true},
		{"an error without requestId does not", "GET", path, 404, jsonHeader(), `{"error":"not_found","message":"event not found"}`, true},
		{"an error with an unknown code does not", "GET", path, 404, jsonHeader(), `{"error":"gone","message":"m","requestId":"r"}`, true},
		{"a 204 to a delete matches", "DELETE", path, 204, http.Header{}, "", false},
		{"a 201 without Location does not", "POST", "/devices/d/events", 201, jsonHeader(), `{"message":"m","events":[` + ev + `]}`, true},
		{"an abridged put answer matches", "POST", "/devices/d/events", 201, jsonHeader("Location", path), `{"message":"m","events":[` + ev + `],"abridged":true}`, false},
		{"abridged false does not (absent says it)", "POST", "/devices/d/events", 201, jsonHeader("Location", path), `{"message":"m","events":[` + ev + `],"abridged":false}`, true},
		{"API Gateway's 404 to an undocumented method matches", "PUT", "/devices/d/events", 404, jsonHeader(), `{"message":"Not Found"}`, false},
		{"a 405 to an undocumented method does not (HTTP APIs have none)", "PUT", "/devices/d/events", 405, jsonHeader("Allow", "POST, GET, DELETE"), `{"error":"method_not_allowed","message":"m","requestId":"r"}`, true},
		{"a 200 on an undocumented path does not", "GET", "/nothing", 200, jsonHeader(), `{}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Response(httptest.NewRequest(tc.method, tc.path, nil), tc.status, tc.header, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Response error = %v, want an error: %v", err, tc.wantErr)
			}
			var ve *ValidationError
			if err != nil && (!errors.As(err, &ve) || ve.Status != tc.status) {
				t.Errorf("error = %#v, want a *ValidationError with status %d", err, tc.status)
			}
		})
	}
}

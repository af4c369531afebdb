package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/apikeys"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

// keysCall is a request to the api-keys function as the events API's JWT
// authorizer passes it on.
type keysCall struct {
	method, path, query, body string
	scope, devices            string
}

func (c keysCall) send(t *testing.T, f *Function) (int, map[string]any, map[string]string) {
	t.Helper()
	key := c.method + " /apikeys"
	params := map[string]string(nil)
	if id, ok := strings.CutPrefix(c.path, "/apikeys/"); ok {
		key, params = c.method+" /apikeys/{keyId}", map[string]string{"keyId": id}
	}
	scope := c.scope
	if scope == "" {
		scope = routes.ScopeAdmin
	}
	claims := map[string]string{"sub": "admin", "scope": scope}
	if c.devices != "" {
		claims["devices"] = c.devices
	}
	payload, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: key, RawPath: c.path, RawQueryString: c.query, Body: c.body, PathParameters: params,
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: c.method, Path: c.path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}},
	})
	out, err := apigw.Invoke(context.Background(), f, payload)
	if err != nil {
		t.Fatal(err)
	}
	res := out.(events.APIGatewayV2HTTPResponse)
	var body map[string]any
	_ = json.Unmarshal([]byte(res.Body), &body)
	return res.StatusCode, body, res.Headers
}

// newKeysFunction is the api-keys function over a fresh table, whose
// clock ticks a millisecond at each reading from now on.
func newKeysFunction(t *testing.T, now time.Time) (*Function, *eventstore.Store) {
	t.Helper()
	var mu sync.Mutex
	ticks := 0
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		ticks++
		return now.Add(time.Duration(ticks-1) * time.Millisecond)
	}
	client := ddbtest.Client(t)
	table := ddbtest.Table(t, client, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	store := eventstore.New(client, table, eventstore.Options{Retention: -1, Now: clock})
	signer, _ := pagetoken.NewSigner(bytes.Repeat([]byte{3}, 32))
	f, err := New(routes.APIKeys, Deps{Store: store,
		PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil },
		KeyPepper:  func(context.Context) ([]byte, error) { return []byte("the test pepper"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	return f, store
}

func TestAKeyIsMadeOnceWithItsSecretAndStoredHashed(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)
	f, store := newKeysFunction(t, now)
	status, body, headers := keysCall{method: "POST", path: "/apikeys",
		body: `{"name":"door sensor 7","scopes":["events/write","events/read"],"devices":["robot-7"],"expiresAt":"2027-01-01T00:00:00Z"}`}.send(t, f)
	if status != 201 {
		t.Fatalf("status %d, want 201: %v", status, body)
	}
	if headers["Cache-Control"] != "no-store" {
		t.Errorf("Cache-Control %q, want no-store on the answer holding the secret", headers["Cache-Control"])
	}
	k, ok := apikeys.Parse(fmt.Sprint(body["key"]))
	if !ok || k.ID != body["id"] || k.Secret != body["secret"] {
		t.Fatalf("key %v, id %v, secret %v: want the key of that id and secret", body["key"], body["id"], body["secret"])
	}
	stored, err := store.APIKey(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Hash, apikeys.Hash([]byte("the test pepper"), k.Secret)) {
		t.Errorf("stored hash %x, want HMAC-SHA256 of the secret under the pepper", stored.Hash)
	}
	want := fmt.Sprint(map[string]any{"createdAt": "2026-11-22T10:15:30.000Z", "devices": []any{"robot-7"}, "expiresAt": "2027-01-01T00:00:00.000Z",
		"id": k.ID, "key": k.String(), "name": "door sensor 7", "scopes": []any{"events/write", "events/read"}, "secret": k.Secret})
	if got := fmt.Sprint(body); got != want {
		t.Errorf("answer %s, want %s", got, want)
	}
	_, list, _ := keysCall{method: "GET", path: "/apikeys"}.send(t, f)
	if s := fmt.Sprint(list); strings.Contains(s, k.Secret) || !strings.Contains(s, k.ID) {
		t.Errorf("the listing %s: want the key listed, without its secret", s)
	}
}

func TestKeysThatCannotBeMadeAreRefused(t *testing.T) {
	f, _ := newKeysFunction(t, time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC))
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("d%d", i))
	}
	for _, c := range []struct {
		name, body, field string
	}{
		{"no name", `{"scopes":["events/read"]}`, "name"},
		{"no scopes", `{"name":"n"}`, "scopes"},
		{"no scope at all", `{"name":"n","scopes":[]}`, "scopes"},
		{"an unknown field", `{"name":"n","scopes":["events/read"],"owner":"me"}`, "owner"},
		{"the admin scope", `{"name":"n","scopes":["events/admin"]}`, "scopes[0]"},
		{"an unknown scope", `{"name":"n","scopes":["events/read","events/*"]}`, "scopes[1]"},
		{"a scope twice", `{"name":"n","scopes":["events/read","events/read"]}`, "scopes[1]"},
		{"scopes in one string", `{"name":"n","scopes":"events/read events/write"}`, "scopes"},
		{"an empty device list", `{"name":"n","scopes":["events/read"],"devices":[]}`, "devices"},
		{"a null device list", `{"name":"n","scopes":["events/read"],"devices":null}`, "devices"},
		{"a device id that is not one", `{"name":"n","scopes":["events/read"],"devices":["d1","a/b"]}`, "devices[1]"},
		{"101 devices", `{"name":"n","scopes":["events/read"],"devices":[` + strings.Join(many, ",") + `]}`, "devices"},
		{"an expiry in the past", `{"name":"n","scopes":["events/read"],"expiresAt":"2026-11-22T10:15:29Z"}`, "expiresAt"},
		{"an expiry that is not a time", `{"name":"n","scopes":["events/read"],"expiresAt":"tomorrow"}`, "expiresAt"},
		{"an empty name", `{"name":"","scopes":["events/read"]}`, "name"},
		{"a name of 129 characters", `{"name":"` + strings.Repeat("é", 129) + `","scopes":["events/read"]}`, "name"},
		{"a name with a newline", `{"name":"a\nb","scopes":["events/read"]}`, "name"},
		{"a body that is an array", `[{"name":"n","scopes":["events/read"]}]`, "body"},
	} {
		t.Run(c.name+" is 400 invalid_event naming "+c.field, func(t *testing.T) {
			status, body, _ := keysCall{method: "POST", path: "/apikeys", body: c.body}.send(t, f)
			if status != 400 || body["error"] != apierror.InvalidEvent || body["field"] != c.field {
				t.Fatalf("got %d %v field %v, want 400 invalid_event field %s: %v", status, body["error"], body["field"], c.field, body)
			}
		})
	}
	t.Run("a duplicated key in the body is 400 invalid_json", func(t *testing.T) {
		status, body, _ := keysCall{method: "POST", path: "/apikeys", body: `{"name":"a","name":"b","scopes":["events/read"]}`}.send(t, f)
		if status != 400 || body["error"] != apierror.InvalidJSON {
			t.Fatalf("got %d %v, want 400 invalid_json", status, body["error"])
		}
	})
	for _, c := range []struct{ name, scope, devices string }{
		{"a token without events/admin", routes.ScopeRead + " " + routes.ScopeWrite + " " + routes.ScopeDelete, ""},
		{"an admin token limited to devices", routes.ScopeAdmin, "[d1]"},
	} {
		t.Run(c.name+" is 403", func(t *testing.T) {
			for _, call := range []keysCall{
				{method: "POST", path: "/apikeys", body: `{"name":"n","scopes":["events/read"]}`},
				{method: "GET", path: "/apikeys"},
				{method: "DELETE", path: "/apikeys/0123456789abcdef"},
			} {
				call.scope, call.devices = c.scope, c.devices
				if status, body, _ := call.send(t, f); status != 403 || body["error"] != apierror.Forbidden {
					t.Errorf("%s %s: got %d %v, want 403 forbidden", call.method, call.path, status, body["error"])
				}
			}
		})
	}
}

func TestKeysAreListedInPagesAndRevoked(t *testing.T) {
	f, _ := newKeysFunction(t, time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC))
	var ids []string
	for i := range 3 {
		_, body, _ := keysCall{method: "POST", path: "/apikeys", body: fmt.Sprintf(`{"name":"key %d","scopes":["events/read"]}`, i)}.send(t, f)
		ids = append(ids, fmt.Sprint(body["id"]))
	}
	var listed []string
	query := "limit=2"
	for pages := 0; ; pages++ {
		status, body, _ := keysCall{method: "GET", path: "/apikeys", query: query}.send(t, f)
		if status != 200 || pages > 3 {
			t.Fatalf("page %d: got %d %v", pages, status, body)
		}
		for _, k := range body["keys"].([]any) {
			listed = append(listed, fmt.Sprint(k.(map[string]any)["id"]))
		}
		tok, ok := body["nextPageToken"].(string)
		if !ok {
			break
		}
		if next := body["next"]; next != "/apikeys?limit=2&pageToken="+url.QueryEscape(tok) {
			t.Errorf("next %v, want the same request with the token", next)
		}
		query = "limit=2&pageToken=" + url.QueryEscape(tok)
	}
	if fmt.Sprint(listed) != fmt.Sprint([]string{ids[2], ids[1], ids[0]}) {
		t.Errorf("listed %v, want every key once, newest first (%v)", listed, ids)
	}
	for _, c := range []struct {
		name, query string
		status      int
		code        string
	}{
		{"a limit of 101 is 400", "limit=101", 400, apierror.InvalidParameter},
		{"an unknown parameter is 400", "owner=me", 400, apierror.QueryFieldNotAllowed},
		{"a page token of the events listing is 400", "pageToken=" + url.QueryEscape(mustSign(t, "q", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")), 400, apierror.InvalidPageToken},
		{"an edited page token is 400", "pageToken=AAAA", 400, apierror.InvalidPageToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, body, _ := (keysCall{method: "GET", path: "/apikeys", query: c.query}).send(t, f); status != c.status || body["error"] != c.code {
				t.Fatalf("got %d %v, want %d %s", status, body["error"], c.status, c.code)
			}
		})
	}
	for _, c := range []struct {
		name, id string
		status   int
	}{
		{"revoking a key is 204", ids[1], 204},
		{"revoking it again is 404", ids[1], 404},
		{"revoking a key that never was is 404", "0123456789abcdef", 404},
		{"revoking an id of another form is 404", "K!", 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, body, _ := (keysCall{method: "DELETE", path: "/apikeys/" + c.id}).send(t, f); status != c.status {
				t.Fatalf("got %d %v, want %d", status, body, c.status)
			}
		})
	}
	_, body, _ := keysCall{method: "GET", path: "/apikeys"}.send(t, f)
	if n := len(body["keys"].([]any)); n != 2 {
		t.Errorf("%d keys listed after a revocation, want 2", n)
	}
}

func mustSign(t *testing.T, binding, cursor string) string {
	t.Helper()
	s, _ := pagetoken.NewSigner(bytes.Repeat([]byte{3}, 32))
	return s.Encode(binding, cursor)
}

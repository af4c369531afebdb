package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal"
	"github.com/fleetlog/device-events/infra/local/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/pkg/api"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

// stack is the local gateway over the five functions and a fresh table in
// DynamoDB Local, as infra/local/e2e builds it, serving this document at
// /openapi.json the way the gateway's main mounts it.
type stack struct {
	t     *testing.T
	url   string
	auth  *gateway.Auth
	token string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	client := ddbtest.Client(t)
	table := ddbtest.Table(t, client, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	signer, err := pagetoken.NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	deps := api.Deps{
		Store:      eventstore.New(client, table, eventstore.Options{}),
		PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil },
	}
	var fns []*api.Function
	for _, name := range routes.Functions {
		f, err := api.New(name, deps)
		if err != nil {
			t.Fatalf("api.New(%s): %v", name, err)
		}
		fns = append(fns, f)
	}
	auth, err := gateway.NewAuth(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	g := gateway.New(fns, auth, nil)
	g.Extra["/openapi.json"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(Document())
	})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	s := &stack{t: t, url: srv.URL, auth: auth}
	s.token = s.mint(routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete)
	return s
}

func (s *stack) mint(scopes ...string) string {
	s.t.Helper()
	tok, err := s.auth.Mint(gateway.TokenClaims{Subject: "tester", Scopes: scopes, TTL: time.Hour})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// exchange is one request to the stack and its answer.
type exchange struct {
	req    *http.Request
	body   []byte
	status int
	header http.Header
	answer []byte
}

// send makes a request with the all-scopes token. headers are name, value
// pairs; an "Authorization" of "" sends no token.
func (s *stack) send(method, path, contentType, body string, headers ...string) exchange {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
		if headers[i] == "Authorization" && headers[i+1] == "" {
			req.Header.Del("Authorization")
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return exchange{req: req, body: []byte(body), status: res.StatusCode, header: res.Header, answer: answer}
}

// put stores an event and returns its id.
func (s *stack) put(device, body string) string {
	s.t.Helper()
	x := s.send("POST", "/devices/"+device+"/events", "application/json", body)
	var ans struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if x.status != http.StatusCreated || json.Unmarshal(x.answer, &ans) != nil || len(ans.Events) == 0 {
		s.t.Fatalf("put: status %d, answer %s; want 201 with an event", x.status, x.answer)
	}
	return ans.Events[0].ID
}

func TestEveryAnswerOfTheLocalStackMatchesTheDocument(t *testing.T) {
	s := newStack(t)
	v := newValidator(t)
	id := s.put("robot-7", `{"type":"door_opened","severity":"warning","status":"Open","text":"left open","data":{"temp":21.5}}`)
	gone := s.put("robot-7", `{"type":"door_closed"}`)
	s.put("robot-7", `{"type":"door_opened"}`)
	readOnly := s.mint(routes.ScopeRead)
	event := "/devices/robot-7/events/" + id
	const unknown = "/devices/robot-7/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	const salt = `{"fun":"state.apply","jid":"20261122101530123456","id":"minion-1","retcode":0,"success":true,"fun_args":["milking"],"return":{"pkg_|-b_|-b_|-installed":{"result":true}}}`

	cases := []struct {
		name             string
		method, path, ct string
		body             string
		headers          []string
		status           []int // any of these; the unfinished routes answer 501 for now
		wantRequestErr   bool
	}{
		{"a native event is stored", "POST", "/devices/robot-7/events", "application/json", `{"type":"door_opened","time":"2026-01-02T03:04:05Z"}`, nil, []int{201}, false},
		{"a DeLaval body is stored", "POST", "/devices/gg-1/events", "application/json", `{"deviceid":"gg-1","status":"Failed","description":"missing package","function":"get-greengrass-configurations"}`, nil, []int{201}, false},
		{"a Salt job return is stored", "POST", "/devices/gw-1/events", "application/json", salt, nil, []int{201}, false},
		{"a batch array is stored", "POST", "/devices/robot-7/events", "application/json", `[{"type":"a"},{"type":"b","time":1763806530}]`, nil, []int{201}, false},
		{"a batch object is stored", "POST", "/devices/robot-7/events", "application/json", `{"events":[{"type":"a"}]}`, nil, []int{201}, false},
		{"a first put with an Idempotency-Key is 201", "POST", "/devices/robot-7/events", "application/json", `{"type":"once"}`, []string{"Idempotency-Key", "k-1"}, []int{201}, false},
		{"a retry with the same Idempotency-Key is 200", "POST", "/devices/robot-7/events", "application/json", `{"type":"once"}`, []string{"Idempotency-Key", "k-1"}, []int{200}, false},
		{"the same Idempotency-Key with another body is 409", "POST", "/devices/robot-7/events", "application/json", `{"type":"twice"}`, []string{"Idempotency-Key", "k-1"}, []int{409}, false},
		{"a body that is not JSON is 400", "POST", "/devices/robot-7/events", "application/json", `{type: door}`, nil, []int{400}, true},
		{"an unknown field is 400", "POST", "/devices/robot-7/events", "application/json", `{"type":"t","colour":"red"}`, nil, []int{400}, true},
		{"an event over 256 KiB is 413", "POST", "/devices/robot-7/events", "application/json", `{"type":"t","data":{"blob":"` + strings.Repeat("x", 300<<10) + `"}}`, nil, []int{413}, false},
		{"XML is 415", "POST", "/devices/robot-7/events", "application/xml", `<event/>`, nil, []int{415}, true},
		{"a put without the write scope is 403", "POST", "/devices/robot-7/events", "application/json", `{"type":"t"}`, []string{"Authorization", "Bearer " + readOnly}, []int{403}, false},
		{"a request without a token is 401", "GET", "/devices/robot-7/events", "", "", []string{"Authorization", ""}, []int{401}, false},
		{"a device's events are listed", "GET", "/devices/robot-7/events", "", "", nil, []int{200}, false},
		{"a filtered page in Unix times is listed", "GET", "/devices/robot-7/events?type=door_opened,door_closed&severity=info,warning&state=new&order=asc&limit=1&timeFormat=unix", "", "", nil, []int{200}, false},
		{"a device without events lists nothing", "GET", "/devices/nobody/events", "", "", nil, []int{200}, false},
		{"an edited page token is 400", "GET", "/devices/robot-7/events?pageToken=edited", "", "", nil, []int{400}, false},
		{"from after to is 400", "GET", "/devices/robot-7/events?from=1763906530&to=1763806530", "", "", nil, []int{400}, false},
		{"a bad device id is 400", "GET", "/devices/bad%20id/events", "", "", nil, []int{400}, true},
		{"an event is got with its ETag", "GET", event, "", "", nil, []int{200}, false},
		{"an event is got in Unix times", "GET", event + "?timeFormat=unix", "", "", nil, []int{200}, false},
		{"an unknown event is 404", "GET", unknown, "", "", nil, []int{404}, false},
		{"the fleet list reads one type", "GET", "/events?type=door_opened", "", "", nil, []int{200}, false},
		{"the fleet list without type is 400", "GET", "/events", "", "", nil, []int{400}, true},
		{"a device's aggregates are counted", "GET", "/devices/robot-7/aggregates?interval=hour", "", "", nil, []int{200}, false},
		{"a device's aggregates of two types are counted in Unix times", "GET", "/devices/robot-7/aggregates?type=door_opened,door_closed&interval=hour&timeFormat=unix", "", "", nil, []int{200}, false},
		{"fleet aggregates are counted by local day", "GET", "/aggregates?type=door_opened&interval=day&tz=Europe/Stockholm", "", "", nil, []int{200}, false},
		{"fleet aggregates without type are 400", "GET", "/aggregates?interval=day", "", "", nil, []int{400}, true},
		{"a zone with hourly aggregates is 400", "GET", "/devices/robot-7/aggregates?interval=hour&tz=Europe/Stockholm", "", "", nil, []int{400}, false},
		{"an event is patched", "PATCH", event, "application/merge-patch+json", `{"state":"acknowledged","comment":"on it"}`, []string{"If-Match", `"1"`}, []int{200, 501}, false},
		{"a dry run of a bulk delete counts", "DELETE", "/devices/robot-7/events?type=a&dryRun=true", "", "", nil, []int{200, 501}, false},
		{"a delete with a stale If-Match is 412", "DELETE", "/devices/robot-7/events/" + gone, "", "", []string{"If-Match", `"7"`}, []int{412}, false},
		{"an event is deleted", "DELETE", "/devices/robot-7/events/" + gone, "", "", []string{"If-Match", `"1"`}, []int{204}, false},
		{"a deleted event is 404", "DELETE", "/devices/robot-7/events/" + gone, "", "", nil, []int{404}, false},
		{"a method the path lacks is 405", "PUT", "/devices/robot-7/events", "application/json", `{}`, nil, []int{405}, true},
		{"an unknown path is 404", "GET", "/nothing/here", "", "", nil, []int{404}, true},
		{"the health check needs no token", "GET", "/healthz", "", "", []string{"Authorization", ""}, []int{200}, false},
		{"the document is served without a token", "GET", "/openapi.json", "", "", []string{"Authorization", ""}, []int{200}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := s.send(tc.method, tc.path, tc.ct, tc.body, tc.headers...)
			if !slices.Contains(tc.status, x.status) {
				t.Fatalf("status = %d, want one of %v; answer %.300s", x.status, tc.status, x.answer)
			}
			err := v.Request(x.req, x.body)
			if (err != nil) != tc.wantRequestErr {
				t.Errorf("request validation = %v, want an error: %v", err, tc.wantRequestErr)
			}
			if err := v.Response(x.req, x.status, x.header, x.answer); err != nil {
				t.Errorf("the answer does not match the document: %v\nanswer: %.500s", err, x.answer)
			}
		})
	}
}

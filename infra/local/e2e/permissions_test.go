package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetlog/device-events/infra/local/awslocal"
	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// TestEveryPermissionOfEveryRoleIsNeeded removes, one at a time, each
// permission the stack grants a function (routes.Permissions) and drives
// every route through the local stack: some request must then fail with a
// 5xx, and the local AWS endpoint must have denied exactly that action to
// that function. With the roles as granted, the same requests all pass
// (every other test here runs with them). So the roles hold every call the
// bootstraps make, and nothing they don't.
func TestEveryPermissionOfEveryRoleIsNeeded(t *testing.T) {
	for _, fn := range routes.Functions {
		for _, action := range grants(routes.Permissions[fn]) {
			t.Run(fn+" without "+action, func(t *testing.T) {
				perms := maps.Clone(routes.Permissions)
				perms[fn] = without(perms[fn], action)
				s := newStackWith(t, stacktest.Options{Permissions: perms})
				// A bulk delete signs a page token only past 1 000 events.
				failed := driveEveryRoute(s, fn == routes.DeleteEvent)
				if len(failed) == 0 {
					t.Fatalf("every route answered without %s's %s: the role grants an action no call needs", fn, action)
				}
				found := false
				for _, d := range s.AWS.Denials() {
					if strings.Contains(d.Principal, "/"+fn) && denied(d, routes.Permissions[fn], action) {
						found = true
					}
				}
				if !found {
					t.Fatalf("requests failed (%v), but no call of %s was denied %s: %v", failed, fn, action, s.AWS.Denials())
				}
			})
		}
	}
}

// The secrets' grants, by the secret's ARN.
const (
	pageTokenGrant = "secretsmanager:GetSecretValue on the page-token key"
	pepperGrant    = "secretsmanager:GetSecretValue on the key pepper"
)

var secretOfGrant = map[string]string{pageTokenGrant: devstack.PageTokenSecretARN, pepperGrant: devstack.KeyPepperSecretARN}

// grants lists a role's permissions as "dynamodb:Action" (table),
// "index:<index>" (the index actions on one index), pageTokenGrant and
// pepperGrant.
func grants(a routes.Access) []string {
	out := slices.Clone(a.TableActions)
	for _, x := range a.Indexes {
		out = append(out, "index:"+x)
	}
	if a.PageTokenKey {
		out = append(out, pageTokenGrant)
	}
	if a.KeyPepper {
		out = append(out, pepperGrant)
	}
	return out
}

// denied reports whether a denial is of grant g.
func denied(d awslocal.Denial, a routes.Access, g string) bool {
	if index, ok := strings.CutPrefix(g, "index:"); ok {
		return strings.HasSuffix(d.Resource, "/index/"+index) && slices.ContainsFunc(a.IndexActions, func(x string) bool { return strings.EqualFold(x, d.Action) })
	}
	if secret, ok := secretOfGrant[g]; ok {
		return d.Action == "secretsmanager:GetSecretValue" && d.Resource == secret
	}
	return strings.EqualFold(d.Action, g)
}

func without(a routes.Access, g string) routes.Access {
	drop := func(list []string, x string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(y string) bool { return y == x })
	}
	switch {
	case strings.HasPrefix(g, "index:"):
		a.Indexes = drop(a.Indexes, strings.TrimPrefix(g, "index:"))
	case g == pageTokenGrant:
		a.PageTokenKey = false
	case g == pepperGrant:
		a.KeyPepper = false
	default:
		a.TableActions = drop(a.TableActions, g)
	}
	return a
}

// driveEveryRoute makes a request of every kind the APIs serve and returns
// those answered with a 5xx (and a key's use not recorded).
func driveEveryRoute(s *stack, bulkPages bool) []string {
	s.t.Helper()
	var failed []string
	call := func(method, path string, body any, opts ...option) reply {
		r := s.do(method, path, body, opts...)
		if r.status >= 500 {
			failed = append(failed, fmt.Sprintf("%s %s: %d", method, path, r.status))
		}
		return r
	}
	const dev = "perm-1"
	base := "/devices/" + dev + "/events"
	first := call("POST", base, map[string]any{"type": "door", "severity": "warning"})
	call("POST", base, []any{map[string]any{"type": "door"}, map[string]any{"type": "door"}}, header("Idempotency-Key", "perm-batch"))
	call("POST", base, map[string]any{"type": "door", "idempotencyKey": "perm-one"})
	call("POST", base, map[string]any{"type": "door", "idempotencyKey": "perm-one"})
	self := ""
	if evs, ok := first.body["events"].([]any); ok && len(evs) > 0 {
		self, _ = evs[0].(map[string]any)["self"].(string)
	}
	page := call("GET", base+"?limit=1", nil)
	if tok, ok := page.body["nextPageToken"].(string); ok {
		call("GET", base+"?limit=1&pageToken="+url.QueryEscape(tok), nil)
	}
	call("GET", base+"?severity=warning,error,critical", nil)
	call("GET", "/events?severity=warning&state=new,acknowledged", nil)
	fleet := call("GET", "/events?type=door&limit=1", nil)
	if tok, ok := fleet.body["nextPageToken"].(string); ok {
		call("GET", "/events?type=door&limit=1&pageToken="+url.QueryEscape(tok), nil)
	}
	// Counts of days that have closed are compacted by the reads that find
	// them: events written five days ago, as their writer saw the day,
	// make the aggregates below fold their counters.
	past := eventstore.New(s.Client, s.Table, eventstore.Options{Retention: -1, Now: func() time.Time { return time.Now().AddDate(0, 0, -5) }})
	if _, err := past.Put(context.Background(), eventstore.PutRequest{Events: []eventstore.NewEvent{{DeviceID: dev, Type: "door"}}}); err != nil {
		s.t.Fatalf("seeding a closed day: %v", err)
	}
	// Droplit's page numbers come from the counters: list-events folds
	// them first, as the aggregates below would.
	droplit := call("POST", "/apikeys", map[string]any{"name": "perm droplit", "scopes": []string{routes.ScopeRead}})
	if k, ok := droplit.body["key"].(string); ok {
		// Not through s.do, which holds answers to the events API's
		// document: the dialect's is another.
		path := "/api/devices/" + dev + "/history?pageSize=1&continuationCount=1"
		req, _ := http.NewRequest("GET", s.KeysURL+path, nil)
		req.Header.Set("Authorization", k)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			s.t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			failed = append(failed, fmt.Sprintf("GET %s: %d", path, res.StatusCode))
		}
	}
	call("GET", "/devices/"+dev+"/aggregates?interval=day", nil)
	call("GET", "/devices/"+dev+"/aggregates?interval=hour&type=door", nil)
	call("GET", "/aggregates?type=door&interval=day", nil)
	if self != "" {
		call("GET", self, nil)
		call("PATCH", self, map[string]any{"state": "acknowledged", "comment": "on it"})
		call("PATCH", self, map[string]any{"state": "resolved"})
		call("DELETE", self, nil)
	}
	if bulkPages {
		for i := 0; i < 11; i++ {
			batch := make([]any, 100)
			for j := range batch {
				batch[j] = map[string]any{"type": "bulk"}
			}
			call("POST", base, batch)
		}
	}
	dry := call("DELETE", base+"?all=true&dryRun=true", nil)
	if tok, ok := dry.body["nextPageToken"].(string); ok {
		call("DELETE", base+"?all=true&dryRun=true&pageToken="+url.QueryEscape(tok), nil)
	}
	del := call("DELETE", base+"?all=true", nil)
	if tok, ok := del.body["nextPageToken"].(string); ok {
		call("DELETE", base+"?all=true&pageToken="+url.QueryEscape(tok), nil)
	}

	// Device API keys: made (two, so that a page of one has a token),
	// listed a page at a time, used on the key API, revoked.
	var keys []map[string]any
	for i := range 2 {
		r := call("POST", "/apikeys", map[string]any{"name": fmt.Sprintf("perm %d", i), "scopes": []string{routes.ScopeRead}})
		if r.status == 201 {
			keys = append(keys, r.body)
		}
	}
	listed := call("GET", "/apikeys?limit=1", nil)
	if tok, ok := listed.body["nextPageToken"].(string); ok {
		call("GET", "/apikeys?limit=1&pageToken="+url.QueryEscape(tok), nil)
	}
	for _, k := range keys {
		call("GET", base, nil, s.onKeys(), xAPIKey(k["key"].(string)))
	}
	// Cumulocity's page totals (list-events) read a device's counters
	// and fold its closed days, as an aggregate does.
	if len(keys) > 0 {
		if _, err := past.Put(context.Background(), eventstore.PutRequest{Events: []eventstore.NewEvent{{DeviceID: "perm-2", Type: "door"}}}); err != nil {
			s.t.Fatalf("seeding a closed day: %v", err)
		}
		c := c8y{s, stacktest.APIKey{ID: keys[0]["id"].(string), Secret: keys[0]["secret"].(string)}}
		if r := c.do(s.t, "GET", "/event/events?source=perm-2&withTotalPages=true", nil); r.status >= 500 {
			failed = append(failed, fmt.Sprintf("GET /event/events: %d", r.status))
		}
	}
	// A dialect's page numbers read the counters (list-events), which
	// compacts those of a closed day: Losant's page 1 of a device written
	// to five days ago.
	if len(keys) > 0 {
		if _, err := past.Put(context.Background(), eventstore.PutRequest{Events: []eventstore.NewEvent{{DeviceID: "perm-losant", Type: "door"}}}); err != nil {
			s.t.Fatalf("seeding a closed day: %v", err)
		}
		q := url.Values{"query": {`{"deviceId":"perm-losant"}`}, "page": {"1"}, "perPage": {"1"}}
		if r := s.losant(keys[0]["key"].(string), "GET", losantEvents(losantApp)+"?"+q.Encode(), nil); r.status >= 500 {
			failed = append(failed, fmt.Sprintf("Losant's GET /applications/{applicationId}/events: %d", r.status))
		}
	}
	// A key's use is recorded, or the listing says it was never used: a
	// failure the requests alone do not show (the request is served).
	if len(keys) > 0 {
		r := call("GET", "/apikeys", nil)
		list, _ := r.body["keys"].([]any)
		for _, it := range list {
			if m := it.(map[string]any); m["lastUsedAt"] == nil {
				failed = append(failed, fmt.Sprintf("GET /apikeys: key %v has no last use after a use", m["id"]))
			}
		}
	}
	for _, k := range keys {
		call("DELETE", "/apikeys/"+k["id"].(string), nil)
	}
	return failed
}

// denyEnv names one permission to remove from the stacks of a test run
// ("<function>=<action>"): TestTheSuiteFailsWithoutAPermission runs part of
// this suite with it.
const denyEnv = "E2E_DENY"

// TestTheSuiteFailsWithoutAPermission runs the patch lifecycle tests of
// this package again, in a child `go test`, with patch-event's role lacking
// the write its patches make: the suite must fail, as the deploy would.
func TestTheSuiteFailsWithoutAPermission(t *testing.T) {
	if os.Getenv(denyEnv) != "" {
		t.Skip("this run is the mutation itself")
	}
	write := routes.Permissions[routes.PatchEvent].TableActions
	var action string
	for _, a := range write {
		if a != "dynamodb:GetItem" {
			action = a
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "-run", "^TestAnEventIsAcknowledgedThenResolved$", ".")
	cmd.Env = append(os.Environ(), denyEnv+"="+routes.PatchEvent+"="+action)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the patch lifecycle passed without patch-event's %s:\n%s", action, out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestAnEventIsAcknowledgedThenResolved") {
		t.Fatalf("the child run failed otherwise than by the lifecycle test:\n%s", out)
	}
}

package awslocal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
	"github.com/fleetlog/device-events/pkg/secretkeys"
)

// seeded is what a scenario finds in the table: three events of one
// device and type, both unique to the scenario.
type seeded struct {
	device, typ string
	ids         []string
}

// scenario makes the calls one function makes: through the store, and
// loading the page-token keys.
type scenario func(ctx context.Context, st *eventstore.Store, pageTokens func(context.Context) error, s seeded) error

// scenarios hold, for each function, every kind of store call its
// handlers make (pkg/api).
var scenarios = map[string]scenario{
	routes.PutEvent: func(ctx context.Context, st *eventstore.Store, _ func(context.Context) error, s seeded) error {
		if _, err := st.Put(ctx, eventstore.PutRequest{Events: []eventstore.NewEvent{{DeviceID: s.device, Type: s.typ, IdempotencyKey: "key-1"}}}); err != nil {
			return err
		}
		_, err := st.Put(ctx, eventstore.PutRequest{Events: []eventstore.NewEvent{{DeviceID: s.device, Type: s.typ}, {DeviceID: s.device, Type: s.typ}}})
		return err
	},
	routes.ListEvents: func(ctx context.Context, st *eventstore.Store, pageTokens func(context.Context) error, s seeded) error {
		if err := pageTokens(ctx); err != nil {
			return err
		}
		if _, err := st.Get(ctx, s.device, s.ids[0]); err != nil {
			return err
		}
		for _, q := range []eventstore.Query{
			{DeviceID: s.device, Limit: eventstore.DefaultLimit},
			{Types: []string{s.typ}, Limit: eventstore.DefaultLimit},
		} {
			page, err := st.List(ctx, q)
			if err != nil {
				return err
			}
			if len(page.Events) != len(s.ids) {
				return fmt.Errorf("list %+v: got %d events, want %d", q, len(page.Events), len(s.ids))
			}
		}
		return nil
	},
	routes.AggregateEvents: func(ctx context.Context, st *eventstore.Store, _ func(context.Context) error, s seeded) error {
		// The seeded events are of now.
		now := time.Now()
		for _, q := range []eventstore.AggregateQuery{
			{DeviceID: s.device, Interval: eventstore.Hour, From: now.Add(-time.Hour), To: now.Add(time.Hour)},
			{Types: []string{s.typ}, Interval: eventstore.Day, From: now.Add(-24 * time.Hour), To: now.Add(24 * time.Hour)},
		} {
			res, err := st.Aggregate(ctx, q)
			if err != nil {
				return err
			}
			if res.Total != int64(len(s.ids)) {
				return fmt.Errorf("aggregate %+v: got %d events, want %d", q, res.Total, len(s.ids))
			}
		}
		return nil
	},
	routes.PatchEvent: func(ctx context.Context, st *eventstore.Store, _ func(context.Context) error, s seeded) error {
		ack := eventstore.StateAcknowledged
		_, err := st.Patch(ctx, s.device, s.ids[0], eventstore.Patch{State: &ack, Comment: "on my way", By: "tester"})
		return err
	},
	routes.DeleteEvent: func(ctx context.Context, st *eventstore.Store, pageTokens func(context.Context) error, s seeded) error {
		if err := pageTokens(ctx); err != nil {
			return err
		}
		if err := st.Delete(ctx, s.device, s.ids[0], 0); err != nil {
			return err
		}
		res, err := st.DeleteMatching(ctx, eventstore.Query{DeviceID: s.device, Types: []string{s.typ}}, false)
		if err == nil && res.Deleted != len(s.ids)-1 {
			return fmt.Errorf("delete matching: got %d deleted, want %d", res.Deleted, len(s.ids)-1)
		}
		return err
	},
}

// removal is an Access with one permission taken out.
type removal struct {
	access           routes.Access
	action, resource string
}

// removals lists access with each of its permissions taken out in turn.
func removals(access routes.Access, table, secretARN string) []removal {
	var out []removal
	for i, a := range access.TableActions {
		cut := access
		cut.TableActions = slices.Delete(slices.Clone(access.TableActions), i, i+1)
		out = append(out, removal{cut, a, TableARN(DefaultRegion, DefaultAccountID, table)})
	}
	for i, a := range access.IndexActions {
		cut := access
		cut.IndexActions = slices.Delete(slices.Clone(access.IndexActions), i, i+1)
		out = append(out, removal{cut, a, IndexARN(DefaultRegion, DefaultAccountID, table, eventstore.TypeIndex)})
	}
	if access.PageTokenKey {
		cut := access
		cut.PageTokenKey = false
		out = append(out, removal{cut, "secretsmanager:GetSecretValue", secretARN})
	}
	return out
}

// TestStoreCallsFitTheRoles runs each function's store calls with the role
// the stack gives it (routes.Permissions), through the server: they all
// pass, and with any one permission taken out of the role, a call fails
// with AccessDeniedException for exactly that permission. So the roles
// hold what the store calls, and nothing it does not.
func TestStoreCallsFitTheRoles(t *testing.T) {
	ctx := context.Background()
	local := ddbtest.Client(t)
	table := ddbtest.Table(t, local, tableDef)
	seeder := eventstore.New(local, table, eventstore.Options{})
	secretARN := SecretARN(DefaultRegion, DefaultAccountID, "page-token-key")
	secrets := []Secret{{ARN: secretARN, Current: strings.Repeat("1", 64)}}

	scenariosRun := 0
	seed := func(t *testing.T) seeded {
		t.Helper()
		scenariosRun++
		s := seeded{device: fmt.Sprintf("robot-%d", scenariosRun), typ: fmt.Sprintf("door_opened_%d", scenariosRun)}
		res, err := seeder.Put(ctx, eventstore.PutRequest{Events: []eventstore.NewEvent{
			{DeviceID: s.device, Type: s.typ}, {DeviceID: s.device, Type: s.typ}, {DeviceID: s.device, Type: s.typ},
		}})
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		for _, e := range res.Events {
			s.ids = append(s.ids, e.ID)
		}
		return s
	}
	// run makes fn's calls with a role of access, through a server of its
	// own.
	run := func(t *testing.T, fn string, access routes.Access) (*endpoint, error) {
		t.Helper()
		p := PrincipalFor(fn, access, table, secretARN, "", "")
		srv := serve(t, Options{Secrets: secrets}, p)
		st := eventstore.New(client(t, srv.URL, p), table, eventstore.Options{})
		pageTokens := func(ctx context.Context) error {
			_, err := secretkeys.PageTokens(awsConfig(srv.URL, p), secretARN).Signer(ctx)
			return err
		}
		return srv, scenarios[fn](ctx, st, pageTokens, seed(t))
	}

	for _, fn := range routes.Functions {
		if scenarios[fn] == nil {
			t.Fatalf("no scenario for function %s: add its store calls to scenarios", fn)
		}
	}
	for _, fn := range routes.Functions {
		t.Run(fn+" works with its role", func(t *testing.T) {
			srv, err := run(t, fn, routes.Permissions[fn])
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if d := srv.Denials(); len(d) != 0 {
				t.Errorf("got denials %+v, want none", d)
			}
		})
	}
	for _, fn := range routes.Functions {
		for _, cut := range removals(routes.Permissions[fn], table, secretARN) {
			t.Run(fn+" fails without "+cut.action+" on "+cut.resource[strings.LastIndex(cut.resource, ":")+1:], func(t *testing.T) {
				srv, err := run(t, fn, cut.access)
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
					t.Fatalf("got %v, want AccessDeniedException", err)
				}
				// One call, or several made at once (the fleet listing
				// reads 16 index partitions in parallel), all of them for
				// the missing permission.
				d := srv.Denials()
				if len(d) == 0 || slices.ContainsFunc(d, func(d Denial) bool { return d.Action != cut.action || d.Resource != cut.resource }) {
					t.Errorf("got denials %+v, want only denials of %s on %s", d, cut.action, cut.resource)
				}
			})
		}
	}
}

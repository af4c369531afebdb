// Package stacktest runs the whole API locally for tests: a fresh table in
// DynamoDB Local (see ddbtest), the five functions in-process and the local
// gateway in an httptest server, as `make run` wires them.
package stacktest

import (
	"bytes"
	"context"
	"net/http/httptest"
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

// AllScopes are the scopes of every route.
var AllScopes = []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}

// Table is the events table's definition, for ddbtest.Table.
var Table = dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput}

// Stack is one local API over its own table.
type Stack struct {
	URL       string
	Client    *dynamodb.Client
	Table     string
	Store     *eventstore.Store
	Auth      *gateway.Auth
	Functions map[string]*api.Function
	// Token carries every scope and no device limit.
	Token string
}

// New starts a stack that ends with the test. Its events are kept forever:
// DynamoDB Local runs TTL for real, and tests use fixed dates.
func New(tb testing.TB) *Stack {
	tb.Helper()
	client := ddbtest.Client(tb)
	table := ddbtest.Table(tb, client, Table)
	// The functions get their client as in Lambda: same timeouts, retries
	// and CA bundle handling.
	fnClient, _, err := api.DynamoDB(context.Background(), ddbtest.Endpoint(tb))
	if err != nil {
		tb.Fatalf("api.DynamoDB: %v", err)
	}
	signer, err := pagetoken.NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	s := &Stack{Client: client, Table: table, Functions: map[string]*api.Function{},
		Store: eventstore.New(fnClient, table, eventstore.Options{Retention: -1})}
	deps := api.Deps{
		Store:      s.Store,
		PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil },
	}
	fns, err := api.NewAll(deps)
	if err != nil {
		tb.Fatalf("api.NewAll: %v", err)
	}
	for _, f := range fns {
		s.Functions[f.Name()] = f
	}
	if s.Auth, err = gateway.NewAuth(bytes.Repeat([]byte{9}, 32)); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(gateway.New(fns, s.Auth, nil))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Token = s.Mint(tb, AllScopes, nil)
	return s
}

// Mint makes a token with these scopes, limited to devices unless nil.
func (s *Stack) Mint(tb testing.TB, scopes, devices []string) string {
	tb.Helper()
	tok, err := s.Auth.Mint(gateway.TokenClaims{Subject: "tester", Scopes: scopes, Devices: devices, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Package stacktest runs the whole API locally for tests, as `make run`
// does: a fresh table in DynamoDB Local (see ddbtest), the local stack
// (devstack: the functions' bootstraps under the Lambda stand-in, their
// calls held against their roles) and its gateways (the events API, the
// key API, the registry's API) in httptest servers.
package stacktest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/infra/local/lambdalocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Main runs a package's tests and stops the DynamoDB Local they started,
// if any. Call it from TestMain.
func Main(m *testing.M) { ddbtest.Main(m) }

// AllScopes are the scopes of every route.
var AllScopes = []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete, routes.ScopeAdmin}

// KeyPepper is the pepper of the test stacks' API keys: a key's stored
// hash is HMAC-SHA256 of its secret under it.
const KeyPepper = "stacktest-key-pepper-0123456789abcdef"

// Table is the events table's definition, for ddbtest.Table.
var Table = dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput}

// Stack is one local API over its own table.
type Stack struct {
	*devstack.Stack
	URL string
	// RegistryURL serves the DeLaval registry's API, KeysURL the key API.
	RegistryURL string
	KeysURL     string
	// Client reaches DynamoDB Local directly, past the roles' checks, for
	// the tests' own reads.
	Client *dynamodb.Client
	Table  string
	// Store reads and writes the table directly, as a test's fixture.
	Store *eventstore.Store
	// Token carries every scope and no device limit.
	Token string
}

// Options change a test stack.
type Options struct {
	// Permissions replace the roles of the stack (routes.Permissions).
	Permissions map[string]routes.Access
	// Logs receives the functions' log lines.
	Logs *SyncBuffer
	// KeyCacheTTL is the key authorizer's cache time: zero its default,
	// negative none (devstack.Config).
	KeyCacheTTL time.Duration
}

// New starts a stack that ends with the test. Its functions keep events
// forever (RETENTION_DAYS=0): DynamoDB Local runs TTL for real, and tests
// use fixed dates.
func New(tb testing.TB) *Stack { return NewWith(tb, Options{}) }

// NewWith starts a stack with options.
func NewWith(tb testing.TB, o Options) *Stack {
	tb.Helper()
	client := ddbtest.Client(tb)
	table := ddbtest.Table(tb, client, Table)
	bins, err := bootstraps()
	if err != nil {
		tb.Fatalf("bootstraps: %v", err)
	}
	cfg := devstack.Config{
		DynamoDB:      ddbtest.Endpoint(tb),
		Table:         table,
		RetentionDays: 0,
		Bootstraps:    bins,
		PageTokenKey:  hex.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		KeyPepper:     KeyPepper,
		KeyCacheTTL:   o.KeyCacheTTL,
		JWTSecret:     bytes.Repeat([]byte{9}, 32),
		Permissions:   o.Permissions,
	}
	if o.Logs != nil {
		cfg.Logs = o.Logs
	}
	ds, err := devstack.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("devstack: %v", err)
	}
	tb.Cleanup(ds.Close)
	srv := httptest.NewServer(ds.Gateway)
	tb.Cleanup(srv.Close)
	registry := httptest.NewServer(ds.Registry)
	tb.Cleanup(registry.Close)
	keys := httptest.NewServer(ds.Keys)
	tb.Cleanup(keys.Close)
	s := &Stack{Stack: ds, URL: srv.URL, RegistryURL: registry.URL, KeysURL: keys.URL, Client: client, Table: table,
		Store: eventstore.New(client, table, eventstore.Options{Retention: -1})}
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

// APIKey is a device API key made through the API.
type APIKey struct {
	ID, Key, Secret string
}

// NewKey makes a key of these scopes, limited to devices unless nil,
// through the events API's POST /apikeys with a token of events/admin.
func (s *Stack) NewKey(tb testing.TB, scopes, devices []string) APIKey {
	tb.Helper()
	body := map[string]any{"name": tb.Name(), "scopes": scopes}
	if devices != nil {
		body["devices"] = devices
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/apikeys", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.Mint(tb, []string{routes.ScopeAdmin}, nil))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /apikeys: %v", err)
	}
	defer res.Body.Close()
	var k APIKey
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &k) != nil || k.Key == "" {
		tb.Fatalf("POST /apikeys: got %d %s, want 201 with a key", res.StatusCode, raw)
	}
	return k
}

// Invoke calls a function directly, as Lambda's Invoke API does.
func (s *Stack) Invoke(tb testing.TB, fn string, payload []byte) (lambdalocal.Result, error) {
	tb.Helper()
	return s.Stack.Invoke(context.Background(), fn, payload)
}

// bootstraps are built once per test binary, unless make test built them
// (devstack.BootstrapsEnv).
var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

func bootstraps() (string, error) {
	if dir := os.Getenv(devstack.BootstrapsEnv); dir != "" {
		return dir, nil
	}
	buildOnce.Do(func() {
		root, err := bootstrap.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if builtDir, buildErr = os.MkdirTemp("", "stacktest-bootstraps-"); buildErr != nil {
			return
		}
		buildErr = bootstrap.BuildAll(context.Background(), root, bootstrap.HostArch, builtDir)
	})
	return builtDir, buildErr
}

// SyncBuffer is a bytes.Buffer safe for the concurrent writes of several
// function instances.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

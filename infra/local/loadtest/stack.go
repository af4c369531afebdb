package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal"
	"github.com/fleetlog/device-events/infra/local/faultproxy"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/pkg/api"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

const tableName = "device-events"

// stack is the local API as `make run` wires it, over a DynamoDB Local that
// keeps its data in a temporary folder, so that it can be killed and
// restarted without losing what it acknowledged.
type stack struct {
	dir    string
	ddbLog *os.File
	opts   dynamodblocal.Options

	mu  sync.Mutex
	ddb *dynamodblocal.Instance

	// proxy sits between the handlers and DynamoDB Local with -faults.
	proxy *faultproxy.Proxy
	// store reads DynamoDB Local directly, for the checks.
	store *eventstore.Store

	srv   *http.Server
	URL   string
	Token string
}

// startStack starts DynamoDB Local, the table, the five functions and the
// local gateway on a loopback port.
func startStack(ctx context.Context, withFaults bool, seed uint64) (_ *stack, err error) {
	s := &stack{}
	if s.dir, err = os.MkdirTemp("", "loadtest-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.ddbLog, err = os.OpenFile(filepath.Join(s.dir, "dynamodb.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.opts = dynamodblocal.Options{Port: port, DBPath: filepath.Join(s.dir, "db"), Log: s.ddbLog}
	if s.ddb, err = dynamodblocal.Start(ctx, s.opts); err != nil {
		return nil, err
	}
	// The checks read with a client built as the handlers' is (same
	// credentials, so the same database file of DynamoDB Local), but
	// straight to DynamoDB Local, past the fault proxy.
	direct, _, err := api.DynamoDB(ctx, s.ddb.Endpoint)
	if err != nil {
		return nil, err
	}
	if err := dynamodblocal.CreateTable(ctx, direct, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput}, tableName); err != nil {
		return nil, err
	}
	s.store = eventstore.New(direct, tableName, eventstore.Options{})

	endpoint := s.ddb.Endpoint
	if withFaults {
		if s.proxy, err = faultproxy.Start(s.ddb.Endpoint, seed); err != nil {
			return nil, err
		}
		endpoint = s.proxy.URL()
	}
	apiLog, err := os.Create(filepath.Join(s.dir, "api.log"))
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(apiLog, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr}))
	fns, err := functions(ctx, endpoint, logger)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	auth, err := gateway.NewAuth(secret)
	if err != nil {
		return nil, err
	}
	if s.Token, err = auth.Mint(gateway.TokenClaims{Subject: "loadtest", Scopes: []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, TTL: 2 * time.Hour}); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: gateway.New(fns, auth, logger), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	return s, nil
}

// functions builds the five functions over one store as `make run` does:
// the DynamoDB client configured as in Lambda (api.DynamoDB), the default
// retention, a page-token key of this run.
func functions(ctx context.Context, endpoint string, logger *slog.Logger) ([]*api.Function, error) {
	client, _, err := api.DynamoDB(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	signer, err := pagetoken.NewSigner(key)
	if err != nil {
		return nil, err
	}
	deps := api.Deps{
		Store:      eventstore.New(client, tableName, eventstore.Options{}),
		PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil },
		Logger:     logger,
	}
	return api.NewAll(deps)
}

// kill ends DynamoDB Local with SIGKILL, as a crash would.
func (s *stack) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ddb.Kill()
}

// restart starts DynamoDB Local again on the same port and data folder.
// The port may take a moment to be free again after a kill.
func (s *stack) restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var inst *dynamodblocal.Instance
		if inst, err = dynamodblocal.Start(ctx, s.opts); err == nil {
			s.ddb = inst
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return fmt.Errorf("restart DynamoDB Local on port %d: %w", s.opts.Port, err)
}

func (s *stack) close() {
	if s.srv != nil {
		_ = s.srv.Close()
	}
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
	s.mu.Lock()
	s.ddb.Stop()
	s.mu.Unlock()
	if s.ddbLog != nil {
		_ = s.ddbLog.Close()
	}
	if s.dir != "" && os.Getenv("LOADTEST_KEEP") == "" {
		_ = os.RemoveAll(s.dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("no TCP port")
	}
	return addr.Port, nil
}

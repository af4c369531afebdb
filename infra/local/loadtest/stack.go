package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/faultproxy"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/eventstore"
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

	local *devstack.Stack
	srv   *http.Server
	URL   string
	Token string
}

// startStack starts DynamoDB Local, the table, the seven functions and the
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
	direct, err := dynamodblocal.Client(ctx, s.ddb.Endpoint)
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
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	// The functions' bootstraps under the Lambda stand-in, as make run runs
	// them; their calls reach DynamoDB Local (or the fault proxy) through
	// the local AWS endpoint.
	if s.local, err = devstack.Start(ctx, devstack.Config{
		DynamoDB:      endpoint,
		Table:         tableName,
		RetentionDays: int(eventstore.DefaultRetention / (24 * time.Hour)),
		PageTokenKey:  hex.EncodeToString(key),
		JWTSecret:     secret,
		Logs:          apiLog,
	}); err != nil {
		return nil, err
	}
	if s.Token, err = s.local.Auth.Mint(gateway.TokenClaims{Subject: "loadtest", Scopes: []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, TTL: 2 * time.Hour}); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: s.local.Gateway, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	return s, nil
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
	if s.local != nil {
		s.local.Close()
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

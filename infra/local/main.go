// Command local runs the device events API on a laptop as it runs in AWS:
// DynamoDB Local with the table, and the local stack (infra/local/devstack:
// the functions' bootstraps under a Lambda stand-in, their AWS calls held
// against their roles, the API Gateway stand-in in front).
//
//	go run ./infra/local run     [-port 3000] [-persist]                (make run)
//	go run ./infra/local token   [-scopes ...] [-devices ...]           (make token)
//	go run ./infra/local apikey  [-scopes ...] [-devices ...] [-name ...] (make apikey)
//	go run ./infra/local invoke  -fn put-event -event events/x.json [-id ...]  (make invoke)
//	go run ./infra/local invoke  -lifecycle                              (make invoke-lifecycle)
//	go run ./infra/local with-dynamodb -- go test ./...                 (make test)
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/infra/local/lambdalocal"
	"github.com/fleetlog/device-events/infra/local/samples"
	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// stateDir holds the local secrets, the dev token, the bootstraps and,
// with -persist, the data.
const stateDir = ".local"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: local run|token|apikey|invoke|with-dynamodb [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = run(ctx, os.Args[2:])
	case "token":
		err = token(os.Args[2:])
	case "apikey":
		err = apikey(ctx, os.Args[2:])
	case "invoke":
		err = invoke(ctx, os.Args[2:])
	case "with-dynamodb":
		err = withDynamoDB(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// secret returns a hex secret kept in .local/<name>, creating it once.
func secret(name string) ([]byte, error) {
	path := filepath.Join(stateDir, name)
	if b, err := os.ReadFile(path); err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b, os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}

var tableDefinition = dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput}

func tableName() string {
	if t := os.Getenv("TABLE_NAME"); t != "" {
		return t
	}
	return "device-events"
}

func startDynamoDB(ctx context.Context, persist bool) (*dynamodblocal.Instance, error) {
	opts := dynamodblocal.Options{}
	if persist {
		opts.DBPath = filepath.Join(stateDir, "dynamodb")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(stateDir, "dynamodb.log"))
	if err != nil {
		return nil, err
	}
	opts.Log = log
	inst, err := dynamodblocal.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	client, err := dynamodblocal.Client(ctx, inst.Endpoint)
	if err == nil {
		err = dynamodblocal.CreateTable(ctx, client, tableDefinition, tableName())
	}
	if err != nil {
		inst.Stop()
		return nil, err
	}
	return inst, nil
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	port := fs.String("port", envOr("PORT", "3000"), "port to serve the API on")
	registryPort := fs.String("registry-port", envOr("REGISTRY_PORT", "3001"), "port to serve the DeLaval registry's API on")
	keysPort := fs.String("keys-port", envOr("KEYS_PORT", "3002"), "port to serve the key API (device API keys) on")
	persist := fs.Bool("persist", os.Getenv("PERSIST") == "1", "keep the data under .local/dynamodb")
	_ = fs.Parse(args)

	// Bind first: a busy port should fail before anything else starts.
	ln, err := net.Listen("tcp", "127.0.0.1:"+*port)
	if err != nil {
		return fmt.Errorf("port %s: %w (set PORT to use another)", *port, err)
	}
	defer ln.Close()
	registryLn, err := net.Listen("tcp", "127.0.0.1:"+*registryPort)
	if err != nil {
		return fmt.Errorf("port %s: %w (set REGISTRY_PORT to use another)", *registryPort, err)
	}
	defer registryLn.Close()
	keysLn, err := net.Listen("tcp", "127.0.0.1:"+*keysPort)
	if err != nil {
		return fmt.Errorf("port %s: %w (set KEYS_PORT to use another)", *keysPort, err)
	}
	defer keysLn.Close()
	inst, err := startDynamoDB(ctx, *persist)
	if err != nil {
		return err
	}
	defer inst.Stop()
	endpointFile := filepath.Join(stateDir, "dynamodb-endpoint")
	_ = os.WriteFile(endpointFile, []byte(inst.Endpoint+"\n"), 0o600)
	defer os.Remove(endpointFile)

	fmt.Fprintln(os.Stderr, "Building the functions' bootstraps for this machine ...")
	st, err := startStack(ctx, inst.Endpoint, os.Stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := st.Auth.Mint(gateway.TokenClaims{Subject: "dev", Scopes: []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete, routes.ScopeAdmin}, TTL: 30 * 24 * time.Hour})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "dev-token"), []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	srv := &http.Server{Handler: st.Gateway, ReadHeaderTimeout: 10 * time.Second}
	registry := &http.Server{Handler: st.Registry, ReadHeaderTimeout: 10 * time.Second}
	keys := &http.Server{Handler: st.Keys, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = keys.Shutdown(sctx)
		_ = registry.Shutdown(sctx)
		_ = srv.Shutdown(sctx)
	}()
	go func() { _ = registry.Serve(registryLn) }()
	go func() { _ = keys.Serve(keysLn) }()
	base := "http://127.0.0.1:" + *port
	keysBase := "http://127.0.0.1:" + *keysPort
	if err := writeEndpoints(endpoints{API: base, Keys: keysBase}); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(stateDir, endpointsFile))
	fmt.Printf(`Device events API on %s, the key API (device API keys) on %s,
the DeLaval registry's API on http://127.0.0.1:%s (no token)
(DynamoDB Local at %s, table %s%s)
Each function runs as its own bootstrap process, as in Lambda; their logs follow below.
A token with every scope is in %s/dev-token:
  export TOKEN=$(cat %s/dev-token)
  curl -s -X POST %s/devices/dev-1/events -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"type":"door_opened"}'
  curl -s %s/devices/dev-1/events -H "Authorization: Bearer $TOKEN"
Narrower tokens: make token SCOPES="events/read" DEVICES="dev-1".
A device API key, for the key API:
  KEY=$(make -s apikey SCOPES="events/read events/write" DEVICES="dev-1")
  curl -s %s/devices/dev-1/events -H "X-Api-Key: $KEY"
Ctrl-C stops everything.
`, base, keysBase, *registryPort, inst.Endpoint, tableName(), map[bool]string{true: ", data kept in .local/dynamodb", false: ", in memory"}[*persist],
		stateDir, stateDir, base, base, keysBase)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startStack starts the local stack over a DynamoDB Local where the table
// exists, with the bootstraps built for this machine under .local/ and the
// local secrets.
func startStack(ctx context.Context, endpoint string, logs io.Writer) (*devstack.Stack, error) {
	bins := os.Getenv(devstack.BootstrapsEnv)
	if bins == "" {
		root, err := bootstrap.ModuleRoot()
		if err != nil {
			return nil, err
		}
		bins = filepath.Join(root, stateDir, "bootstraps")
		if err := bootstrap.BuildAll(ctx, root, bootstrap.HostArch, bins); err != nil {
			return nil, err
		}
	}
	pageKey, err := secret("page-token-key")
	if err != nil {
		return nil, err
	}
	jwtSecret, err := secret("jwt-secret")
	if err != nil {
		return nil, err
	}
	// Kept under .local/ as the other secrets: with PERSIST=1 the keys
	// made before a restart still work after it.
	pepper, err := secret("key-pepper")
	if err != nil {
		return nil, err
	}
	retention, err := retentionDays()
	if err != nil {
		return nil, err
	}
	return devstack.Start(ctx, devstack.Config{
		DynamoDB:      endpoint,
		Table:         tableName(),
		RetentionDays: retention,
		Bootstraps:    bins,
		PageTokenKey:  hex.EncodeToString(pageKey),
		KeyPepper:     hex.EncodeToString(pepper),
		JWTSecret:     jwtSecret,
		Logs:          logs,
	})
}

// retentionDays reads RETENTION_DAYS as the stack's prop: days, 0 keeps
// events forever, default 90.
func retentionDays() (int, error) {
	v := os.Getenv(routes.EnvRetentionDays)
	if v == "" {
		return int(eventstore.DefaultRetention / (24 * time.Hour)), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q is not a whole number of days", routes.EnvRetentionDays, v)
	}
	return n, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	scopes := fs.String("scopes", routes.ScopeRead+" "+routes.ScopeWrite+" "+routes.ScopeDelete, "scopes, space- or comma-separated")
	devices := fs.String("devices", "", "comma-separated devices the token is limited to (empty: all)")
	sub := fs.String("sub", "dev", "the token's subject")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	_ = fs.Parse(args)
	jwtSecret, err := secret("jwt-secret")
	if err != nil {
		return err
	}
	auth, err := gateway.NewAuth(jwtSecret)
	if err != nil {
		return err
	}
	c := gateway.TokenClaims{Subject: *sub, TTL: *ttl, Scopes: strings.FieldsFunc(*scopes, func(r rune) bool { return r == ' ' || r == ',' })}
	if *devices != "" {
		c.Devices = strings.Split(*devices, ",")
	}
	tok, err := auth.Mint(c)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// endpointsFile, under .local/, names the APIs of a running `make run`,
// for `make apikey`; make run removes it when it stops.
const endpointsFile = "endpoints.json"

// endpoints are the base URLs of a running make run's APIs.
type endpoints struct {
	API  string `json:"api"`
	Keys string `json:"keys"`
}

func writeEndpoints(e endpoints) error {
	b, _ := json.Marshal(e)
	return os.WriteFile(filepath.Join(stateDir, endpointsFile), b, 0o600)
}

// errNotRunning is apikey's error when no make run answers.
var errNotRunning = errors.New("make run is not running: start it (in another terminal) first, then make apikey")

// apikey makes a device API key through the running make run's events API
// (POST /apikeys, with a token of events/admin signed with the local
// secret), as an operator makes one in AWS, and prints it.
func apikey(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("apikey", flag.ExitOnError)
	scopes := fs.String("scopes", routes.ScopeRead+" "+routes.ScopeWrite, "the key's scopes, space- or comma-separated")
	devices := fs.String("devices", "", "comma-separated devices the key is limited to (empty: every device)")
	name := fs.String("name", "", "the key's name (default: local key <time>)")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(filepath.Join(stateDir, endpointsFile))
	if errors.Is(err, os.ErrNotExist) {
		return errNotRunning
	}
	var ep endpoints
	if err != nil || json.Unmarshal(raw, &ep) != nil || ep.API == "" {
		return fmt.Errorf("%s/%s is not make run's: %v", stateDir, endpointsFile, err)
	}
	jwtSecret, err := secret("jwt-secret")
	if err != nil {
		return err
	}
	auth, err := gateway.NewAuth(jwtSecret)
	if err != nil {
		return err
	}
	tok, err := auth.Mint(gateway.TokenClaims{Subject: "make-apikey", Scopes: []string{routes.ScopeAdmin}, TTL: time.Minute})
	if err != nil {
		return err
	}
	if *name == "" {
		*name = "local key " + time.Now().UTC().Format(time.RFC3339)
	}
	body := map[string]any{"name": *name, "scopes": strings.FieldsFunc(*scopes, func(r rune) bool { return r == ' ' || r == ',' })}
	if *devices != "" {
		body["devices"] = strings.Split(*devices, ",")
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.API+"/apikeys", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w (nothing answers at %s: %v)", errNotRunning, ep.API, err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	var made struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(answer, &made) != nil || made.Key == "" {
		return fmt.Errorf("POST %s/apikeys: %d %s", ep.API, res.StatusCode, answer)
	}
	devs := *devices
	if devs == "" {
		devs = "every device"
	}
	// The key alone goes to stdout (KEY=$(make -s apikey ...)); how to use
	// it to stderr.
	fmt.Fprintf(os.Stderr, "Key %s (%s; %s), shown once. Send it to the key API, %s:\n"+
		"  curl -s %s/devices/<device>/events -H \"X-Api-Key: <key>\"\n"+
		"Revoke it: curl -X DELETE %s/apikeys/%s -H \"Authorization: Bearer $(cat %s/dev-token)\"\n",
		made.ID, *scopes, devs, ep.Keys, ep.Keys, ep.API, made.ID, stateDir)
	fmt.Println(made.Key)
	return nil
}

// invoke runs one function on one event file, as `sam local invoke` does:
// its bootstrap under the Lambda stand-in, against $DYNAMODB_ENDPOINT, else
// the DynamoDB Local of a running `make run`, else a fresh one. It prints
// the function's answer and fails when the function returns an error. With
// -id, the event file names that event instead of its own; with
// -lifecycle, it plays the files of one event's life in one stack
// (samples.Lifecycle).
func invoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invoke", flag.ExitOnError)
	fn := fs.String("fn", "", "function: "+strings.Join(routes.Functions, ", "))
	file := fs.String("event", "", "event file, e.g. events/put-event-direct.json")
	id := fs.String("id", "", "the event the event file names instead of its own (get-, patch- and delete-event.json)")
	lifecycle := fs.Bool("lifecycle", false, "store an event with events/put-event.json, then read, patch and delete it with get-, patch- and delete-event.json")
	_ = fs.Parse(args)
	var payload []byte
	if !*lifecycle {
		if _, ok := routes.Deployments[*fn]; !ok {
			return fmt.Errorf("no function %q (one of %s)", *fn, strings.Join(routes.Functions, ", "))
		}
		var err error
		if payload, err = os.ReadFile(*file); err != nil {
			return fmt.Errorf("event file: %w", err)
		}
		if *id != "" {
			if payload, err = samples.WithEventID(payload, *id); err != nil {
				return err
			}
		}
	}
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		if b, err := os.ReadFile(filepath.Join(stateDir, "dynamodb-endpoint")); err == nil {
			endpoint = strings.TrimSpace(string(b))
		}
	}
	if endpoint != "" {
		c, err := dynamodblocal.Client(ctx, endpoint)
		if err == nil {
			err = dynamodblocal.CreateTable(ctx, c, tableDefinition, tableName())
		}
		if err != nil {
			if os.Getenv("DYNAMODB_ENDPOINT") != "" {
				return fmt.Errorf("DYNAMODB_ENDPOINT=%s: %w", endpoint, err)
			}
			endpoint = "" // a stale file: make run is not running
		}
	}
	if endpoint == "" {
		inst, err := startDynamoDB(ctx, false)
		if err != nil {
			return err
		}
		defer inst.Stop()
		endpoint = inst.Endpoint
		fmt.Fprintln(os.Stderr, "(make run is not running: using a fresh in-memory DynamoDB Local)")
	}
	st, err := startStack(ctx, endpoint, os.Stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	call := func(fn string, payload []byte) ([]byte, error) {
		res, err := st.Invoke(ctx, fn, payload)
		var ie *lambdalocal.InvokeError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("Lambda refused the invoke: %d %s: %s", ie.Status, ie.Type, ie.Message)
		}
		if err != nil {
			return nil, err
		}
		fmt.Println(string(res.Payload))
		if res.FunctionError != "" {
			return nil, fmt.Errorf("%s returned a function error", fn)
		}
		return res.Payload, nil
	}
	if *lifecycle {
		return samples.PlayLifecycle("events", func(fn string, payload []byte) ([]byte, error) {
			fmt.Fprintf(os.Stderr, "%s:\n", fn)
			return call(fn, payload)
		})
	}
	_, err = call(*fn, payload)
	return err
}

// withDynamoDB runs a command with DYNAMODB_ENDPOINT pointing at a fresh
// DynamoDB Local, stopped when the command ends.
func withDynamoDB(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("with-dynamodb: no command")
	}
	inst, err := dynamodblocal.Start(ctx, dynamodblocal.Options{})
	if err != nil {
		return err
	}
	defer inst.Stop()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = os.Stdout, os.Stderr, os.Stdin
	cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+inst.Endpoint)
	return cmd.Run()
}

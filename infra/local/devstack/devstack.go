// Package devstack runs the whole service on this machine as the stack
// runs it in AWS, so that what passes here works there:
//
//   - each function's bootstrap, built for this machine from
//     functions/<name>/main.go (the only wiring of the handlers), runs as its
//     own processes under the Lambda stand-in (lambdalocal), with the memory
//     size, timeout and environment the stack gives it (routes.Deployments,
//     routes.Env), and Lambda's payload, timeout and memory limits;
//   - the functions' AWS calls go through the local AWS endpoint (awslocal),
//     which holds each call against the role the stack grants that function
//     (routes.Permissions) and enforces the DynamoDB rules DynamoDB Local
//     skips, then forwards it to DynamoDB Local; the page-token secret and
//     the API keys' pepper are served there too, as Secrets Manager serves
//     them;
//   - the API Gateway stand-ins (gateway) answer HTTP in front of them: the
//     events API, the key API (its authorizer's bootstrap run before each
//     request), and the DeLaval registry's API.
//
// `make run`, `make invoke`, the end-to-end tests and the load test all
// start it.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/infra/local/awslocal"
	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/infra/local/lambdalocal"
	"github.com/fleetlog/device-events/pkg/function"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Local account, region and resources, as ARNs name them.
const (
	Region          = "us-east-1"
	AccountID       = "000000000000"
	pageTokenSecret = "device-events-page-token-key"
	keyPepperSecret = "device-events-key-pepper"
)

// APIIDs are the local APIs' ids, as the events' requestContext.apiId
// carries them and the functions' API_IDS lists them.
var APIIDs = map[routes.API]string{routes.Events: "local", routes.Registry: "local-registry", routes.Keys: "local-keys"}

// PageTokenSecretARN is the local page-token secret's ARN.
var PageTokenSecretARN = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", Region, AccountID, pageTokenSecret)

// KeyPepperSecretARN is the local API keys' pepper's secret's ARN.
var KeyPepperSecretARN = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-GhIjKl", Region, AccountID, keyPepperSecret)

// BootstrapsEnv names a folder of prebuilt bootstraps (<fn>/bootstrap, for
// this machine): `make test` builds them once for every test package.
const BootstrapsEnv = "DEVICE_EVENTS_BOOTSTRAPS"

// Config is what a local stack is made of.
type Config struct {
	// DynamoDB is the endpoint of DynamoDB Local, where Table exists.
	DynamoDB string
	Table    string
	// RetentionDays is the functions' RETENTION_DAYS (0 keeps forever).
	RetentionDays int
	// Bootstraps is a folder holding <fn>/bootstrap for this machine.
	// Empty: $DEVICE_EVENTS_BOOTSTRAPS, else they are built into a
	// temporary folder.
	Bootstraps string
	// PageTokenKey is the page-token secret's value.
	PageTokenKey string
	// KeyPepper is the API keys' pepper's secret's value (at least 32
	// characters). Empty: a random one, so that keys work for this stack's
	// life only.
	KeyPepper string
	// KeyCacheTTL is how long the key authorizer keeps a key it read: zero
	// is its default (as in AWS), negative not at all (for tests of
	// revocation).
	KeyCacheTTL time.Duration
	// JWTSecret signs and checks the local bearer tokens.
	JWTSecret []byte
	// Logs receives the functions' log lines and the local services'
	// refusals; nil discards them.
	Logs io.Writer
	// Permissions are the roles the functions run with; nil is
	// routes.Permissions, what the stack grants.
	Permissions map[string]routes.Access
	// RateLimit and Burst are the stage's throttling; zero does not
	// throttle.
	RateLimit float64
	Burst     int
}

// Stack is a running local stack.
type Stack struct {
	Lambda *lambdalocal.Service
	AWS    *awslocal.Server
	// Gateway serves the events API, Keys the key API, Registry the
	// DeLaval registry's API.
	Gateway  *gateway.Gateway
	Keys     *gateway.Gateway
	Registry *gateway.Gateway
	Auth     *gateway.Auth
	// AWSEndpoint is the local AWS endpoint's URL.
	AWSEndpoint string

	awsServer *http.Server
	tmp       string
}

// Start starts the local AWS endpoint and the Lambda stand-in, and builds
// the gateway in front of them; serving it is the caller's.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.DynamoDB == "" || cfg.Table == "" {
		return nil, errors.New("devstack: DynamoDB and Table are required")
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	if cfg.Permissions == nil {
		cfg.Permissions = routes.Permissions
	}
	if cfg.KeyPepper == "" {
		cfg.KeyPepper = rand.Text() + rand.Text()
	}
	s := &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	bins, err := s.bootstraps(ctx, cfg.Bootstraps)
	if err != nil {
		return nil, err
	}

	principals := map[string]awslocal.Principal{}
	roles := map[string]awslocal.Principal{}
	for _, fn := range routes.Functions {
		p := awslocal.PrincipalFor(fn, cfg.Permissions[fn], awslocal.Resources{Table: cfg.Table, PageTokenSecret: PageTokenSecretARN, KeyPepperSecret: KeyPepperSecretARN}, Region, AccountID)
		principals[p.AccessKeyID] = p
		roles[fn] = p
	}
	s.AWS, err = awslocal.New(awslocal.Options{
		DynamoDB:   cfg.DynamoDB,
		Region:     Region,
		AccountID:  AccountID,
		Principals: principals,
		Secrets:    []awslocal.Secret{{ARN: PageTokenSecretARN, Current: cfg.PageTokenKey}, {ARN: KeyPepperSecretARN, Current: cfg.KeyPepper}},
		Log:        cfg.Logs,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.awsServer = &http.Server{Handler: s.AWS}
	go func() { _ = s.awsServer.Serve(ln) }()
	s.AWSEndpoint = "http://" + ln.Addr().String()

	var fns []lambdalocal.Function
	for _, fn := range routes.Functions {
		env := routes.Env(fn, routes.Settings{Table: cfg.Table, RetentionDays: cfg.RetentionDays,
			PageTokenSecretARN: PageTokenSecretARN, KeyPepperSecretARN: KeyPepperSecretARN, APIIDs: APIIDs})
		if fn == routes.AuthorizeKey && cfg.KeyCacheTTL != 0 {
			env[function.EnvKeyCacheTTL] = max(cfg.KeyCacheTTL, 0).String()
		}
		env["AWS_ACCESS_KEY_ID"] = roles[fn].AccessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = roles[fn].SecretAccessKey
		env["AWS_ENDPOINT_URL_DYNAMODB"] = s.AWSEndpoint
		env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = s.AWSEndpoint
		d := routes.Deployments[fn]
		fns = append(fns, lambdalocal.Function{
			Name:      fn,
			Bootstrap: bootstrap.Path(bins, fn),
			Env:       env,
			MemoryMB:  d.MemoryMB,
			Timeout:   d.Timeout,
		})
	}
	if s.Lambda, err = lambdalocal.New(fns, lambdalocal.Options{Region: Region, AccountID: AccountID, Logs: cfg.Logs}); err != nil {
		return nil, err
	}
	if s.Auth, err = gateway.NewAuth(cfg.JWTSecret); err != nil {
		return nil, err
	}
	s.Gateway = gateway.New(invoker{s.Lambda}, s.Auth, gateway.Options{API: routes.Events, APIID: APIIDs[routes.Events], RateLimit: cfg.RateLimit, Burst: cfg.Burst})
	s.Keys = gateway.New(invoker{s.Lambda}, nil, gateway.Options{API: routes.Keys, APIID: APIIDs[routes.Keys], RateLimit: cfg.RateLimit, Burst: cfg.Burst})
	s.Registry = gateway.New(invoker{s.Lambda}, nil, gateway.Options{API: routes.Registry, APIID: APIIDs[routes.Registry], RateLimit: cfg.RateLimit, Burst: cfg.Burst})
	return s, nil
}

// bootstraps returns the folder of the bootstraps, building them if need be.
func (s *Stack) bootstraps(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(BootstrapsEnv)
	}
	if dir != "" {
		for _, fn := range routes.Functions {
			if _, err := os.Stat(bootstrap.Path(dir, fn)); err != nil {
				return "", fmt.Errorf("devstack: no bootstrap of %s in %s (make build-local builds them): %w", fn, dir, err)
			}
		}
		return filepath.Abs(dir)
	}
	root, err := bootstrap.ModuleRoot()
	if err != nil {
		return "", err
	}
	if s.tmp, err = os.MkdirTemp("", "devstack-bootstraps-"); err != nil {
		return "", err
	}
	return s.tmp, bootstrap.BuildAll(ctx, root, bootstrap.HostArch, s.tmp)
}

// Invoke runs one function on one payload, as Lambda's Invoke API does.
func (s *Stack) Invoke(ctx context.Context, fn string, payload []byte) (lambdalocal.Result, error) {
	return s.Lambda.Invoke(ctx, fn, payload)
}

// Close stops everything Start started.
func (s *Stack) Close() {
	if s.Lambda != nil {
		s.Lambda.Close()
	}
	if s.awsServer != nil {
		_ = s.awsServer.Close()
	}
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// invoker is the gateway's Lambda integration: a function error (a
// *gateway.FunctionError) or a refused invoke fails the request, as API
// Gateway then answers 500 (or, for an authorizer's "Unauthorized", 401).
type invoker struct{ lambda *lambdalocal.Service }

func (i invoker) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	res, err := i.lambda.Invoke(ctx, fn, payload)
	if err != nil {
		return nil, err
	}
	if res.FunctionError != "" {
		var doc struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		if json.Unmarshal(res.Payload, &doc) != nil {
			doc.Message = string(res.Payload)
		}
		return nil, &gateway.FunctionError{Type: doc.Type, Message: doc.Message}
	}
	return res.Payload, nil
}

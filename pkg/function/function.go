// Package function builds a Lambda function of the service from its
// environment, as its main calls it: the configuration (the variables the
// stack sets), the AWS SDK clients (DynamoDB; Secrets Manager for the
// functions that page or hash API keys), tracing, the event store and the
// handlers, into the Lambda handler; or, for the key API's authorizer, the
// authorizer (NewKeyAuthorizer). It is only the Lambda runtime's glue: what
// a request does is the handlers' (pkg/internal/handlers) or the
// authorizer's (pkg/internal/apikeys), how it arrives the adapter's
// (pkg/internal/apigw).
package function

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/apikeys"
	"github.com/fleetlog/device-events/pkg/internal/handlers"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
	"github.com/fleetlog/device-events/pkg/routes"
)

// SecretKeys makes the page-token key loader for the Secrets Manager
// secret arn, with the SDK configuration of the function.
type SecretKeys func(cfg aws.Config, arn string) pagetoken.Source

// KeyPepper makes the loader of the API keys' pepper in the Secrets
// Manager secret arn (pkg/secretkeys.Pepper), for the functions
// that hash keys (api-keys, authorize-key).
type KeyPepper func(cfg aws.Config, arn string) func(context.Context) ([]byte, error)

// Options are what only some functions need, passed in by their mains so
// that only their binaries link it.
type Options struct {
	// PageTokens loads the page-token keys (secretkeys.PageTokens): the
	// functions that page, list-events, delete-event and api-keys.
	PageTokens SecretKeys
	// KeyPepper loads the API keys' pepper: api-keys.
	KeyPepper KeyPepper
	// Zones loads IANA time zones (zoneinfo.Load): aggregate-events.
	Zones func(name string) (*time.Location, error)
}

// Handler is a function's Lambda handler.
type Handler = func(context.Context, json.RawMessage) (any, error)

// The constructors of the functions, one each, for their mains: each
// passes its own operations, so that its binary links only the handlers of
// its routes. opts may be nil for a function that needs none.

// PutEvent builds put-event.
func PutEvent(ctx context.Context, opts *Options) (Handler, error) {
	return newFunction(ctx, routes.PutEvent, handlers.PutEventOperations(), opts)
}

// ListEvents builds list-events.
func ListEvents(ctx context.Context, opts *Options) (Handler, error) {
	return newFunction(ctx, routes.ListEvents, handlers.ListEventsOperations(), opts)
}

// AggregateEvents builds aggregate-events.
func AggregateEvents(ctx context.Context, opts *Options) (Handler, error) {
	return newFunction(ctx, routes.AggregateEvents, handlers.AggregateEventsOperations(), opts)
}

// PatchEvent builds patch-event.
func PatchEvent(ctx context.Context, opts *Options) (Handler, error) {
	return newFunction(ctx, routes.PatchEvent, handlers.PatchEventOperations(), opts)
}

// DeleteEvent builds delete-event.
func DeleteEvent(ctx context.Context, opts *Options) (Handler, error) {
	return newFunction(ctx, routes.DeleteEvent, handlers.DeleteEventOperations(), opts)
}

// APIKeys builds api-keys.
func APIKeys(ctx context.Context, opts *Options) (Handler, error) {
	return newFunction(ctx, routes.APIKeys, handlers.APIKeysOperations(), opts)
}

// newFunction builds the Lambda handler of the named function (one of
// routes.Functions) serving ops, from its environment, as main does: the
// SDK clients once, with timeouts that end a request before Lambda does.
// Nothing here reaches the network: the page-token secret, if any, is
// fetched by the first request that needs it, as is the key pepper.
func newFunction(ctx context.Context, name string, ops handlers.Operations, opts *Options) (Handler, error) {
	if opts == nil {
		opts = &Options{}
	}
	e, err := setup(ctx)
	if err != nil {
		return nil, err
	}
	deps := handlers.Deps{Store: e.store, Logger: e.logger, Zones: opts.Zones, APIs: e.c.APIs}
	switch {
	case e.c.PageTokenSecretARN != "":
		if opts.PageTokens == nil {
			return nil, fmt.Errorf("%s is set, but %s is built without a page-token key loader", routes.EnvPageTokenSecretARN, name)
		}
		src := opts.PageTokens(e.withSecretsManager(), e.c.PageTokenSecretARN)
		deps.PageTokens, deps.ReloadPageTokens = src.Signer, src.Reload
	default:
		// No key configured: tokens are good for this instance only.
		if routes.Permissions[name].PageTokenKey {
			deps.Logger.Warn("no " + routes.EnvPageTokenSecretARN + "; page tokens will not survive a cold start")
		}
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		s, _ := pagetoken.NewSigner(k)
		deps.PageTokens = func(context.Context) (*pagetoken.Signer, error) { return s, nil }
	}
	if deps.KeyPepper, err = e.keyPepper(name, opts.KeyPepper); err != nil {
		return nil, err
	}
	h, err := handlers.NewWith(name, ops, deps)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		return apigw.Invoke(ctx, h, payload)
	}, nil
}

// NewKeyAuthorizer builds the key API's Lambda authorizer (the
// authorize-key function) from its environment, as its main does.
func NewKeyAuthorizer(ctx context.Context, pepper KeyPepper) (func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error), error) {
	e, err := setup(ctx)
	if err != nil {
		return nil, err
	}
	p, err := e.keyPepper(routes.AuthorizeKey, pepper)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%s is not set: the authorizer cannot check keys", routes.EnvKeyPepperSecretARN)
	}
	v := apikeys.NewVerifier(e.store, p, apikeys.VerifierOptions{CacheTTL: e.c.KeyCacheTTL})
	return apikeys.NewAuthorizer(v, e.c.APIs, e.logger).Authorize, nil
}

// env is what every function is built from.
type env struct {
	c      config
	store  *eventstore.Store
	awsCfg aws.Config
	logger *slog.Logger
}

func setup(ctx context.Context) (env, error) {
	c, err := configFromEnv()
	if err != nil {
		return env{}, err
	}
	if err := telemetry.SetupXRay(); err != nil {
		return env{}, err
	}
	db, awsCfg, err := DynamoDB(ctx, Endpoint("DYNAMODB"))
	if err != nil {
		return env{}, err
	}
	return env{c: c, awsCfg: awsCfg, logger: lambdacontext.NewLogger(),
		store: eventstore.New(db, c.Table, eventstore.Options{Retention: c.Retention})}, nil
}

// withSecretsManager is the SDK configuration for Secrets Manager, at its
// local stand-in when the environment names one.
func (e env) withSecretsManager() aws.Config {
	cfg := e.awsCfg.Copy()
	if ep := Endpoint("SECRETS_MANAGER"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg
}

// keyPepper is the pepper loader of function name: nil when it hashes no
// key, or when no secret is configured (sam local), where making or
// checking a key then fails.
func (e env) keyPepper(name string, load KeyPepper) (apikeys.Pepper, error) {
	if e.c.KeyPepperSecretARN == "" {
		if routes.Permissions[name].KeyPepper {
			e.logger.Warn("no " + routes.EnvKeyPepperSecretARN + "; API keys can be neither made nor checked")
		}
		return nil, nil
	}
	if load == nil {
		return nil, fmt.Errorf("%s is set, but %s is built without its loader", routes.EnvKeyPepperSecretARN, name)
	}
	return load(e.withSecretsManager(), e.c.KeyPepperSecretARN), nil
}

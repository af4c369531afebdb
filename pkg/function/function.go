// Package function builds a Lambda function of the service from its
// environment, as its main calls it: the configuration (the variables the
// stack sets), the AWS SDK clients (DynamoDB; Secrets Manager for the
// functions that page), tracing, the event store and the handlers, into the
// Lambda handler. It is only the Lambda runtime's glue: what a request does
// is the handlers' (pkg/internal/handlers), how it arrives the adapter's
// (pkg/internal/apigw).
package function

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/handlers"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
	"github.com/fleetlog/device-events/pkg/routes"
)

// SecretKeys makes the page-token key loader for the Secrets Manager
// secret arn, with the SDK configuration of the function.
type SecretKeys func(cfg aws.Config, arn string) pagetoken.Source

// Options are what only some functions need, passed in by their mains so
// that only their binaries link it.
type Options struct {
	// PageTokens loads the page-token keys (secretkeys.PageTokens): the
	// functions that page, list-events and delete-event.
	PageTokens SecretKeys
	// Zones loads IANA time zones (zoneinfo.Load): aggregate-events.
	Zones func(name string) (*time.Location, error)
}

// New builds the Lambda handler of the named function (one of
// routes.Functions) from its environment, as main does: the SDK clients
// once, with timeouts that end a request before Lambda does. Nothing here
// reaches the network: the page-token secret, if any, is fetched by the
// first request that needs it. opts may be nil for a function that needs
// none.
func New(ctx context.Context, name string, opts *Options) (func(context.Context, json.RawMessage) (any, error), error) {
	if opts == nil {
		opts = &Options{}
	}
	c, err := configFromEnv()
	if err != nil {
		return nil, err
	}
	if err := telemetry.SetupXRay(); err != nil {
		return nil, err
	}
	db, awsCfg, err := DynamoDB(ctx, Endpoint("DYNAMODB"))
	if err != nil {
		return nil, err
	}
	deps := handlers.Deps{
		Store:  eventstore.New(db, c.Table, eventstore.Options{Retention: c.Retention}),
		Logger: lambdacontext.NewLogger(),
		Zones:  opts.Zones,
		APIs:   c.APIs,
	}
	switch {
	case c.PageTokenSecretARN != "":
		if opts.PageTokens == nil {
			return nil, fmt.Errorf("%s is set, but %s is built without a page-token key loader", routes.EnvPageTokenSecretARN, name)
		}
		if e := Endpoint("SECRETS_MANAGER"); e != "" {
			awsCfg.BaseEndpoint = aws.String(e)
		}
		src := opts.PageTokens(awsCfg, c.PageTokenSecretARN)
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
	h, err := handlers.New(name, deps)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		return apigw.Invoke(ctx, h, payload)
	}, nil
}

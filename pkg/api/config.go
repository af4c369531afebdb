package api

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/logging"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Config is what a function reads from its environment: the variables the
// stack sets (routes.Env)
//
//	TABLE_NAME             the events table (required)
//	RETENTION_DAYS         days an event is kept after its time; 0 keeps
//	                       events forever (default 90)
//	PAGE_TOKEN_SECRET_ARN  Secrets Manager secret holding the page-token key
//	API_IDS                the API Gateway APIs whose events are served,
//	                       <api>=<id>,... (unset: any, see Deps.APIs)
//
// and, as Lambda sets them, AWS_REGION and AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (see DynamoDB). The SDK's own
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER and
// AWS_ENDPOINT_URL send the calls elsewhere: the local stack's stand-ins.
// Lambda sets none of them, and the stack neither.
type Config struct {
	Table              string
	Retention          time.Duration
	PageTokenSecretARN string
	APIs               map[string]routes.API
}

// ConfigFromEnv reads the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Table:              os.Getenv(routes.EnvTable),
		PageTokenSecretARN: os.Getenv(routes.EnvPageTokenSecretARN),
		Retention:          eventstore.DefaultRetention,
	}
	if c.Table == "" {
		return c, errors.New(routes.EnvTable + " is not set")
	}
	apis, err := routes.ParseAPIIDs(os.Getenv(routes.EnvAPIIDs))
	if err != nil {
		return c, err
	}
	c.APIs = apis
	if v := os.Getenv(routes.EnvRetentionDays); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 0 {
			return c, fmt.Errorf("%s=%q is not a whole number of days", routes.EnvRetentionDays, v)
		}
		c.Retention = time.Duration(days) * 24 * time.Hour
		if days == 0 {
			c.Retention = -1 // keep forever
		}
	}
	return c, nil
}

// Endpoint is the endpoint the environment gives an AWS service, as the
// SDK's shared configuration reads it: AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL; empty means the service's regional endpoint. service is
// the SDK's service id in the variables' form (DYNAMODB, SECRETS_MANAGER).
func Endpoint(service string) string {
	if v := os.Getenv("AWS_ENDPOINT_URL_" + service); v != "" {
		return v
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

// Storage timeouts. A Lambda behind API Gateway has 10 s; a request must
// end inside that with a 503 rather than hang when DynamoDB is slow or
// unreachable: three attempts of at most 2.5 s each, backing off up to
// 500 ms between them.
const (
	attemptTimeout = 2500 * time.Millisecond
	maxAttempts    = 3
	maxBackoff     = 500 * time.Millisecond
)

// SecretKeys makes the page-token key loader for the Secrets Manager
// secret arn, with the SDK configuration of the function. Only the
// functions that page (list-events, delete-event) pass one to NewFromEnv:
// the Secrets Manager client is then linked into their binaries alone.
type SecretKeys func(cfg aws.Config, arn string) pagetoken.Source

// NewFromEnv builds a function from its environment, as main does: the SDK
// clients once, with timeouts that end a request before Lambda does.
// Nothing here reaches the network: the page-token secret, if any, is
// fetched by the first request that needs it. secretKeys may be nil for a
// function that never pages.
func NewFromEnv(ctx context.Context, name string, secretKeys SecretKeys) (*Function, error) {
	c, err := ConfigFromEnv()
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
	deps := Deps{
		Store:  eventstore.New(db, c.Table, eventstore.Options{Retention: c.Retention}),
		Logger: lambdacontext.NewLogger(),
		APIs:   c.APIs,
	}
	switch {
	case c.PageTokenSecretARN != "":
		if secretKeys == nil {
			return nil, fmt.Errorf("%s is set, but %s is built without a Secrets Manager client", routes.EnvPageTokenSecretARN, name)
		}
		if e := Endpoint("SECRETS_MANAGER"); e != "" {
			awsCfg.BaseEndpoint = aws.String(e)
		}
		src := secretKeys(awsCfg, c.PageTokenSecretARN)
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
	return New(name, deps)
}

// DynamoDB returns the client the functions use: each attempt times out,
// retries are few and short, so a request ends inside the function's
// timeout with a 503 rather than hanging. endpoint, when set, is another
// DynamoDB (DynamoDB Local), reached with placeholder credentials and
// region unless the environment has some.
//
// The configuration is built from the environment Lambda gives a function
// (AWS_REGION, and AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN for the execution role), not with
// config.LoadDefaultConfig: that would link the whole credential chain
// (shared files, SSO, STS, IMDS, credential processes) into every binary,
// a third of its size, for sources a function never uses, and read the
// shared config files at every cold start.
func DynamoDB(ctx context.Context, endpoint string) (*dynamodb.Client, aws.Config, error) {
	awsCfg, err := configFromEnv(endpoint)
	if err != nil {
		return nil, aws.Config{}, fmt.Errorf("AWS config: %w", err)
	}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.TracerProvider = telemetry.TracerProvider()
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.DisableValidateResponseChecksum = true // DynamoDB Local's checksums are wrong
		}
	})
	return db, awsCfg, nil
}

func configFromEnv(endpoint string) (aws.Config, error) {
	// A plain-HTTP endpoint (DynamoDB Local) needs no CA bundle, and one
	// that cannot be read must not stop a local run.
	client, err := httpClient(!strings.HasPrefix(endpoint, "http://"))
	if err != nil {
		return aws.Config{}, err
	}
	cfg := aws.Config{
		Region:     os.Getenv("AWS_REGION"),
		HTTPClient: client,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
			})
		},
		Logger: logging.NewStandardLogger(os.Stderr),
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	case endpoint != "":
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	default:
		return cfg, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them for the execution role)")
	}
	switch {
	case cfg.Region != "":
	case endpoint != "":
		// DynamoDB Local keeps a database per region: the one the local
		// tools create the table in.
		cfg.Region = "us-east-1"
	case os.Getenv("AWS_DEFAULT_REGION") != "":
		cfg.Region = os.Getenv("AWS_DEFAULT_REGION")
	default:
		return cfg, errors.New("AWS_REGION is not set")
	}
	return cfg, nil
}

// httpClient is the SDK's own HTTP client, with the attempt timeout and,
// as config.LoadDefaultConfig would add, the certificates of AWS_CA_BUNDLE
// as the only trusted roots (a proxy that inspects TLS, on a laptop).
func httpClient(useCABundle bool) (*awshttp.BuildableClient, error) {
	client := awshttp.NewBuildableClient().WithTimeout(attemptTimeout)
	path := os.Getenv("AWS_CA_BUNDLE")
	if path == "" || !useCABundle {
		return client, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("AWS_CA_BUNDLE: no certificate in %s", path)
	}
	return client.WithTransportOptions(func(t *http.Transport) {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.RootCAs = roots
	}), nil
}

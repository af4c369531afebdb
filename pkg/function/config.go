package function

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// config is what a function reads from its environment: the variables the
// stack sets (routes.Env)
//
//	TABLE_NAME             the events table (required)
//	RETENTION_DAYS         days an event is kept after its time; 0 keeps
//	                       events forever (default 90)
//	PAGE_TOKEN_SECRET_ARN  Secrets Manager secret holding the page-token key
//	KEY_PEPPER_SECRET_ARN  Secrets Manager secret holding the API keys' pepper
//	API_IDS                the API Gateway APIs whose events are served,
//	                       <api>=<id>,... (unset: any, see handlers.Deps.APIs)
//
// and one the stack never sets, for tests of revocation: KEY_CACHE_TTL,
// how long the key authorizer keeps a key it read (a Go duration; unset:
// apikeys.DefaultCacheTTL, 0: not at all).
//
// and, as Lambda sets them, AWS_REGION and AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (see DynamoDB). The SDK's own
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER and
// AWS_ENDPOINT_URL send the calls elsewhere: the local stack's stand-ins.
// Lambda sets none of them, and the stack neither.
type config struct {
	Table              string
	Retention          time.Duration
	PageTokenSecretARN string
	KeyPepperSecretARN string
	APIs               map[string]routes.API
	// KeyCacheTTL is the key authorizer's cache time: 0 the default,
	// negative none.
	KeyCacheTTL time.Duration
}

// EnvKeyCacheTTL is the variable of config.KeyCacheTTL.
const EnvKeyCacheTTL = "KEY_CACHE_TTL"

// configFromEnv reads the environment.
func configFromEnv() (config, error) {
	c := config{
		Table:              os.Getenv(routes.EnvTable),
		PageTokenSecretARN: os.Getenv(routes.EnvPageTokenSecretARN),
		KeyPepperSecretARN: os.Getenv(routes.EnvKeyPepperSecretARN),
		Retention:          eventstore.DefaultRetention,
	}
	if v := os.Getenv(EnvKeyCacheTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("%s=%q is not a duration of 0 or more", EnvKeyCacheTTL, v)
		}
		c.KeyCacheTTL = d
		if d == 0 {
			c.KeyCacheTTL = -1 // no cache
		}
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

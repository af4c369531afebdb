package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/pagetoken"
)

// Config is what a function reads from its environment:
//
//	TABLE_NAME             the events table (required)
//	RETENTION_DAYS         days an event is kept after its time; 0 keeps
//	                       events forever (default 90)
//	DYNAMODB_ENDPOINT      another DynamoDB endpoint, e.g. DynamoDB Local
//	PAGE_TOKEN_SECRET_ARN  Secrets Manager secret holding the page-token key
//	PAGE_TOKEN_KEY         the key itself, hex, for local runs
type Config struct {
	Table              string
	Retention          time.Duration
	Endpoint           string
	PageTokenKey       []byte
	PageTokenSecretARN string
}

// ConfigFromEnv reads the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Table:              os.Getenv("TABLE_NAME"),
		Endpoint:           os.Getenv("DYNAMODB_ENDPOINT"),
		PageTokenSecretARN: os.Getenv("PAGE_TOKEN_SECRET_ARN"),
		Retention:          eventstore.DefaultRetention,
	}
	if c.Table == "" {
		return c, errors.New("TABLE_NAME is not set")
	}
	if v := os.Getenv("RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 0 {
			return c, fmt.Errorf("RETENTION_DAYS=%q is not a whole number of days", v)
		}
		c.Retention = time.Duration(days) * 24 * time.Hour
		if days == 0 {
			c.Retention = -1 // keep forever
		}
	}
	if v := os.Getenv("PAGE_TOKEN_KEY"); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil || len(k) < 16 {
			return c, errors.New("PAGE_TOKEN_KEY must be at least 32 hex digits")
		}
		c.PageTokenKey = k
	}
	return c, nil
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

// NewFromEnv builds a function from its environment, as main does: the SDK
// clients once, with timeouts that end a request before Lambda does.
func NewFromEnv(ctx context.Context, name string) (*Function, error) {
	c, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	db, awsCfg, err := DynamoDB(ctx, c.Endpoint)
	if err != nil {
		return nil, err
	}
	deps := Deps{
		Store:  eventstore.New(db, c.Table, eventstore.Options{Retention: c.Retention}),
		Logger: lambdacontext.NewLogger(),
	}
	switch {
	case c.PageTokenKey != nil:
		s, err := pagetoken.NewSigner(c.PageTokenKey)
		if err != nil {
			return nil, err
		}
		deps.PageTokens = func(context.Context) (*pagetoken.Signer, error) { return s, nil }
	case c.PageTokenSecretARN != "":
		deps.PageTokens = (&secretKeys{client: secretsmanager.NewFromConfig(awsCfg), arn: c.PageTokenSecretARN}).load
	default:
		// No key configured: tokens are good for this instance only.
		deps.Logger.Warn("no PAGE_TOKEN_KEY or PAGE_TOKEN_SECRET_ARN; page tokens will not survive a cold start")
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
// DynamoDB (DynamoDB Local), reached with placeholder credentials unless
// the environment has some.
func DynamoDB(ctx context.Context, endpoint string) (*dynamodb.Client, aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
			})
		}),
		// The SDK's own client, so that AWS_CA_BUNDLE still applies.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(attemptTimeout)),
	}
	if endpoint != "" {
		if os.Getenv("AWS_REGION") == "" {
			opts = append(opts, config.WithRegion("us-east-1"))
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, aws.Config{}, fmt.Errorf("AWS config: %w", err)
	}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.DisableValidateResponseChecksum = true // DynamoDB Local's checksums are wrong
		}
	})
	return db, awsCfg, nil
}

// secretKeys loads the page-token keys from Secrets Manager on first use
// and again every refresh: the current version signs, the previous one still
// verifies, so tokens issued before a rotation keep working.
type secretKeys struct {
	client interface {
		GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	}
	arn string

	mu     sync.Mutex
	cached *pagetoken.Signer
	loaded time.Time
}

const keyRefresh = 5 * time.Minute

func (k *secretKeys) load(ctx context.Context) (*pagetoken.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached != nil && time.Since(k.loaded) < keyRefresh {
		return k.cached, nil
	}
	var keys [][]byte
	for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
		out, err := k.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(k.arn), VersionStage: aws.String(stage)})
		var nf *types.ResourceNotFoundException
		if stage == "AWSPREVIOUS" && errors.As(err, &nf) {
			break
		}
		if err != nil {
			if k.cached != nil {
				return k.cached, nil // keep serving with the keys we have
			}
			return nil, fmt.Errorf("page-token key: %w", err)
		}
		keys = append(keys, []byte(aws.ToString(out.SecretString)))
	}
	s, err := pagetoken.NewSigner(keys...)
	if err != nil {
		return nil, err
	}
	k.cached, k.loaded = s, time.Now()
	return s, nil
}

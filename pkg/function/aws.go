package function

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/logging"

	"github.com/fleetlog/device-events/pkg/internal/telemetry"
)

// Storage timeouts. A Lambda behind API Gateway has 10 s; a request must
// end inside that with a 503 rather than hang when DynamoDB is slow or
// unreachable: three attempts of at most 2.5 s each, backing off up to
// 500 ms between them.
const (
	attemptTimeout = 2500 * time.Millisecond
	maxAttempts    = 3
	maxBackoff     = 500 * time.Millisecond
)

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
	awsCfg, err := awsConfig(endpoint)
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

func awsConfig(endpoint string) (aws.Config, error) {
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

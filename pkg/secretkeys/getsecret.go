package secretkeys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/restjson"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// secretsManager makes the one Secrets Manager call the page-token keys
// need, GetSecretValue: a SigV4-signed POST of the service's JSON 1.1
// protocol, two fields in and one out. Not the SDK's client: it links
// 262 KB (serializers of every operation, endpoint rules, schemas) and
// 0.2 ms of package init into list-events and delete-event, for this.
// What the client would add is taken from the SDK's own pieces, so that
// it behaves alike: its signer, its error decoding (restjson) and the
// function's retryer, which tells throttling, server and connection
// errors from the rest and spaces the attempts. Only the retryer's token
// bucket is left out: a function asks for the keys at most every 30 s.
type secretsManager struct {
	region   string
	endpoint string
	creds    aws.CredentialsProvider
	client   aws.HTTPClient
	retryer  aws.Retryer
	signer   *v4.Signer
}

// newSecretsManager reads cfg as the SDK's client would: its region,
// credentials, HTTP client and retryer, and BaseEndpoint (the function's
// AWS_ENDPOINT_URL_SECRETS_MANAGER) over the regional endpoint.
func newSecretsManager(cfg aws.Config) *secretsManager {
	c := &secretsManager{region: cfg.Region, endpoint: aws.ToString(cfg.BaseEndpoint), creds: cfg.Credentials,
		client: cfg.HTTPClient, signer: v4.NewSigner()}
	if c.endpoint == "" {
		c.endpoint = "https://secretsmanager." + cfg.Region + ".amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") { // the China partition
			c.endpoint += ".cn"
		}
	}
	if c.client == nil {
		c.client = awshttp.NewBuildableClient()
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	} else {
		c.retryer = retry.NewStandard()
	}
	return c
}

// apiError is an error Secrets Manager answered, with the methods of the
// SDK's (smithy.APIError and the HTTP status), which the retryer reads.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("Secrets Manager GetSecretValue: %d %s: %s", e.status, e.code, e.message)
}
func (e *apiError) ErrorCode() string    { return e.code }
func (e *apiError) ErrorMessage() string { return e.message }
func (e *apiError) HTTPStatusCode() int  { return e.status }
func (e *apiError) ErrorFault() smithy.ErrorFault {
	if e.status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

var _ smithy.APIError = (*apiError)(nil)

// getSecretString reads the secret string of the version of secret id
// that has the staging label stage, in as many attempts as the retryer
// allows.
func (c *secretsManager) getSecretString(ctx context.Context, id, stage string) (string, error) {
	body, err := json.Marshal(struct{ SecretId, VersionStage string }{id, stage})
	if err != nil {
		return "", err
	}
	for attempt := 1; ; attempt++ {
		s, err := c.call(ctx, body)
		if err == nil || attempt >= c.retryer.MaxAttempts() || !c.retryer.IsErrorRetryable(err) || ctx.Err() != nil {
			return s, err
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return "", err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", err
		case <-t.C:
		}
	}
}

// maxAnswer bounds what is read of an answer: a secret is at most 64 KB.
const maxAnswer = 1 << 20

// call makes one attempt.
func (c *secretsManager) call(ctx context.Context, body []byte) (string, error) {
	if c.creds == nil {
		return "", errors.New("Secrets Manager: no credentials")
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("Secrets Manager: credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "secretsmanager", c.region, time.Now()); err != nil {
		return "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// As the SDK wraps it: a connection error, which the retryer retries.
		return "", &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return "", &smithyhttp.RequestSendError{Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		e := &apiError{status: resp.StatusCode, code: "UnknownError", message: http.StatusText(resp.StatusCode)}
		if h := resp.Header.Get("X-Amzn-ErrorType"); h != "" {
			e.code = restjson.SanitizeErrorCode(h)
		}
		code, msg, _ := restjson.GetErrorInfo(json.NewDecoder(bytes.NewReader(answer)))
		if code != "" {
			e.code = code
		}
		if msg != "" {
			e.message = msg
		}
		return "", e
	}
	var out struct{ SecretString string }
	if err := json.Unmarshal(answer, &out); err != nil {
		return "", fmt.Errorf("Secrets Manager GetSecretValue: the answer: %w", err)
	}
	return out.SecretString, nil
}

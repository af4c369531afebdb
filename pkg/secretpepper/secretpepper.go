// Package secretpepper loads the pepper of the API keys' hashes from AWS
// Secrets Manager. It is a package of its own, as pkg/secretkeys is for the
// page-token keys, so that only the functions that hash keys (api-keys and
// authorize-key) link the Secrets Manager client: their mains pass
// FromSecret to pkg/function.
package secretpepper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// MinLength is the shortest pepper taken, in bytes: the stack's is 64 hex
// characters.
const MinLength = 32

// retryAfter spaces the reads of a secret that could not be read, so that
// an outage does not make every request a Secrets Manager call.
const retryAfter = 5 * time.Second

// FromSecret returns the pepper held (as its AWSCURRENT string) in the
// secret arn: read on first use, not at start, and kept for the life of
// the instance. A pepper is never rotated: every key's hash is made with
// it, so a new pepper would revoke every key. It has the type of
// function.KeyPepper.
func FromSecret(cfg aws.Config, arn string) func(context.Context) ([]byte, error) {
	l := &loader{client: secretsmanager.NewFromConfig(cfg), arn: arn, now: time.Now}
	return l.load
}

type loader struct {
	client interface {
		GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	}
	arn string
	now func() time.Time

	mu     sync.Mutex
	pepper []byte
	failed time.Time
	err    error
}

func (l *loader) load(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pepper != nil {
		return l.pepper, nil
	}
	if l.err != nil && l.now().Sub(l.failed) < retryAfter {
		return nil, l.err
	}
	out, err := l.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(l.arn)})
	switch {
	case err != nil:
		l.err = fmt.Errorf("read the key pepper: %w", err)
	case len(aws.ToString(out.SecretString)) < MinLength:
		l.err = errors.New("the key pepper's secret is shorter than 32 characters")
	default:
		l.pepper, l.err = []byte(aws.ToString(out.SecretString)), nil
		return l.pepper, nil
	}
	l.failed = l.now()
	return nil, l.err
}

package secretkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The API keys' pepper (pkg/internal/apikeys) is read here too, by the
// same GetSecretValue, for api-keys and authorize-key.

// MinPepperLength is the shortest pepper taken, in bytes: the stack's is 64 hex
// characters.
const MinPepperLength = 32

// pepperRetryAfter spaces the reads of a secret that could not be read, so that
// an outage does not make every request a Secrets Manager call.
const pepperRetryAfter = 5 * time.Second

// Pepper returns the pepper held (as its AWSCURRENT string) in the
// secret arn: read on first use, not at start, and kept for the life of
// the instance. A pepper is never rotated: every key's hash is made with
// it, so a new pepper would revoke every key. It has the type of
// function.KeyPepper.
func Pepper(cfg aws.Config, arn string) func(context.Context) ([]byte, error) {
	l := &pepperLoader{client: newSecretsManager(cfg), arn: arn, now: time.Now}
	return l.load
}

type pepperLoader struct {
	client *secretsManager
	arn    string
	now    func() time.Time

	mu     sync.Mutex
	pepper []byte
	failed time.Time
	err    error
}

func (l *pepperLoader) load(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pepper != nil {
		return l.pepper, nil
	}
	if l.err != nil && l.now().Sub(l.failed) < pepperRetryAfter {
		return nil, l.err
	}
	s, err := l.client.getSecretString(ctx, l.arn, "AWSCURRENT")
	switch {
	case err != nil:
		l.err = fmt.Errorf("read the key pepper: %w", err)
	case len(s) < MinPepperLength:
		l.err = errors.New("the key pepper's secret is shorter than 32 characters")
	default:
		l.pepper, l.err = []byte(s), nil
		return l.pepper, nil
	}
	l.failed = l.now()
	return nil, l.err
}

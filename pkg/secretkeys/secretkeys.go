// Package secretkeys loads the secrets the functions read from AWS Secrets
// Manager: the page-token keys (PageTokens) and the API keys' pepper
// (Pepper). It is a package of its own so that only the functions that
// need one (list-events, delete-event, api-keys, authorize-key) link it:
// their mains pass its loaders to pkg/function.
package secretkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
)

// PageTokens returns the page-token keys held in the secret arn as a
// pagetoken.Source: read on first use, not at start, and again every
// refresh. It has the type of function.SecretKeys.
func PageTokens(cfg aws.Config, arn string) pagetoken.Source {
	return &keys{client: newSecretsManager(cfg), arn: arn, now: time.Now}
}

// keys loads the page-token keys: the current version signs, the previous
// one still verifies, so tokens issued before a rotation keep working.
type keys struct {
	client *secretsManager
	arn    string
	now    func() time.Time

	mu      sync.Mutex
	cached  *pagetoken.Signer
	tried   time.Time // the last read, whether it worked or not
	current string    // the AWSCURRENT value the cache holds
}

const (
	// refresh is how long the keys are used before they are read again.
	refresh = 5 * time.Minute
	// minReload spaces reads forced by a token of an unknown key, or made
	// while Secrets Manager fails, so that neither forged tokens nor an
	// outage turn every request into a Secrets Manager call.
	minReload = 30 * time.Second
)

// Signer returns the signer, reading the keys when the cache is older than
// refresh.
func (k *keys) Signer(ctx context.Context) (*pagetoken.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached != nil && k.now().Sub(k.tried) < refresh {
		return k.cached, nil
	}
	return k.read(ctx)
}

// Reload reads the keys now, unless it read them less than minReload ago.
func (k *keys) Reload(ctx context.Context) (*pagetoken.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached != nil && k.now().Sub(k.tried) < minReload {
		return k.cached, nil
	}
	return k.read(ctx)
}

// read reads the keys. While it fails it serves the keys it has, if any,
// and tries again after minReload.
func (k *keys) read(ctx context.Context) (*pagetoken.Signer, error) {
	signer, current, err := k.fetch(ctx)
	if err != nil {
		if k.cached != nil {
			k.tried = k.now().Add(minReload - refresh) // try again in minReload
			return k.cached, nil
		}
		return nil, fmt.Errorf("%w: %w", pagetoken.ErrKeyUnavailable, err)
	}
	k.cached, k.current, k.tried = signer, current, k.now()
	return signer, nil
}

func (k *keys) fetch(ctx context.Context) (*pagetoken.Signer, string, error) {
	var values []string
	for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
		v, err := k.client.getSecretString(ctx, k.arn, stage)
		var ae *apiError
		if stage == "AWSPREVIOUS" && errors.As(err, &ae) && ae.code == "ResourceNotFoundException" {
			break // never rotated yet
		}
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", stage, err)
		}
		values = append(values, v)
	}
	keys := make([][]byte, len(values))
	for i, v := range values {
		keys[i] = []byte(v)
	}
	s, err := pagetoken.NewSigner(keys...)
	if err != nil {
		return nil, "", fmt.Errorf("the secret is not a usable key: %w", err)
	}
	return s, values[0], nil
}

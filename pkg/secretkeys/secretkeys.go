// Package secretkeys loads the page-token keys from AWS Secrets Manager. It
// is a package of its own so that only the functions that page (list-events
// and delete-event) link the Secrets Manager client: their mains pass
// PageTokens to api.NewFromEnv.
package secretkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/fleetlog/device-events/pkg/pagetoken"
)

// PageTokens returns the loader of the page-token keys held in the secret
// arn: it reads them on first use, not at start, and again every refresh.
// It has the type of api.SecretKeys.
func PageTokens(cfg aws.Config, arn string) func(ctx context.Context) (*pagetoken.Signer, error) {
	return (&keys{client: secretsmanager.NewFromConfig(cfg), arn: arn}).load
}

// keys loads the page-token keys on first use and again every refresh: the
// current version signs, the previous one still verifies, so tokens issued
// before a rotation keep working.
type keys struct {
	client interface {
		GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	}
	arn string

	mu     sync.Mutex
	cached *pagetoken.Signer
	loaded time.Time
}

const refresh = 5 * time.Minute

func (k *keys) load(ctx context.Context) (*pagetoken.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached != nil && time.Since(k.loaded) < refresh {
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

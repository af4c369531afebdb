package secretkeys

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSecrets holds a secret's versions by stage; err, when set, fails
// every call.
type fakeSecrets struct {
	stages map[string]string
	err    error
	calls  int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.stages[aws.ToString(in.VersionStage)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such version")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

const (
	current  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	previous = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

func TestTokensOfThePreviousKeyStillVerify(t *testing.T) {
	ctx := context.Background()
	old := &keys{client: &fakeSecrets{stages: map[string]string{"AWSCURRENT": previous}}, arn: "arn"}
	oldSigner, err := old.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok := oldSigner.Encode("query", "cursor")
	rotated := &keys{client: &fakeSecrets{stages: map[string]string{"AWSCURRENT": current, "AWSPREVIOUS": previous}}, arn: "arn"}
	s, err := rotated.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Decode("query", tok); err != nil || got != "cursor" {
		t.Fatalf("a token of the previous key: %q, %v; want it accepted", got, err)
	}
}

func TestKeysAreReadOnceAndKeptWhenSecretsManagerFails(t *testing.T) {
	ctx := context.Background()
	fake := &fakeSecrets{stages: map[string]string{"AWSCURRENT": current}}
	k := &keys{client: fake, arn: "arn"}
	first, err := k.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.load(ctx); err != nil || fake.calls != 2 { // AWSCURRENT, and AWSPREVIOUS not found
		t.Fatalf("second load: %v after %d calls; want the cached keys after 2", err, fake.calls)
	}
	k.loaded = k.loaded.Add(-2 * refresh)
	fake.err = errors.New("unreachable")
	if s, err := k.load(ctx); err != nil || s != first {
		t.Fatalf("load with Secrets Manager down: %v, %v; want the keys already read", s, err)
	}
	empty := &keys{client: &fakeSecrets{err: errors.New("unreachable")}, arn: "arn"}
	if _, err := empty.load(ctx); err == nil {
		t.Fatal("load with no keys and Secrets Manager down: no error")
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetlog/device-events/pkg/pagetoken"
	"github.com/fleetlog/device-events/pkg/secretkeys"
)

// keyRefresh is how long the page-token keys are kept before Secrets
// Manager is asked again (secretkeys' refresh).
const keyRefresh = 5 * time.Minute

// The page-token keys, as a Secrets Manager rotation stages them.
var (
	keyBefore = strings.Repeat("k1", 16)
	keyAfter  = strings.Repeat("k2", 16)
)

const (
	tokenQuery  = `v1|d1||0|0|""|[]|[]|false`
	tokenCursor = "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
)

// TestPageTokenKeysFromSecretsManager runs the page-token key loader the
// paging functions use against a fake Secrets Manager. Each case runs in a
// synctest bubble: its clock is fake, so passing the refresh interval
// takes no time and nothing waits for real.
func TestPageTokenKeysFromSecretsManager(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, sm *fakeSecretsManager, load func() (*pagetoken.Signer, error))
	}{
		{"tokens issued under the previous key still decode after a rotation", func(t *testing.T, sm *fakeSecretsManager, load func() (*pagetoken.Signer, error)) {
			before := mustLoad(t, load)
			tok := before.Encode(tokenQuery, tokenCursor)
			sm.rotate(keyAfter)
			time.Sleep(keyRefresh)
			after := mustLoad(t, load)
			if got, err := after.Decode(tokenQuery, tok); err != nil || got != tokenCursor {
				t.Fatalf("after the rotation, a token of the previous key: %q, %v; want %q", got, err, tokenCursor)
			}
			if newTok := after.Encode(tokenQuery, tokenCursor); newTok == tok {
				t.Fatalf("after the rotation, tokens are still signed with the previous key")
			}
			// A cold start after the rotation reads both stages too.
			cold := secretkeys.PageTokens(sm.config(), sm.arn)
			if s, err := cold(t.Context()); err != nil {
				t.Fatalf("a cold start after the rotation: %v", err)
			} else if got, err := s.Decode(tokenQuery, tok); err != nil || got != tokenCursor {
				t.Fatalf("a cold start after the rotation, a token of the previous key: %q, %v; want %q", got, err, tokenCursor)
			}
		}},
		{"the key is read again only once the refresh interval has passed", func(t *testing.T, sm *fakeSecretsManager, load func() (*pagetoken.Signer, error)) {
			first := mustLoad(t, load)
			tok := first.Encode(tokenQuery, tokenCursor)
			calls := sm.calls
			sm.rotate(keyAfter)
			time.Sleep(keyRefresh - time.Second)
			if s := mustLoad(t, load); sm.calls != calls || s.Encode(tokenQuery, tokenCursor) != tok {
				t.Fatalf("before the refresh interval: %d calls to Secrets Manager, want %d, and the cached key", sm.calls, calls)
			}
			time.Sleep(time.Second)
			if s := mustLoad(t, load); sm.calls == calls || s.Encode(tokenQuery, tokenCursor) == tok {
				t.Fatalf("once the refresh interval passed: %d calls to Secrets Manager, want more than %d, and the new key", sm.calls, calls)
			}
		}},
		{"a Secrets Manager failure after a first load keeps serving the cached keys", func(t *testing.T, sm *fakeSecretsManager, load func() (*pagetoken.Signer, error)) {
			first := mustLoad(t, load)
			tok := first.Encode(tokenQuery, tokenCursor)
			for _, fail := range []failure{failDown, failDenied} {
				sm.fail = fail
				time.Sleep(keyRefresh)
				s, err := load()
				if err != nil || s == nil {
					t.Fatalf("with Secrets Manager failing (%s): %v, want the cached keys", fail, err)
				}
				if got, err := s.Decode(tokenQuery, tok); err != nil || got != tokenCursor {
					t.Fatalf("with Secrets Manager failing (%s), a token of the cached key: %q, %v; want %q", fail, got, err, tokenCursor)
				}
			}
		}},
		{"a Secrets Manager failure before any load is an error, and the next load retries", func(t *testing.T, sm *fakeSecretsManager, load func() (*pagetoken.Signer, error)) {
			sm.fail = failDown
			s, err := load()
			if err == nil || s != nil {
				t.Fatalf("with Secrets Manager down from the start: %v, %v; want an error and no signer", s, err)
			}
			if !errors.Is(err, errSecretsManagerDown) {
				t.Fatalf("the error %v does not wrap Secrets Manager's failure", err)
			}
			sm.fail = failNone
			if _, err := load(); err != nil {
				t.Fatalf("once Secrets Manager is back: %v, want the keys", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sm := &fakeSecretsManager{arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:page-token-key-AbCdEf",
					stages: map[string]string{"AWSCURRENT": keyBefore}}
				loader := secretkeys.PageTokens(sm.config(), sm.arn)
				tc.run(t, sm, func() (*pagetoken.Signer, error) { return loader(t.Context()) })
			})
		})
	}
}

func mustLoad(t *testing.T, load func() (*pagetoken.Signer, error)) *pagetoken.Signer {
	t.Helper()
	s, err := load()
	if err != nil {
		t.Fatalf("loading the page-token keys: %v", err)
	}
	return s
}

type failure string

const (
	failNone   failure = ""
	failDown   failure = "unreachable"
	failDenied failure = "access denied"
)

var errSecretsManagerDown = errors.New("dial tcp: connect: connection refused")

// fakeSecretsManager answers GetSecretValue as Secrets Manager does, from
// the versions staged in stages, in the process: it is the SDK's HTTP
// client, so the SDK's own encoding and error decoding run.
type fakeSecretsManager struct {
	arn    string
	stages map[string]string // staging label -> secret string
	fail   failure
	calls  int
}

// rotate stages a new key as Secrets Manager's rotation does: the new
// version becomes AWSCURRENT, the one before AWSPREVIOUS.
func (f *fakeSecretsManager) rotate(key string) {
	f.stages["AWSPREVIOUS"], f.stages["AWSCURRENT"] = f.stages["AWSCURRENT"], key
}

func (f *fakeSecretsManager) config() aws.Config {
	return aws.Config{Region: "eu-west-1", HTTPClient: f,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} }}
}

func (f *fakeSecretsManager) Do(r *http.Request) (*http.Response, error) {
	f.calls++
	switch f.fail {
	case failDown:
		return nil, errSecretsManagerDown
	case failDenied:
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "AccessDeniedException", "message": "not authorized to perform secretsmanager:GetSecretValue"})
	}
	if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "InvalidRequestException", "message": "unexpected " + got})
	}
	var in struct{ SecretId, VersionStage string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretId != f.arn {
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "InvalidParameterException", "message": "bad request"})
	}
	v, ok := f.stages[in.VersionStage]
	if !ok {
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "ResourceNotFoundException",
			"message": "Secrets Manager can't find the specified secret value for staging label: " + in.VersionStage})
	}
	return f.answer(r, http.StatusOK, map[string]any{"ARN": f.arn, "Name": "page-token-key", "SecretString": v,
		"VersionId": in.VersionStage + "-version", "VersionStages": []string{in.VersionStage}})
}

func (f *fakeSecretsManager) answer(r *http.Request, status int, body any) (*http.Response, error) {
	b, _ := json.Marshal(body)
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body:    io.NopCloser(bytes.NewReader(b)),
		Request: r, ContentLength: int64(len(b))}, nil
}

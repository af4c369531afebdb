package secretkeys

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
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
)

// The page-token keys, as a Secrets Manager rotation stages them.
var (
	keyBefore = strings.Repeat("k1", 16)
	keyAfter  = strings.Repeat("k2", 16)
)

const (
	tokenQuery  = `v1|d1||0|0|""|[]|[]|false`
	tokenCursor = "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
)

// TestPageTokenKeysFromSecretsManager runs the loader the paging functions
// use against a fake Secrets Manager behind its HTTP client (so its
// encoding, signing and error decoding run; infra/local/awslocal checks
// the signatures). Each case runs in a synctest bubble: its clock is fake,
// so passing the refresh interval takes no time.
func TestPageTokenKeysFromSecretsManager(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source)
	}{
		{"tokens issued under the previous key still decode after a rotation", func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source) {
			before := mustSigner(t, src)
			tok := before.Encode(tokenQuery, tokenCursor)
			sm.rotate(keyAfter)
			time.Sleep(refresh)
			after := mustSigner(t, src)
			if got, err := after.Decode(tokenQuery, tok); err != nil || got != tokenCursor {
				t.Fatalf("after the rotation, a token of the previous key: %q, %v; want %q", got, err, tokenCursor)
			}
			if newTok := after.Encode(tokenQuery, tokenCursor); newTok == tok {
				t.Fatalf("after the rotation, tokens are still signed with the previous key")
			}
			cold := PageTokens(sm.config(), sm.arn) // a cold start reads both stages too
			if got, err := mustSigner(t, cold).Decode(tokenQuery, tok); err != nil || got != tokenCursor {
				t.Fatalf("a cold start after the rotation, a token of the previous key: %q, %v; want %q", got, err, tokenCursor)
			}
		}},
		{"the key is read again only once the refresh interval has passed", func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source) {
			tok := mustSigner(t, src).Encode(tokenQuery, tokenCursor)
			calls := sm.calls
			sm.rotate(keyAfter)
			time.Sleep(refresh - time.Second)
			if s := mustSigner(t, src); sm.calls != calls || s.Encode(tokenQuery, tokenCursor) != tok {
				t.Fatalf("before the refresh interval: %d calls to Secrets Manager, want %d, and the cached key", sm.calls, calls)
			}
			time.Sleep(time.Second)
			if s := mustSigner(t, src); sm.calls == calls || s.Encode(tokenQuery, tokenCursor) == tok {
				t.Fatalf("once the refresh interval passed: %d calls to Secrets Manager, want more than %d, and the new key", sm.calls, calls)
			}
		}},
		{"a token of a key not loaded yet is read after one reload", func(t *testing.T, sm *fakeSecretsManager, lagging pagetoken.Source) {
			mustSigner(t, lagging) // this instance loaded the keys before the rotation
			sm.rotate(keyAfter)
			time.Sleep(minReload)
			tok := mustSigner(t, PageTokens(sm.config(), sm.arn)).Encode(tokenQuery, tokenCursor) // another one after it
			if _, err := mustSigner(t, lagging).Decode(tokenQuery, tok); !errors.Is(err, pagetoken.ErrUnknownKey) {
				t.Fatalf("before the reload: %v, want ErrUnknownKey", err)
			}
			s, err := lagging.Reload(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Decode(tokenQuery, tok); err != nil || got != tokenCursor {
				t.Fatalf("after the reload: %q, %v; want %q", got, err, tokenCursor)
			}
		}},
		{"reloads are spaced, so forged tokens cannot make every request read the secret", func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source) {
			mustSigner(t, src)
			time.Sleep(minReload)
			calls := sm.calls
			for i := 0; i < 5; i++ {
				if _, err := src.Reload(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if got := sm.calls - calls; got != 2 { // one read: AWSCURRENT and AWSPREVIOUS
				t.Fatalf("five reloads in a row made %d calls, want 2", got)
			}
		}},
		{"a Secrets Manager failure after a first load keeps serving the cached keys, without asking at every request", func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source) {
			tok := mustSigner(t, src).Encode(tokenQuery, tokenCursor)
			for _, fail := range []failure{failDown, failDenied} {
				sm.fail = fail
				time.Sleep(refresh)
				calls := sm.calls
				for i := 0; i < 3; i++ {
					if got, err := mustSigner(t, src).Decode(tokenQuery, tok); err != nil || got != tokenCursor {
						t.Fatalf("with Secrets Manager failing (%s), a token of the cached key: %q, %v; want %q", fail, got, err, tokenCursor)
					}
				}
				if sm.calls-calls != 1 {
					t.Fatalf("with Secrets Manager failing (%s): %d calls for three requests, want 1", fail, sm.calls-calls)
				}
			}
		}},
		{"a secret that is no usable key keeps the keys already read", func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source) {
			tok := mustSigner(t, src).Encode(tokenQuery, tokenCursor)
			sm.rotate("short")
			time.Sleep(refresh)
			if got, err := mustSigner(t, src).Decode(tokenQuery, tok); err != nil || got != tokenCursor {
				t.Fatalf("after a bad rotation: %q, %v; want the cached keys", got, err)
			}
		}},
		{"a Secrets Manager failure before any load is ErrKeyUnavailable, and the next load retries", func(t *testing.T, sm *fakeSecretsManager, src pagetoken.Source) {
			sm.fail = failDown
			s, err := src.Signer(t.Context())
			if s != nil || !errors.Is(err, pagetoken.ErrKeyUnavailable) || !errors.Is(err, errSecretsManagerDown) {
				t.Fatalf("with Secrets Manager down from the start: %v, %v; want no signer and ErrKeyUnavailable wrapping the failure", s, err)
			}
			sm.fail = failNone
			mustSigner(t, src)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sm := &fakeSecretsManager{arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:page-token-key-AbCdEf",
					stages: map[string]string{"AWSCURRENT": keyBefore}}
				tc.run(t, sm, PageTokens(sm.config(), sm.arn))
			})
		})
	}
}

func mustSigner(t *testing.T, src pagetoken.Source) *pagetoken.Signer {
	t.Helper()
	s, err := src.Signer(t.Context())
	if err != nil {
		t.Fatalf("loading the page-token keys: %v", err)
	}
	return s
}

type failure string

const (
	failNone      failure = ""
	failDown      failure = "unreachable"
	failDenied    failure = "access denied"
	failThrottled failure = "throttling"
	failInternal  failure = "internal error"
)

var errSecretsManagerDown = errors.New("dial tcp: connect: connection refused")

// fakeSecretsManager answers GetSecretValue as Secrets Manager does, from
// the versions staged in stages, in the process: it is the loader's HTTP
// client.
type fakeSecretsManager struct {
	arn    string
	stages map[string]string // staging label -> secret string
	fail   failure
	// next, when not empty, fail the next calls in turn, before fail.
	next []failure
	// errorTypeHeader names the error in X-Amzn-ErrorType only, as some
	// AWS front ends do, rather than in the body's __type.
	errorTypeHeader bool
	calls           int
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
	fail := f.fail
	if len(f.next) > 0 {
		fail, f.next = f.next[0], f.next[1:]
	}
	switch fail {
	case failDown:
		return nil, errSecretsManagerDown
	case failDenied:
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "AccessDeniedException", "message": "not authorized to perform secretsmanager:GetSecretValue"})
	case failThrottled:
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "ThrottlingException", "message": "Rate exceeded"})
	case failInternal:
		return f.answer(r, http.StatusInternalServerError, map[string]string{"__type": "InternalServiceError", "message": "internal error"})
	}
	if r.Header.Get("Authorization") == "" || r.Header.Get("X-Amz-Date") == "" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "IncompleteSignature", "message": "unsigned request"})
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
		msg := "Secrets Manager can't find the specified secret value for staging label: " + in.VersionStage
		if f.errorTypeHeader {
			resp, err := f.answer(r, http.StatusBadRequest, map[string]string{"message": msg})
			resp.Header.Set("X-Amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.secretsmanager/")
			return resp, err
		}
		return f.answer(r, http.StatusBadRequest, map[string]string{"__type": "ResourceNotFoundException", "message": msg})
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

// TestRetriesAsTheSDK: with the retryer the functions give their SDK
// clients (three attempts), throttling, server and connection errors are
// tried again, and nothing else is.
func TestRetriesAsTheSDK(t *testing.T) {
	cases := []struct {
		name      string
		next      []failure
		fail      failure
		wantCalls int
		wantErr   bool
	}{
		{name: "throttling twice, then the keys", next: []failure{failThrottled, failThrottled}, wantCalls: 4},
		{name: "a server error, then the keys", next: []failure{failInternal}, wantCalls: 3},
		{name: "a connection refused, then the keys", next: []failure{failDown}, wantCalls: 3},
		{name: "server errors at every attempt fail after three", fail: failInternal, wantCalls: 3, wantErr: true},
		{name: "access denied is not tried again", fail: failDenied, wantCalls: 1, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sm := &fakeSecretsManager{arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:page-token-key-AbCdEf",
					stages: map[string]string{"AWSCURRENT": keyBefore}, next: tc.next, fail: tc.fail}
				cfg := sm.config()
				cfg.Retryer = func() aws.Retryer {
					return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 3; o.MaxBackoff = 500 * time.Millisecond })
				}
				_, err := PageTokens(cfg, sm.arn).Signer(t.Context())
				if (err != nil) != tc.wantErr || sm.calls != tc.wantCalls {
					t.Fatalf("got error %v after %d calls, want an error %v after %d (AWSCURRENT, then AWSPREVIOUS when it worked)", err, sm.calls, tc.wantErr, tc.wantCalls)
				}
			})
		})
	}
}

func TestAMissingPreviousVersionNamedInTheHeaderIsNoRotationYet(t *testing.T) {
	sm := &fakeSecretsManager{arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:page-token-key-AbCdEf",
		stages: map[string]string{"AWSCURRENT": keyBefore}, errorTypeHeader: true}
	if _, err := PageTokens(sm.config(), sm.arn).Signer(t.Context()); err != nil {
		t.Fatalf("got %v, want the current key alone", err)
	}
}

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name, region, base, want string
	}{
		{"a region's own endpoint", "eu-west-1", "", "https://secretsmanager.eu-west-1.amazonaws.com"},
		{"a China region's endpoint", "cn-north-1", "", "https://secretsmanager.cn-north-1.amazonaws.com.cn"},
		{"AWS_ENDPOINT_URL_SECRETS_MANAGER over the region's", "eu-west-1", "http://127.0.0.1:4566", "http://127.0.0.1:4566"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := aws.Config{Region: tc.region}
			if tc.base != "" {
				cfg.BaseEndpoint = aws.String(tc.base)
			}
			if got := newSecretsManager(cfg).endpoint; got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

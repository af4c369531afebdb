package awslocal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/fleetlog/device-events/pkg/routes"
	"github.com/fleetlog/device-events/pkg/secretkeys"
)

// awsConfig is the SDK configuration of p for url, as a function gets it
// with AWS_ENDPOINT_URL_SECRETS_MANAGER set.
func awsConfig(url string, p Principal) aws.Config {
	return aws.Config{
		Region:       DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, ""),
		BaseEndpoint: aws.String(url),
	}
}

func TestGetSecretValue(t *testing.T) {
	ctx := context.Background()
	arn := SecretARN(DefaultRegion, DefaultAccountID, "page-token-key")
	other := SecretARN(DefaultRegion, DefaultAccountID, "other")
	reader := principal("reader", allow(arn, "secretsmanager:GetSecretValue"))
	everyone := principal("everyone", allow("arn:aws:secretsmanager:*:*:secret:*", "secretsmanager:GetSecretValue"))
	srv := serve(t, Options{Secrets: []Secret{{ARN: arn, Current: "key-2", Previous: "key-1"}, {ARN: other, Current: "other-1"}}}, reader, everyone)

	cases := []struct {
		name      string
		caller    Principal
		in        secretsmanager.GetSecretValueInput
		wantValue string
		wantStage string
		// wantCode and wantMessage, for a call that fails.
		wantCode, wantMessage string
	}{
		{name: "the current version is read by ARN", caller: reader,
			in: secretsmanager.GetSecretValueInput{SecretId: &arn}, wantValue: "key-2", wantStage: "AWSCURRENT"},
		{name: "the previous version is read by name", caller: reader,
			in:        secretsmanager.GetSecretValueInput{SecretId: aws.String("page-token-key"), VersionStage: aws.String("AWSPREVIOUS")},
			wantValue: "key-1", wantStage: "AWSPREVIOUS"},
		{name: "the current version is read by the ARN without its suffix", caller: reader,
			in:        secretsmanager.GetSecretValueInput{SecretId: aws.String(arn[:len(arn)-7]), VersionStage: aws.String("AWSCURRENT")},
			wantValue: "key-2", wantStage: "AWSCURRENT"},
		{name: "a secret not granted is denied", caller: reader,
			in:       secretsmanager.GetSecretValueInput{SecretId: &other},
			wantCode: "AccessDeniedException",
			wantMessage: "User: arn:aws:sts::000000000000:assumed-role/reader-role/reader is not authorized to perform: secretsmanager:GetSecretValue on resource: " +
				other + " because no identity-based policy allows the secretsmanager:GetSecretValue action"},
		{name: "a secret that does not exist is denied to a role granted another one", caller: reader,
			in: secretsmanager.GetSecretValueInput{SecretId: aws.String("no-such-secret")}, wantCode: "AccessDeniedException"},
		{name: "a secret that does not exist is not found", caller: everyone,
			in:       secretsmanager.GetSecretValueInput{SecretId: aws.String("no-such-secret")},
			wantCode: "ResourceNotFoundException", wantMessage: "Secrets Manager can't find the specified secret."},
		{name: "a stage the secret does not have is not found", caller: everyone,
			in:       secretsmanager.GetSecretValueInput{SecretId: &other, VersionStage: aws.String("AWSPREVIOUS")},
			wantCode: "ResourceNotFoundException", wantMessage: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS"},
		{name: "an unknown access key is refused", caller: principal("stranger"),
			in: secretsmanager.GetSecretValueInput{SecretId: &arn}, wantCode: "UnrecognizedClientException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := secretsmanager.NewFromConfig(awsConfig(srv.URL, c.caller)).GetSecretValue(ctx, &c.in)
			if c.wantCode != "" {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != c.wantCode || c.wantMessage != "" && ae.ErrorMessage() != c.wantMessage {
					t.Fatalf("got %v, want %s: %s", err, c.wantCode, c.wantMessage)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want %s", err, c.wantValue)
			}
			if aws.ToString(out.SecretString) != c.wantValue || !slices.Equal(out.VersionStages, []string{c.wantStage}) ||
				aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "page-token-key" || aws.ToString(out.VersionId) == "" || out.CreatedDate == nil {
				t.Errorf("got %s %q %v %s %s %v, want %s %q [%s] with a VersionId and a CreatedDate",
					aws.ToString(out.ARN), aws.ToString(out.SecretString), out.VersionStages, aws.ToString(out.Name), aws.ToString(out.VersionId), out.CreatedDate,
					arn, c.wantValue, c.wantStage)
			}
		})
	}

	t.Run("a version is read by its VersionId", func(t *testing.T) {
		sm := secretsmanager.NewFromConfig(awsConfig(srv.URL, reader))
		prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn, VersionStage: aws.String("AWSPREVIOUS")})
		if err != nil {
			t.Fatal(err)
		}
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn, VersionId: prev.VersionId})
		if err != nil || aws.ToString(out.SecretString) != "key-1" {
			t.Fatalf("got %v, %v, want key-1", out, err)
		}
	})

	t.Run("a missing stage is the SDK's ResourceNotFoundException", func(t *testing.T) {
		_, err := secretsmanager.NewFromConfig(awsConfig(srv.URL, everyone)).GetSecretValue(ctx,
			&secretsmanager.GetSecretValueInput{SecretId: &other, VersionStage: aws.String("AWSPREVIOUS")})
		var nf *smtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("got %T %v, want *types.ResourceNotFoundException (pkg/secretkeys relies on it)", err, err)
		}
	})

	t.Run("other operations are refused as unsupported", func(t *testing.T) {
		_, err := secretsmanager.NewFromConfig(awsConfig(srv.URL, reader)).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &arn})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "UnsupportedOperationException" || !strings.Contains(ae.ErrorMessage(), "DescribeSecret") {
			t.Errorf("got %v, want UnsupportedOperationException naming DescribeSecret", err)
		}
	})

	t.Run("a rotation makes the current version the previous one", func(t *testing.T) {
		srv.SetSecret(other, "other-2")
		sm := secretsmanager.NewFromConfig(awsConfig(srv.URL, everyone))
		for stage, want := range map[string]string{"AWSCURRENT": "other-2", "AWSPREVIOUS": "other-1"} {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &other, VersionStage: aws.String(stage)})
			if err != nil || aws.ToString(out.SecretString) != want {
				t.Errorf("%s after the rotation: got %v, %v, want %s", stage, out, err, want)
			}
		}
	})
}

// TestPageTokenKeysLoadThroughTheServer runs the loader list-events and
// delete-event use, with list-events' role, across a rotation.
func TestPageTokenKeysLoadThroughTheServer(t *testing.T) {
	const query, cursor = `v1|d1||0|0|""|[]|[]|false`, "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
	ctx := context.Background()
	arn := SecretARN(DefaultRegion, DefaultAccountID, "page-token-key")
	fn := PrincipalFor(routes.ListEvents, routes.Permissions[routes.ListEvents], Resources{Table: "events", PageTokenSecret: arn}, "", "")
	srv := serve(t, Options{Secrets: []Secret{{ARN: arn, Current: strings.Repeat("1", 64)}}}, fn)
	cfg := awsConfig(srv.URL, fn)

	// No AWSPREVIOUS yet: the loader takes the current key alone.
	before, err := secretkeys.PageTokens(cfg, arn).Signer(ctx)
	if err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	tok := before.Encode(query, cursor)

	srv.SetSecret(arn, strings.Repeat("2", 64))
	after, err := secretkeys.PageTokens(cfg, arn).Signer(ctx)
	if err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if got, err := after.Decode(query, tok); err != nil || got != cursor {
		t.Errorf("after the rotation, a token of the previous key: %q, %v; want %q", got, err, cursor)
	}
	if after.Encode(query, cursor) == tok {
		t.Errorf("after the rotation, tokens are still signed with the previous key")
	}
	if d := srv.Denials(); len(d) != 0 {
		t.Errorf("got denials %+v, want none", d)
	}
}

// TestTheKeyPepperLoadsThroughTheServerOnce runs the pepper loader of
// api-keys and authorize-key with authorize-key's role: the pepper is read
// once for the life of the instance, the functions that hash no key are
// denied it, and a secret too short to be a pepper is refused.
func TestTheKeyPepperLoadsThroughTheServerOnce(t *testing.T) {
	ctx := context.Background()
	pepper := SecretARN(DefaultRegion, DefaultAccountID, "key-pepper")
	short := SecretARN(DefaultRegion, DefaultAccountID, "short-pepper")
	res := Resources{Table: "events", KeyPepperSecret: pepper}
	authorizer := PrincipalFor(routes.AuthorizeKey, routes.Permissions[routes.AuthorizeKey], res, "", "")
	lister := PrincipalFor(routes.ListEvents, routes.Permissions[routes.ListEvents], res, "", "")
	shortReader := principal("short-reader", Statement{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{short}})
	srv := serve(t, Options{Secrets: []Secret{{ARN: pepper, Current: strings.Repeat("p", 64)}, {ARN: short, Current: "p"}}}, authorizer, lister, shortReader)

	load := secretkeys.Pepper(awsConfig(srv.URL, authorizer), pepper)
	for i := range 3 {
		got, err := load(ctx)
		if err != nil || string(got) != strings.Repeat("p", 64) {
			t.Fatalf("read %d: got %q, %v; want the pepper", i, got, err)
		}
	}
	get := Call{Principal: "arn:aws:sts::" + DefaultAccountID + ":assumed-role/" + authorizer.Role + "/" + authorizer.Session, Target: "secretsmanager.GetSecretValue"}
	if n := srv.Calls()[get]; n != 1 {
		t.Errorf("GetSecretValue calls: got %d, want 1 for three reads (%v)", n, srv.Calls())
	}
	if _, err := secretkeys.Pepper(awsConfig(srv.URL, lister), pepper)(ctx); errorCode(err) != "AccessDeniedException" {
		t.Errorf("list-events reading the pepper: got %v, want AccessDeniedException", err)
	}
	if _, err := secretkeys.Pepper(awsConfig(srv.URL, shortReader), short)(ctx); err == nil {
		t.Error("a one-character pepper: got it, want an error")
	}
}

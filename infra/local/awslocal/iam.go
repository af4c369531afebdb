package awslocal

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/fleetlog/device-events/pkg/routes"
)

// Defaults of Options.Region and Options.AccountID.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
)

// Statement is one Allow statement of an identity-based policy: any of
// Actions on any of Resources. Both may hold IAM's wildcards, "*" (any run
// of characters, ":" and "/" included) and "?" (one character); actions
// match case-insensitively, resources case-sensitively, as IAM matches them.
type Statement struct {
	Actions   []string
	Resources []string
}

// Principal is the role a caller's access key stands for.
type Principal struct {
	// AccessKeyID is the key the caller signs with. In Options.Principals
	// the map key is the key; this field, when set, must equal it.
	AccessKeyID string
	// SecretAccessKey verifies the caller's SigV4 signatures.
	SecretAccessKey string
	// Role and Session name the caller in error messages, as STS does:
	// arn:aws:sts::<account>:assumed-role/<Role>/<Session>.
	Role, Session string
	// Allow is the role's policy. Nothing else is allowed.
	Allow []Statement
}

// allows reports whether some statement allows action on resource.
func (p Principal) allows(action, resource string) bool {
	for _, st := range p.Allow {
		if matchesAny(st.Actions, action, true) && matchesAny(st.Resources, resource, false) {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, s string, foldCase bool) bool {
	if foldCase {
		s = strings.ToLower(s)
	}
	for _, p := range patterns {
		if foldCase {
			p = strings.ToLower(p)
		}
		if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against an IAM pattern: "*" any run of
// characters, "?" exactly one. On a mismatch after a "*", the star takes
// one more character and matching resumes after it.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, resume := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, i
			p++
		case star >= 0:
			resume++
			p, i = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// TableARN is the ARN of a DynamoDB table, the resource of its item and
// query actions.
func TableARN(region, account, table string) string {
	return "arn:aws:dynamodb:" + region + ":" + account + ":table/" + table
}

// IndexARN is the ARN of a table's secondary index. IAM treats it as a
// resource of its own: a grant on the table does not cover it.
func IndexARN(region, account, table, index string) string {
	return TableARN(region, account, table) + "/index/" + index
}

// SecretARN is an ARN for a Secrets Manager secret of this name, with the
// six-character suffix Secrets Manager appends (derived from the name, so
// the same name always gets the same ARN).
func SecretARN(region, account, name string) string {
	sum := sha256.Sum256([]byte("secret:" + name))
	return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + name + "-" + hex.EncodeToString(sum[:3])
}

// Resources are the resources of a stack that its roles are granted
// access to.
type Resources struct {
	Table string
	// PageTokenSecret and KeyPepperSecret are the ARNs of the page-token
	// key's secret and of the API keys' pepper's.
	PageTokenSecret, KeyPepperSecret string
}

// PrincipalFor is the role the stack gives function fn (infra/functions.go,
// newFunction), as a Principal: access.TableActions on the table,
// access.IndexActions on each index of access.Indexes, and
// secretsmanager:GetSecretValue on the page-token secret with
// access.PageTokenKey and on the pepper's with access.KeyPepper. The log
// and X-Ray grants of that role concern no service served here and are
// left out. Its credentials are fake ones derived from fn, so every
// process computes the same. Empty region and account mean the defaults.
func PrincipalFor(fn string, access routes.Access, res Resources, region, account string) Principal {
	table := res.Table
	if region == "" {
		region = DefaultRegion
	}
	if account == "" {
		account = DefaultAccountID
	}
	keyID := sha256.Sum256([]byte("awslocal access key id:" + fn))
	secret := sha256.Sum256([]byte("awslocal secret access key:" + fn))
	p := Principal{
		// AKIA and 16 more of [0-9A-F]: the shape of a real key id.
		AccessKeyID:     "AKIA" + strings.ToUpper(hex.EncodeToString(keyID[:8])),
		SecretAccessKey: hex.EncodeToString(secret[:20]),
		Role:            fn + "-role",
		// Lambda names the role session after the function.
		Session: fn,
	}
	if len(access.TableActions) > 0 {
		p.Allow = append(p.Allow, Statement{Actions: slices.Clone(access.TableActions), Resources: []string{TableARN(region, account, table)}})
	}
	if len(access.IndexActions) > 0 && len(access.Indexes) > 0 {
		indexes := make([]string, len(access.Indexes))
		for i, index := range access.Indexes {
			indexes[i] = IndexARN(region, account, table, index)
		}
		p.Allow = append(p.Allow, Statement{Actions: slices.Clone(access.IndexActions), Resources: indexes})
	}
	if access.PageTokenKey {
		p.Allow = append(p.Allow, Statement{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{res.PageTokenSecret}})
	}
	if access.KeyPepper {
		p.Allow = append(p.Allow, Statement{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{res.KeyPepperSecret}})
	}
	return p
}

// Package apikeys is the device API keys: their format, how a request
// carries one, the keyed hash they are stored as, checking one against the
// store (Verifier), and the key API's Lambda authorizer (Authorizer), which
// API Gateway calls before every request of the key API.
//
// A key is "dek_<id>_<secret>": the id, 16 characters of lower-case
// base32hex (48 bits of the creation time in milliseconds, so ids sort by
// creation, and 32 random bits), and the secret, 32 characters of
// lower-case base32 (160 random bits). The store keeps the id and
// HMAC-SHA256(pepper, secret), the pepper being a Secrets Manager secret
// of the stack: a copy of the table alone tells nothing of the secrets.
// The secret is shown once, when the key is made.
package apikeys

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
)

// Prefix starts every key, so that a key is recognised in a header or a
// leaked file.
const Prefix = "dek_"

// The lengths of a key's parts.
const (
	idLen     = 16
	secretLen = 32
	keyLen    = len(Prefix) + idLen + 1 + secretLen
)

var (
	// idEncoding keeps the order of the bytes in the order of the text.
	idEncoding     = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)
	secretEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
)

// Key is a new key: its id and its secret.
type Key struct {
	ID, Secret string
}

// String is the key as a device sends it.
func (k Key) String() string { return Prefix + k.ID + "_" + k.Secret }

// New makes a key created at now.
func New(now time.Time) Key {
	var id [10]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(id[:6], ms[2:])
	_, _ = rand.Read(id[6:])
	var secret [20]byte
	_, _ = rand.Read(secret[:])
	return Key{ID: idEncoding.EncodeToString(id[:]), Secret: secretEncoding.EncodeToString(secret[:])}
}

// ValidID reports whether id has the form of a key's id.
func ValidID(id string) bool { return len(id) == idLen && inAlphabet(id, isIDChar) }

func validSecret(s string) bool { return len(s) == secretLen && inAlphabet(s, isSecretChar) }

func isIDChar(c byte) bool     { return '0' <= c && c <= '9' || 'a' <= c && c <= 'v' }
func isSecretChar(c byte) bool { return 'a' <= c && c <= 'z' || '2' <= c && c <= '7' }

func inAlphabet(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// Parse reads a key in its one written form, dek_<id>_<secret>.
func Parse(s string) (Key, bool) {
	if len(s) != keyLen || !strings.HasPrefix(s, Prefix) || s[len(Prefix)+idLen] != '_' {
		return Key{}, false
	}
	k := Key{ID: s[len(Prefix) : len(Prefix)+idLen], Secret: s[len(Prefix)+idLen+1:]}
	return k, ValidID(k.ID) && validSecret(k.Secret)
}

// FromHeaders reads the key a request carries, from its headers with
// lower-case names (as API Gateway's HTTP API gives them): exactly one of
// X-Api-Key: <key>, Authorization: Basic base64(<id>:<secret>) (the id with
// or without its dek_ prefix), Authorization: Bearer <key> (Losant's
// clients send their access token so), or Authorization: <key>. Anything
// else — no
// credential, two of them, a malformed one — is no key, decided without
// reading the store.
func FromHeaders(headers map[string]string) (Key, bool) {
	xKey, hasX := headers["x-api-key"]
	auth, hasAuth := headers["authorization"]
	switch {
	case hasX && hasAuth:
		return Key{}, false
	case hasX:
		return Parse(xKey)
	case !hasAuth:
		return Key{}, false
	}
	scheme, cred, ok := strings.Cut(auth, " ")
	switch {
	case ok && strings.EqualFold(scheme, "Basic"):
		return fromBasic(cred)
	case ok && strings.EqualFold(scheme, "Bearer"):
		return Parse(cred)
	}
	return Parse(auth)
}

// fromBasic reads HTTP Basic credentials (RFC 7617): the canonical padded
// base64 of "<id>:<secret>" and nothing else, so that one key has one
// Basic form.
func fromBasic(cred string) (Key, bool) {
	raw, err := base64.StdEncoding.Strict().DecodeString(cred)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != cred {
		return Key{}, false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Key{}, false
	}
	k := Key{ID: strings.TrimPrefix(user, Prefix), Secret: pass}
	return k, ValidID(k.ID) && validSecret(k.Secret)
}

// Hash is the keyed hash a secret is stored as: HMAC-SHA256 of the secret
// under the pepper.
func Hash(pepper []byte, secret string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

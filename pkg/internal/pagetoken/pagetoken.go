// Package pagetoken makes the opaque page tokens of the API: a cursor,
// signed with HMAC-SHA256 over the query that produced it, so that a token
// cannot be edited, nor reused with another device or other filters.
//
// A token is base64url(version | key id | cursor | mac). The query itself is
// not in the token, only in the MAC: the server recomputes it from the
// request that brings the token back. Several keys can verify (the current
// one signs), so tokens issued before a key rotation stay valid while the
// previous key is kept.
package pagetoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// ErrInvalid is returned for a token that was not issued for this query by
// one of the signer's keys.
var ErrInvalid = errors.New("invalid page token")

// ErrUnknownKey is the ErrInvalid of a well-formed token whose key id none
// of the signer's keys has: it may be signed with a key this instance has
// not loaded yet (see Source.Reload). errors.Is(ErrUnknownKey, ErrInvalid).
var ErrUnknownKey error = unknownKey{}

type unknownKey struct{}

func (unknownKey) Error() string        { return "invalid page token: signed with an unknown key" }
func (unknownKey) Is(target error) bool { return target == ErrInvalid }

// ErrKeyUnavailable wraps the failure to load the keys at all: the caller
// should answer "unavailable" and let the client retry.
var ErrKeyUnavailable = errors.New("page-token key unavailable")

// Source gives the signer of the moment.
type Source interface {
	Signer(ctx context.Context) (*Signer, error)
	// Reload reads the keys again, for a token signed with a key the signer
	// does not have: another instance may have seen a rotation first. A
	// source may answer from its cache when it reloaded a moment ago.
	Reload(ctx context.Context) (*Signer, error)
}

const (
	version = 1
	idLen   = 4
	macLen  = 16
	// MaxLen bounds what Decode reads, so a huge token costs nothing.
	MaxLen = 1024
)

// Signer signs and checks tokens.
type Signer struct {
	keys [][]byte
}

// NewSigner returns a signer that signs with the first key and accepts
// tokens of any of them. Keys should be 32 random bytes.
func NewSigner(keys ...[]byte) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("pagetoken: no key")
	}
	for _, k := range keys {
		if len(k) < 16 {
			return nil, errors.New("pagetoken: key shorter than 16 bytes")
		}
	}
	return &Signer{keys: keys}, nil
}

func keyID(k []byte) []byte {
	sum := sha256.Sum256(append([]byte("page-token-key-id:"), k...))
	return sum[:idLen]
}

func mac(key []byte, query string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	qh := sha256.Sum256([]byte(query))
	m.Write(qh[:])
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

// Encode returns a token for cursor, bound to query (a canonical form of
// the request's filters).
func (s *Signer) Encode(query, cursor string) string {
	k := s.keys[0]
	body := append([]byte{version}, keyID(k)...)
	body = append(body, cursor...)
	return base64.RawURLEncoding.EncodeToString(append(body, mac(k, query, body)...))
}

// Decode checks a token against query and returns its cursor.
func (s *Signer) Decode(query, token string) (string, error) {
	if len(token) > MaxLen {
		return "", ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 1+idLen+macLen || raw[0] != version {
		return "", ErrInvalid
	}
	// The decoder skips CR and LF and ignores the unused bits of the last
	// character, so several strings carry the same bytes: only the one
	// Encode writes is the token, any other is an edited one.
	if base64.RawURLEncoding.EncodeToString(raw) != token {
		return "", ErrInvalid
	}
	body, sig := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	known := false
	for _, k := range s.keys {
		if !hmac.Equal(body[1:1+idLen], keyID(k)) {
			continue
		}
		known = true
		if hmac.Equal(sig, mac(k, query, body)) {
			return string(body[1+idLen:]), nil
		}
	}
	if !known {
		return "", ErrUnknownKey
	}
	return "", ErrInvalid
}

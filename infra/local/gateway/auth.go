package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The local issuer and audience; the stack takes real ones as properties.
const (
	Issuer   = "device-events-local"
	Audience = "device-events"
)

// Auth checks and mints local bearer tokens (HS256 with a local secret),
// as API Gateway's JWT authorizer checks the issuer's tokens in AWS.
type Auth struct {
	secret []byte
}

// NewAuth returns an Auth over a secret of at least 32 bytes.
func NewAuth(secret []byte) (*Auth, error) {
	if len(secret) < 32 {
		return nil, errors.New("gateway: JWT secret shorter than 32 bytes")
	}
	return &Auth{secret: secret}, nil
}

// TokenClaims is what a local token may say.
type TokenClaims struct {
	Subject string
	Scopes  []string
	// Devices limits the token to these devices; nil means all.
	Devices []string
	TTL     time.Duration
}

// Mint signs a token.
func (a *Auth) Mint(c TokenClaims) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":   Issuer,
		"aud":   Audience,
		"sub":   c.Subject,
		"iat":   now.Unix(),
		"exp":   now.Add(c.TTL).Unix(),
		"scope": strings.Join(c.Scopes, " "),
	}
	if c.Devices != nil {
		claims["devices"] = c.Devices
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.secret)
}

// Verify checks the Authorization headers of a request and returns the
// claims the way API Gateway's JWT authorizer passes them to a function:
// every value a string, arrays as "[a b]". Two Authorization headers are
// refused, as API Gateway refuses them, rather than one of them picked.
func (a *Auth) Verify(headers []string) (map[string]string, error) {
	if len(headers) != 1 {
		return nil, errors.New("one bearer token is required")
	}
	raw, ok := strings.CutPrefix(headers[0], "Bearer ")
	if !ok || raw == "" {
		return nil, errors.New("a bearer token is required")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), claims, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(5*time.Second))
	if err != nil || !timesInRange(claims, time.Now()) {
		return nil, errors.New("invalid token")
	}
	out := map[string]string{}
	for k, v := range claims {
		switch x := v.(type) {
		case string:
			out[k] = x
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = "[" + strings.Join(parts, " ") + "]"
		case float64:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}

// maxLifetime bounds how far in the future a token's expiry may lie: a
// time beyond it, like an iat or nbf beyond any real date or before 1970,
// is a forged or broken token, and times that large lose their precision
// or overflow where they are compared.
const maxLifetime = 366 * 24 * time.Hour

// timesInRange reports whether exp, iat and nbf are numbers in the range a
// real token has them: iat and nbf from 1970 on, exp up to a year ahead
// (the library checks them against now).
func timesInRange(claims jwt.MapClaims, now time.Time) bool {
	limit := float64(now.Add(maxLifetime).Unix())
	for _, name := range []string{"exp", "iat", "nbf"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		n, isNumber := v.(float64)
		if !isNumber || n != n || n < 0 || n > limit {
			return false
		}
	}
	return true
}

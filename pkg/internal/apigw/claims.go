package apigw

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Claims are what the handlers use of a caller's token or API key, as API
// Gateway's authorizer passed them on.
type Claims struct {
	Subject string
	Scopes  []string
	// Devices, when not nil, are the only devices the token may touch.
	Devices []string
}

// claimsFromStrings reads the claims an HTTP API JWT authorizer passes on:
// every claim as a string, arrays written as "[a b c]".
func claimsFromStrings(claims map[string]string, scopes []string) *Claims {
	c := &Claims{Subject: claims["sub"], Scopes: scopes}
	if len(c.Scopes) == 0 {
		c.Scopes = listClaim(firstNonEmpty(claims["scope"], claims["scp"]))
	}
	if d, ok := claims["devices"]; ok {
		c.Devices = listClaim(d)
		if c.Devices == nil {
			c.Devices = []string{}
		}
	}
	return c
}

// claimsFromLambda reads what a Lambda authorizer's simple response put in
// its context, which an HTTP API passes on as requestContext.authorizer.lambda:
// the key API's authorizer (pkg/internal/apikeys) writes the claims a JWT
// authorizer would, as strings ("sub", "scope", and "devices" as "[a b]"),
// so they are read alike.
func claimsFromLambda(ctx map[string]any) *Claims {
	flat := make(map[string]string, len(ctx))
	for k, v := range ctx {
		if s, ok := v.(string); ok {
			flat[k] = s
		}
	}
	return claimsFromStrings(flat, nil)
}

// claimsFromREST reads a REST API authorizer context: Cognito puts the
// claims under "claims", a Lambda authorizer puts its context flat.
func claimsFromREST(a map[string]any) *Claims {
	src := a
	if m, ok := a["claims"].(map[string]any); ok {
		src = m
	}
	flat := map[string]string{}
	for k, v := range src {
		switch x := v.(type) {
		case string:
			flat[k] = x
		case []any:
			b, _ := json.Marshal(x)
			flat[k] = string(b)
		default:
			flat[k] = fmt.Sprint(x)
		}
	}
	var scopes []string
	if s, ok := a["scopes"].([]any); ok {
		for _, v := range s {
			scopes = append(scopes, fmt.Sprint(v))
		}
	}
	return claimsFromStrings(flat, scopes)
}

// listClaim reads a list claim in the forms it arrives in: a JSON array
// (a REST API authorizer's claims), API Gateway's "[a b]" (an HTTP API JWT
// authorizer writes arrays so), or a space-delimited string (RFC 6749's
// scope). Elements are split on spaces only and matched whole:
// "events/read,events/write" is one scope, unknown, and a device "d1,d2"
// names no device.
func listClaim(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		var arr []string
		if json.Unmarshal([]byte(s), &arr) == nil {
			return arr
		}
		s = strings.TrimSuffix(s[1:], "]")
	}
	out := []string{}
	for _, e := range strings.Split(s, " ") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

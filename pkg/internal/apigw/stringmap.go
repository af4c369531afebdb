package apigw

import (
	"encoding/json"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/fleetlog/device-events/pkg/routes"
)

// The field types of httpAPIEvent that decode with fewer allocations than
// encoding/json's reflection. Each agrees with the plain decoding of its
// field (FuzzFieldDecoders, FuzzHTTPAPIEventDecoding): the same values,
// and an error where it errs.

// stringMap decodes as a map[string]string does. An object of plain
// strings (no escapes, valid UTF-8) is read here: a string per key and
// value, and none for the names headers, claims and path parameters
// commonly have, where encoding/json spends three allocations an entry.
// Anything else is left to encoding/json.
type stringMap map[string]string

func (m *stringMap) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*m = nil
		return nil
	}
	var buf [16]entry
	entries, ok := plainObject(buf[:0], data)
	if !ok {
		plain := map[string]string(*m) // encoding/json adds to a map it is given
		err := json.Unmarshal(data, &plain)
		*m = plain
		return err
	}
	if *m == nil {
		*m = make(stringMap, len(entries))
	}
	for _, e := range entries {
		(*m)[e.key] = e.value
	}
	return nil
}

type entry struct{ key, value string }

// plainObject appends the entries of data, a JSON object whose keys and
// values are plain strings (or null values), and reports whether it was
// one. data is valid JSON: encoding/json checked it first.
func plainObject(dst []entry, data []byte) ([]entry, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return dst, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return dst, true
	}
	for i < len(data) {
		key, next, ok := plainString(data, i)
		if !ok {
			return dst, false
		}
		i = skipSpace(data, skipSpace(data, next)+1) // past the colon
		var value string
		switch {
		case i < len(data) && data[i] == '"':
			if value, next, ok = plainString(data, i); !ok {
				return dst, false
			}
		case i+4 <= len(data) && string(data[i:i+4]) == "null":
			next = i + 4
		default:
			return dst, false // encoding/json's type error
		}
		dst = append(dst, entry{key, value})
		i = skipSpace(data, next)
		if i < len(data) && data[i] == '}' {
			return dst, true
		}
		i = skipSpace(data, i+1) // past the comma
	}
	return dst, false
}

// plainString reads the string that starts at data[i], when it has no
// escape and is valid UTF-8 (encoding/json would replace invalid bytes),
// and returns the index after it.
func plainString(data []byte, i int) (string, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			b := data[start:j]
			if !ascii && !utf8.Valid(b) {
				return "", 0, false
			}
			return intern(b), j + 1, true
		case c == '\\':
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// interned are the names (and a few values) of headers, claims and path
// parameters that API Gateway events commonly carry, the version, methods
// and route keys of events and the scopes of tokens: decoded without an
// allocation.
var interned = func() map[string]string {
	m := map[string]string{"2.0": "2.0", routes.ScopeRead: routes.ScopeRead, routes.ScopeWrite: routes.ScopeWrite, routes.ScopeDelete: routes.ScopeDelete}
	for _, r := range routes.All {
		m[r.Method], m[r.Key()] = r.Method, r.Key()
	}
	for _, s := range []string{
		// headers
		"accept", "accept-encoding", "authorization", "content-length", "content-type", "host",
		"idempotency-key", "if-match", "user-agent", "x-amzn-trace-id", "x-api-key",
		"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto",
		"application/json", "application/merge-patch+json", "https", "443",
		// JWT claims
		"sub", "scope", "scp", "devices", "iss", "aud", "exp", "iat", "nbf", "jti",
		"auth_time", "client_id", "token_use", "username", "version",
		// path parameters
		"deviceId", "eventId",
	} {
		m[s] = s
	}
	return m
}()

func intern(b []byte) string {
	if len(b) <= maxInterned {
		if s, ok := interned[string(b)]; ok { // no allocation: the conversion is only a key
			return s
		}
	}
	return string(b)
}

// maxInterned is longer than any interned string: a body is not hashed.
const maxInterned = 64

// jsonString decodes as a string does: a plain string (no escape) as
// stringMap reads one, one with the common escapes in one allocation
// where encoding/json spends two (the body of a JSON request always has
// some), and anything else by encoding/json.
type jsonString string

func (s *jsonString) UnmarshalJSON(data []byte) error {
	switch {
	case string(data) == "null": // leaves a string as it was
		return nil
	case data[0] != '"':
		return errNotString
	}
	if v, _, ok := plainString(data, 0); ok {
		*s = jsonString(v)
		return nil
	}
	if b, ok := unquote(data[1 : len(data)-1]); ok {
		*s = jsonString(unsafe.String(unsafe.SliceData(b), len(b))) // b is never written again
		return nil
	}
	var plain string
	err := json.Unmarshal(data, &plain)
	*s = jsonString(plain)
	return err
}

// unquote unquotes the inside of a JSON string when it is valid UTF-8 and
// its \u escapes are no surrogates, and reports whether it was; data is
// valid JSON.
func unquote(in []byte) ([]byte, bool) {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		j := i
		for j < len(in) && in[j] != '\\' && in[j] < utf8.RuneSelf {
			j++
		}
		out = append(out, in[i:j]...)
		if i = j; i == len(in) {
			break
		}
		if in[i] >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false // encoding/json writes U+FFFD
			}
			out = append(out, in[i:i+size]...)
			i += size
			continue
		}
		switch c := in[i+1]; c {
		case '"', '\\', '/':
			out = append(out, c)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			var r rune
			for _, h := range in[i+2 : i+6] {
				switch {
				case '0' <= h && h <= '9':
					r = r<<4 | rune(h-'0')
				case 'a' <= h && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				default: // 'A' to 'F': valid JSON has nothing else here
					r = r<<4 | rune(h-'A'+10)
				}
			}
			if utf16.IsSurrogate(r) {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		}
		i += 2
	}
	return out, true
}

var errNotString = errors.New("apigw: not a JSON string")

// nonEmpty decodes a string field as whether it is not empty: httpAPIEvent
// reads no more of the request context's route key.
type nonEmpty bool

func (n *nonEmpty) UnmarshalJSON(data []byte) error {
	switch {
	case data[0] == '"':
		*n = len(data) > 2 // any escape is a character
		return nil
	case string(data) == "null": // leaves a string as it was
		return nil
	}
	return errNotString
}

// unread decodes a string field that nothing reads: it only errs where
// decoding the string would.
type unread struct{}

func (*unread) UnmarshalJSON(data []byte) error {
	if data[0] == '"' || string(data) == "null" {
		return nil
	}
	return errNotString
}

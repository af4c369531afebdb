package apikeys

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestNewKeys(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)
	a, b := New(t0), New(t0.Add(time.Millisecond))
	t.Run("a key parses back to its id and secret", func(t *testing.T) {
		got, ok := Parse(a.String())
		if !ok || got != a {
			t.Fatalf("Parse(%s) = %v, %v; want %v", a, got, ok, a)
		}
		if len(a.String()) != keyLen || !strings.HasPrefix(a.String(), Prefix) {
			t.Errorf("key %q: want %d characters starting %s", a, keyLen, Prefix)
		}
	})
	t.Run("ids sort by creation and secrets differ", func(t *testing.T) {
		if !(a.ID < b.ID) {
			t.Errorf("id %s of the earlier key sorts after %s", a.ID, b.ID)
		}
		if a.Secret == b.Secret || a.Secret == New(t0).Secret {
			t.Error("two keys share a secret")
		}
	})
}

func TestKeysAreReadFromTheHeaders(t *testing.T) {
	k := New(time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC))
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, c := range []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"X-Api-Key with the key is read", map[string]string{"x-api-key": k.String()}, true},
		{"a raw Authorization with the key is read", map[string]string{"authorization": k.String()}, true},
		{"Basic with the id and the secret is read", map[string]string{"authorization": basic(k.ID, k.Secret)}, true},
		{"Basic with the prefixed id is read", map[string]string{"authorization": basic(Prefix+k.ID, k.Secret)}, true},
		{"the Basic scheme in lower case is read", map[string]string{"authorization": "basic " + strings.TrimPrefix(basic(k.ID, k.Secret), "Basic ")}, true},
		{"no header is no key", map[string]string{}, false},
		{"X-Api-Key and Authorization together are no key", map[string]string{"x-api-key": k.String(), "authorization": k.String()}, false},
		{"two X-Api-Key values joined by API Gateway are no key", map[string]string{"x-api-key": k.String() + "," + k.String()}, false},
		{"a Bearer key is read", map[string]string{"authorization": "Bearer " + k.String()}, true},
		{"the Bearer scheme in lower case is read", map[string]string{"authorization": "bearer " + k.String()}, true},
		{"a Bearer JWT is no key", map[string]string{"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}, false},
		{"a Bearer key with two spaces is no key", map[string]string{"authorization": "Bearer  " + k.String()}, false},
		{"an empty Bearer is no key", map[string]string{"authorization": "Bearer "}, false},
		{"a truncated key is no key", map[string]string{"x-api-key": k.String()[:keyLen-1]}, false},
		{"a key with a space after it is no key", map[string]string{"x-api-key": k.String() + " "}, false},
		{"a key in upper case is no key", map[string]string{"x-api-key": strings.ToUpper(k.String())}, false},
		{"a key of another prefix is no key", map[string]string{"x-api-key": "key_" + k.ID + "_" + k.Secret}, false},
		{"a secret with a character outside base32 is no key", map[string]string{"x-api-key": Prefix + k.ID + "_" + k.Secret[:secretLen-1] + "1"}, false},
		{"Basic that is not base64 is no key", map[string]string{"authorization": "Basic %%%"}, false},
		{"Basic without its padding is no key", map[string]string{"authorization": strings.TrimRight(basic(k.ID, k.Secret), "=")}, false},
		{"Basic without a colon is no key", map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(k.ID+k.Secret))}, false},
		{"Basic with the whole key as the user is no key", map[string]string{"authorization": basic(k.String(), "")}, false},
		{"Basic with a short secret is no key", map[string]string{"authorization": basic(k.ID, k.Secret[1:])}, false},
		{"an empty X-Api-Key is no key", map[string]string{"x-api-key": ""}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := FromHeaders(c.headers)
			if ok != c.ok || (ok && got != k) {
				t.Fatalf("got %v, %v; want ok %v (%v)", got, ok, c.ok, k)
			}
		})
	}
}

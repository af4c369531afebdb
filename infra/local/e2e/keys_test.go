package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/infra/local/awslocal"
	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/routes"
)

// keyForms are the ways a device may send its key, each an option of a
// request to the key API.
func keyForms(k stacktest.APIKey) []struct {
	name string
	opt  option
} {
	return []struct {
		name string
		opt  option
	}{
		{"X-Api-Key", xAPIKey(k.Key)},
		{"a raw Authorization", rawKey(k.Key)},
		{"a Bearer Authorization", bearer(k.Key)},
		{"Basic with the id", basic(k.ID, k.Secret)},
		{"Basic with the prefixed id", basic("dek_"+k.ID, k.Secret)},
	}
}

// TestADeviceKeyReadsAndWritesOnlyItsDeviceWithItsScopes: a key made
// through the API, sent in every accepted form to the key API, reads and
// writes its device, and nothing else: another device and the fleet
// routes are the functions' 403, a scope it lacks API Gateway's.
func TestADeviceKeyReadsAndWritesOnlyItsDeviceWithItsScopes(t *testing.T) {
	s := newStack(t)
	k := s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite}, []string{"door-7"})
	other := s.put("door-8", map[string]any{"type": "door_opened"})
	for _, form := range keyForms(k) {
		t.Run("through "+form.name, func(t *testing.T) {
			key := []option{s.onKeys(), form.opt}
			ev := s.put("door-7", map[string]any{"type": "door_opened", "text": form.name}, key...)
			self := ev["self"].(string)
			got := s.do("GET", "/devices/door-7/events?limit=1", nil, key...).want(t, 200).events(t)
			if len(got) != 1 || got[0]["id"] != ev["id"] {
				t.Fatalf("the listing holds %v, want the event just put", got)
			}
			patched := s.do("PATCH", self, map[string]any{"state": "acknowledged", "comment": "seen"}, key...).want(t, 200)
			updates := patched.body["updates"].([]any)
			if by := updates[len(updates)-1].(map[string]any)["by"]; by != "apikey:"+k.ID {
				t.Errorf("the update is by %v, want apikey:%s", by, k.ID)
			}
			s.do("GET", "/devices/door-7/aggregates?interval=day", nil, key...).want(t, 200)

			s.do("GET", "/devices/door-8/events", nil, key...).want(t, 403, "forbidden")
			s.do("POST", "/devices/door-8/events", map[string]any{"type": "door_opened"}, key...).want(t, 403, "forbidden")
			s.do("GET", other["self"].(string), nil, key...).want(t, 403, "forbidden")
			s.do("GET", "/events?type=door_opened", nil, key...).want(t, 403, "forbidden")
			s.do("GET", "/aggregates?type=door_opened&interval=day", nil, key...).want(t, 403, "forbidden")
			s.do("DELETE", self, nil, key...).want(t, 403, apigw("Forbidden"))
			s.do("DELETE", "/devices/door-7/events?all=true", nil, key...).want(t, 403, apigw("Forbidden"))
		})
	}
	t.Run("a key of every device reads across devices", func(t *testing.T) {
		fleet := s.NewKey(t, []string{routes.ScopeRead}, nil)
		got := s.do("GET", "/events?type=door_opened", nil, s.onKeys(), xAPIKey(fleet.Key)).want(t, 200).events(t)
		if len(got) < 2 {
			t.Errorf("the fleet listing holds %d events, want both devices'", len(got))
		}
	})
	t.Run("the events API refuses keys, as its JWT authorizer does", func(t *testing.T) {
		for _, form := range keyForms(k) {
			s.do("GET", "/devices/door-7/events", nil, noToken(), form.opt).want(t, 401, apigw("Unauthorized"))
		}
	})
	t.Run("the key API refuses bearer tokens and has no key management", func(t *testing.T) {
		s.do("GET", "/devices/door-7/events", nil, s.onKeys(), bearer(s.token)).want(t, 401, apigw("Unauthorized"))
		s.do("GET", "/apikeys", nil, s.onKeys(), xAPIKey(k.Key)).want(t, 404, apigw("Not Found"))
	})
	t.Run("the listing shows the key's last use, never its secret", func(t *testing.T) {
		r := s.do("GET", "/apikeys", nil).want(t, 200)
		if strings.Contains(string(r.raw), k.Secret) {
			t.Fatalf("the listing holds the secret: %s", r.raw)
		}
		for _, it := range r.body["keys"].([]any) {
			if m := it.(map[string]any); m["id"] == k.ID {
				if m["lastUsedAt"] == nil || fmt.Sprint(m["devices"]) != "[door-7]" {
					t.Errorf("key %v: want its last use and its device", m)
				}
				return
			}
		}
		t.Errorf("the listing %s lacks key %s", r.raw, k.ID)
	})
}

// TestARevokedKeyIs401: a key revoked through the API stops working. The
// stack's authorizer keeps no key (KeyCacheTTL negative), so the
// revocation shows at once; with its default cache it takes up to 30 s,
// which pkg/internal/apikeys' tests show on a clock of their own.
func TestARevokedKeyIs401(t *testing.T) {
	s := newStackWith(t, stacktest.Options{KeyCacheTTL: -1})
	k := s.NewKey(t, []string{routes.ScopeRead}, []string{"door-7"})
	for _, form := range keyForms(k) {
		s.do("GET", "/devices/door-7/events", nil, s.onKeys(), form.opt).want(t, 200)
	}
	s.do("DELETE", "/apikeys/"+k.ID, nil).want(t, 204)
	for _, form := range keyForms(k) {
		t.Run("through "+form.name, func(t *testing.T) {
			s.do("GET", "/devices/door-7/events", nil, s.onKeys(), form.opt).want(t, 401, apigw("Unauthorized"))
		})
	}
	s.do("DELETE", "/apikeys/"+k.ID, nil).want(t, 404, "not_found")
}

// TestWhatTheAuthorizerReads counts the authorizer's calls to DynamoDB at
// the local AWS endpoint: a malformed key costs none, an unknown key one
// read (not cached: each costs its read), a good key one read and its
// first use's write, then nothing while it is cached.
func TestWhatTheAuthorizerReads(t *testing.T) {
	s := newStack(t)
	k := s.NewKey(t, []string{routes.ScopeRead}, nil)
	role := awslocal.PrincipalFor(routes.AuthorizeKey, routes.Permissions[routes.AuthorizeKey], awslocal.Resources{}, devstack.Region, devstack.AccountID)
	caller := "arn:aws:sts::" + devstack.AccountID + ":assumed-role/" + role.Role + "/" + role.Session
	calls := func() (reads, writes int) {
		c := s.AWS.Calls()
		return c[awslocal.Call{Principal: caller, Target: "DynamoDB_20120810.GetItem"}], c[awslocal.Call{Principal: caller, Target: "DynamoDB_20120810.UpdateItem"}]
	}
	unknown := "dek_" + k.ID[:15] + "0" + "_" + strings.Repeat("a", 32)
	if unknown == k.Key {
		unknown = "dek_" + k.ID[:15] + "1" + "_" + strings.Repeat("a", 32)
	}
	for _, c := range []struct {
		name          string
		opt           option
		status        int
		reads, writes int
	}{
		{"ten malformed keys cost no read", xAPIKey("dek_not-a-key"), 401, 0, 0},
		{"ten Basic credentials with a short secret cost no read", basic(k.ID, "x"), 401, 0, 0},
		{"ten unknown keys cost a read each", xAPIKey(unknown), 401, 10, 0},
		{"ten uses of a good key cost one read, and one write for the first use", xAPIKey(k.Key), 200, 1, 1},
		{"ten wrong secrets of the cached key cost no read", xAPIKey("dek_" + k.ID + "_" + strings.Repeat("b", 32)), 401, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r0, w0 := calls()
			for range 10 {
				if r := s.do("GET", "/devices/d1/events", nil, s.onKeys(), c.opt); r.status != c.status {
					t.Fatalf("got %d %s, want %d", r.status, r.raw, c.status)
				}
			}
			r1, w1 := calls()
			if r1-r0 != c.reads || w1-w0 != c.writes {
				t.Fatalf("got %d GetItem and %d UpdateItem calls, want %d and %d", r1-r0, w1-w0, c.reads, c.writes)
			}
		})
	}
}

// TestKeysNeverAppearInTheLogs drives keys through every form, good and
// bad, and reads every line the functions (the authorizer's included) and
// the local services wrote: none holds a key, its secret, or its Basic
// credentials; the authorizer logged a line per request.
func TestKeysNeverAppearInTheLogs(t *testing.T) {
	logs := &stacktest.SyncBuffer{}
	s := newStackWith(t, stacktest.Options{Logs: logs})
	k := s.NewKey(t, []string{routes.ScopeRead}, []string{"door-7"})
	wrong := stacktest.APIKey{ID: k.ID, Secret: strings.Repeat("b", 32)}
	wrong.Key = "dek_" + wrong.ID + "_" + wrong.Secret
	requests := 0
	for _, key := range []stacktest.APIKey{k, wrong} {
		for _, form := range keyForms(key) {
			s.do("GET", "/devices/door-7/events", nil, s.onKeys(), form.opt)
			s.do("POST", "/devices/door-7/events", map[string]any{"type": "door"}, s.onKeys(), form.opt)
			requests += 2
		}
	}
	s.do("DELETE", "/apikeys/"+k.ID, nil).want(t, 204)
	out := logs.String()
	for _, key := range []stacktest.APIKey{k, wrong} {
		for _, secret := range []string{key.Key, key.Secret, base64.StdEncoding.EncodeToString([]byte(key.ID + ":" + key.Secret))} {
			if strings.Contains(out, secret) {
				t.Errorf("the logs hold %q", secret)
			}
		}
	}
	if n := strings.Count(out, `"message":"authorize"`); n != requests {
		t.Errorf("the authorizer logged %d lines, want one per request (%d):\n%s", n, requests, out)
	}
}

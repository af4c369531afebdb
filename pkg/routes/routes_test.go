package routes

import (
	"slices"
	"testing"
)

func TestTheRouteTable(t *testing.T) {
	t.Run("a route key names one route of each API", func(t *testing.T) {
		seen := map[string]bool{}
		for _, r := range All {
			id := string(r.API) + " " + r.Key()
			if seen[id] {
				t.Errorf("%s: got two routes, want one", id)
			}
			seen[id] = true
			if got, ok := ByKey(r.API, r.Key()); !ok || got != r {
				t.Errorf("ByKey(%s, %s) = %v, %v; want %v", r.API, r.Key(), got, ok, r)
			}
		}
	})
	t.Run("the key API serves the events API's native routes, and nothing else but the dialects'", func(t *testing.T) {
		keys := slices.DeleteFunc(ForAPI(Keys), func(r Route) bool { return r.Dialect != "" })
		if len(keys) != len(native) {
			t.Fatalf("got %d key API routes, want the %d native ones", len(keys), len(native))
		}
		for _, k := range keys {
			e, ok := ByKey(Events, k.Key())
			if !ok {
				t.Errorf("%s is on the key API, not on the events API", k.Key())
				continue
			}
			e.API = Keys
			if e != k {
				t.Errorf("%s: got %+v on the key API, want the events API's %+v", k.Key(), k, e)
			}
		}
	})
	t.Run("the events API serves no dialect but Losant's, and Losant's on the key API too", func(t *testing.T) {
		for _, r := range ForAPI(Events) {
			if r.Dialect == "" {
				continue
			}
			if r.Dialect != Losant {
				t.Errorf("%s: %s on the events API", r.Key(), r.Dialect)
			}
			k, ok := ByKey(Keys, r.Key())
			k.API = Events
			if !ok || k != r {
				t.Errorf("%s: on the events API, not the same on the key API", r.Key())
			}
		}
	})
	t.Run("no route of the key API needs the admin scope", func(t *testing.T) {
		for _, r := range ForAPI(Keys) {
			if r.Scope == ScopeAdmin {
				t.Errorf("%s needs %s on the key API", r.Key(), ScopeAdmin)
			}
		}
	})
	t.Run("an authorizer is a function of the table that serves no route", func(t *testing.T) {
		for api, fn := range Authorizers {
			if !slices.Contains(Functions, fn) || !IsAuthorizer(fn) {
				t.Errorf("%s's authorizer %s: not among Functions, or not an authorizer", api, fn)
			}
			if rs := ForFunction(fn); len(rs) != 0 {
				t.Errorf("%s serves %d routes, want none", fn, len(rs))
			}
		}
		if IsAuthorizer(PutEvent) {
			t.Errorf("IsAuthorizer(%s) = true, want false", PutEvent)
		}
	})
	t.Run("every function has its permissions and deployment, and serves routes unless it authorizes", func(t *testing.T) {
		for _, fn := range Functions {
			if _, ok := Permissions[fn]; !ok {
				t.Errorf("%s: no Permissions", fn)
			}
			if d, ok := Deployments[fn]; !ok || d.MemoryMB == 0 || d.Timeout == 0 {
				t.Errorf("%s: Deployment %+v, want a memory size and a timeout", fn, d)
			}
			if len(ForFunction(fn)) == 0 && !IsAuthorizer(fn) {
				t.Errorf("%s serves no route and authorizes none", fn)
			}
		}
	})
	t.Run("the functions that hash keys get the pepper's secret, the others not", func(t *testing.T) {
		for _, fn := range Functions {
			env := Env(fn, Settings{Table: "t", KeyPepperSecretARN: "arn:pepper"})
			got, set := env[EnvKeyPepperSecretARN]
			if want := Permissions[fn].KeyPepper; set != want || (want && got != "arn:pepper") {
				t.Errorf("%s: %s = %q (set %v), want set %v", fn, EnvKeyPepperSecretARN, got, set, want)
			}
		}
	})
	t.Run("API_IDS round-trips every API", func(t *testing.T) {
		ids := map[API]string{Events: "e1", Registry: "r1", Keys: "k1"}
		got, err := ParseAPIIDs(FormatAPIIDs(ids))
		if err != nil {
			t.Fatal(err)
		}
		for api, id := range ids {
			if got[id] != api {
				t.Errorf("API of %s: got %q, want %q", id, got[id], api)
			}
		}
	})
}

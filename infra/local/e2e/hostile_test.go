package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fleetlog/device-events/infra/local/gateway"
	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// hostileCase is one request an attacker or a broken client could send, and
// the contract's answer to it. A case with raw set is written byte for byte
// on a TCP connection, for what Go's HTTP client refuses to send.
type hostileCase struct {
	name         string
	method, path string
	body         any
	opts         []option
	raw          string
	status       int
	code         string
	// byServer: net/http refuses the request before any handler runs, with
	// its own plain-text 400 (API Gateway does the same in AWS with its own
	// answer), so there is no contract error code to check.
	byServer bool
}

// TestHostileRequestsAreRefusedAndChangeNothing sends requests built to
// break the API: each gets the contract's 4xx and error code, and the table
// is byte for byte what it was before any of them.
func TestHostileRequestsAreRefusedAndChangeNothing(t *testing.T) {
	s := newStack(t)
	h := seedHostile(t, s)
	cases := hostileCases(t, s, h)
	if len(cases) < 60 {
		t.Fatalf("%d hostile cases, want at least 60", len(cases))
	}
	before := snapshot(t, s)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			if tc.raw != "" {
				r = s.raw(t, tc.raw)
			} else {
				r = s.do(tc.method, tc.path, tc.body, tc.opts...)
			}
			if tc.byServer {
				if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
					t.Fatalf("got %d %q, want net/http's own %d text/plain refusal; body %.200s", r.status, r.header.Get("Content-Type"), tc.status, r.raw)
				}
				return
			}
			r.want(t, tc.status, tc.code)
		})
	}
	after := snapshot(t, s)
	if !bytes.Equal(before, after) {
		gone, added := diffLines(before, after)
		t.Fatalf("the hostile requests changed the table: got %d items, want the %d seeded\nitems gone or changed:\n%s\nitems new or changed:\n%s",
			bytes.Count(after, []byte("\n"))+1, bytes.Count(before, []byte("\n"))+1, gone, added)
	}
}

// diffLines returns the lines only in a and the lines only in b.
func diffLines(a, b []byte) (onlyA, onlyB string) {
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(string(a), "\n") {
		inA[l] = true
	}
	for _, l := range strings.Split(string(b), "\n") {
		inB[l] = true
		if !inA[l] {
			onlyB += l + "\n"
		}
	}
	for _, l := range strings.Split(string(a), "\n") {
		if !inB[l] {
			onlyA += l + "\n"
		}
	}
	return onlyA, onlyB
}

// hostileSeed is what the cases attack: events to patch, list and page,
// and device API keys.
type hostileSeed struct {
	eventPath string // /devices/d1/events/<id> of an event on d1
	otherPath string // an event on d2
	pageToken string // the second page of GET /devices/d1/events?limit=1
	fleetTok  string // the second page of GET /events?type=door&limit=1
	// Keys of d1: one that reads, one that reads and writes, one revoked,
	// one expired.
	readKey, writeKey, revokedKey, expiredKey stacktest.APIKey
}

func seedHostile(t *testing.T, s *stack) hostileSeed {
	t.Helper()
	var h hostileSeed
	for i, body := range []any{
		map[string]any{"type": "door", "time": "2026-03-01T10:00:00Z", "text": "front door", "data": map[string]any{"n": 1, "nested": map[string]any{"ok": true}}},
		map[string]any{"type": "door", "time": "2026-03-01T11:00:00Z", "severity": "warning", "idempotencyKey": "seed-2"},
		map[string]any{"deviceid": "d1", "status": "Failed", "description": "Group b76f won't be pushed", "function": "get-greengrass-configurations"},
		map[string]any{"fun": "state.apply", "jid": "20260301100000123456", "id": "d1", "retcode": 0, "success": true,
			"return": map[string]any{"file_|-a_|-/etc/a_|-managed": map[string]any{"result": true}}},
	} {
		ev := s.put("d1", body)
		if i == 0 {
			h.eventPath = ev["self"].(string)
		}
	}
	h.otherPath = s.put("d2", []any{map[string]any{"type": "door", "time": "2026-03-01T12:00:00Z"}})["self"].(string)
	var ok bool
	if h.pageToken, ok = s.do("GET", "/devices/d1/events?limit=1", nil).want(t, 200).body["nextPageToken"].(string); !ok {
		t.Fatal("no nextPageToken on the first page of d1's four events")
	}
	if h.fleetTok, ok = s.do("GET", "/events?type=door&limit=1", nil).want(t, 200).body["nextPageToken"].(string); !ok {
		t.Fatal("no nextPageToken on the first page of the fleet's doors")
	}
	// The tokens are good where they belong: the cases below are refused for
	// what they change, not because the tokens never worked.
	s.do("GET", "/devices/d1/events?limit=1&pageToken="+h.pageToken, nil).want(t, 200)
	s.do("GET", "/events?type=door&limit=1&pageToken="+h.fleetTok, nil).want(t, 200)

	h.readKey = s.NewKey(t, []string{routes.ScopeRead}, []string{"d1"})
	h.writeKey = s.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite}, []string{"d1"})
	// So are the keys, once each, which records their use before the
	// snapshot (the cases then change nothing within the hour).
	for _, k := range []stacktest.APIKey{h.readKey, h.writeKey} {
		s.do("GET", "/devices/d1/events?limit=1", nil, s.onKeys(), xAPIKey(k.Key)).want(t, 200)
	}
	// Revoked before any use: a key used a moment before its revocation
	// still works for the authorizer's cache time (TestARevokedKeyIs401).
	h.revokedKey = s.NewKey(t, []string{routes.ScopeRead}, []string{"d1"})
	s.do("DELETE", "/apikeys/"+h.revokedKey.ID, nil).want(t, 204)
	// An expired key, stored as the api-keys function stores one: the API
	// makes none that is expired already.
	h.expiredKey = stacktest.APIKey{ID: "000000000000000e", Secret: strings.Repeat("e", 32)}
	h.expiredKey.Key = "dek_" + h.expiredKey.ID + "_" + h.expiredKey.Secret
	mac := hmac.New(sha256.New, []byte(stacktest.KeyPepper))
	mac.Write([]byte(h.expiredKey.Secret))
	if err := s.Store.CreateAPIKey(context.Background(), eventstore.APIKey{ID: h.expiredKey.ID, Name: "expired", Scopes: []string{routes.ScopeRead},
		Devices: []string{"d1"}, Created: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour), Hash: mac.Sum(nil)}); err != nil {
		t.Fatal(err)
	}
	return h
}

func hostileCases(t *testing.T, s *stack, h hostileSeed) []hostileCase {
	t.Helper()
	const events = "/devices/d1/events"
	door := map[string]any{"type": "door"}
	readOnly := s.mint([]string{routes.ScopeRead}, nil)
	d2Only := s.mint(allScopes, []string{"d2"})
	d1Only := s.mint(allScopes, []string{"d1"})
	noDevices := s.mint(allScopes, []string{})
	otherKey, err := gateway.NewAuth(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := otherKey.Mint(gateway.TokenClaims{Subject: "tester", Scopes: allScopes, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := s.Auth.Mint(gateway.TokenClaims{Subject: "tester", Scopes: allScopes, TTL: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	good := func(change func(jwt.MapClaims)) jwt.MapClaims {
		now := time.Now()
		c := jwt.MapClaims{"iss": gateway.Issuer, "aud": gateway.Audience, "sub": "tester", "iat": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "scope": strings.Join(allScopes, " ")}
		if change != nil {
			change(c)
		}
		return c
	}
	// The hand-made tokens are signed with the stack's secret: this one,
	// with nothing wrong in it, must work, or the cases below would pass
	// for the wrong reason.
	s.do("GET", events, nil, bearer(signLocal(t, jwt.SigningMethodHS256, good(nil)))).want(t, 200)

	bigData := func(n int) string { return `{"type":"door","data":{"blob":"` + strings.Repeat("x", n) + `"}}` }
	nested := func(levels int) map[string]any {
		v := map[string]any{"leaf": true}
		for i := 1; i < levels; i++ {
			v = map[string]any{"a": v}
		}
		return v
	}
	batch := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"type": "door"}
		}
		return out
	}
	ct := func(v string) option { return header("Content-Type", v) }
	onKeys := func(opts ...option) []option { return append([]option{s.onKeys()}, opts...) }
	forged := stacktest.APIKey{ID: "0123456789abcdef", Secret: strings.Repeat("f", 32)}
	forged.Key = "dek_" + forged.ID + "_" + forged.Secret
	editedTok := flipChar(h.pageToken, len(h.pageToken)/2)
	malleable := flipLastBits(h.pageToken)
	long := strings.Repeat("x", 129)

	return []hostileCase{
		// Huge and deep bodies.
		// A body API Gateway takes (≤ 10 MB) makes an event over Lambda's 6 MB
		// request limit: Lambda refuses the invoke, and API Gateway answers
		// its 500, as it does in AWS.
		{name: "a body over Lambda's 6 MB is API Gateway's 500", method: "POST", path: events, body: bigData(6_500_000), status: 500, code: apigw("Internal Server Error")},
		{name: "a body just under Lambda's limit is the function's 413", method: "POST", path: events, body: bigData(6_000_000), status: 413, code: "payload_too_large"},
		{name: "a body over 10 MB is 413 at the gateway", method: "POST", path: events, body: bigData(11 << 20), status: 413, code: apigw("Request Entity Too Large")},
		{name: "an event over 256 KiB in a small batch is 413", method: "POST", path: events, body: "[" + bigData(300<<10) + "]", status: 413, code: "payload_too_large"},
		{name: "data nested 33 levels is 400 invalid_event", method: "POST", path: events, body: map[string]any{"type": "door", "data": nested(33)}, status: 400, code: "invalid_event"},
		{name: "a body nested 10 000 arrays deep is 400 invalid_json", method: "POST", path: events, body: strings.Repeat("[", 10000) + strings.Repeat("]", 10000), status: 400, code: "invalid_json"},
		{name: "data nested 10 000 objects deep is 400 invalid_json", method: "POST", path: events, body: `{"type":"door","data":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + "}", status: 400, code: "invalid_json"},
		{name: "an unterminated deep body is 400 invalid_json", method: "POST", path: events, body: strings.Repeat(`{"a":[`, 5000), status: 400, code: "invalid_json"},
		{name: "a PATCH nesting data 33 levels is 400 invalid_event", method: "PATCH", path: h.eventPath, body: map[string]any{"data": nested(33)}, status: 400, code: "invalid_event"},

		// Invalid UTF-8 and NUL bytes.
		{name: "invalid UTF-8 in the type is 400 invalid_json", method: "POST", path: events, body: "{\"type\":\"do\xffor\"}", status: 400, code: "invalid_json"},
		{name: "invalid UTF-8 in a data key is 400 invalid_json", method: "POST", path: events, body: "{\"type\":\"door\",\"data\":{\"k\xc3\":1}}", status: 400, code: "invalid_json"},
		{name: "an overlong UTF-8 slash is 400 invalid_json", method: "POST", path: events, body: "{\"type\":\"a\xc0\xafb\"}", status: 400, code: "invalid_json"},
		{name: "a UTF-8 encoded surrogate is 400 invalid_json", method: "POST", path: events, body: "{\"type\":\"door\",\"text\":\"\xed\xa0\x80\"}", status: 400, code: "invalid_json"},
		{name: "invalid UTF-8 in a PATCH is 400 invalid_json", method: "PATCH", path: h.eventPath, body: "{\"text\":\"\xfe\"}", status: 400, code: "invalid_json"},
		{name: "a raw NUL byte inside a string is 400 invalid_json", method: "POST", path: events, body: "{\"type\":\"do\x00or\"}", status: 400, code: "invalid_json"},
		{name: "a NUL in the type is 400 invalid_event", method: "POST", path: events, body: `{"type":"do\u0000or"}`, status: 400, code: "invalid_event"},
		{name: "a NUL in the text is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","text":"a\u0000b"}`, status: 400, code: "invalid_event"},
		{name: "a NUL in the status is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","status":"ok\u0000"}`, status: 400, code: "invalid_event"},
		{name: "a NUL in a body key is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","ty\u0000pe":"x"}`, status: 400, code: "invalid_event"},
		{name: "a NUL in the idempotency key is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","idempotencyKey":"k\u0000"}`, status: 400, code: "invalid_event"},
		{name: "a NUL in the body's device id is 400 invalid_event", method: "POST", path: events, body: `{"deviceid":"d1\u0000","function":"f"}`, status: 400, code: "invalid_event"},
		{name: "a NUL in the path's device id is 400 invalid_parameter", method: "POST", path: "/devices/d1%00/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a NUL in a PATCH text is 400 invalid_event", method: "PATCH", path: h.eventPath, body: `{"text":"\u0000"}`, status: 400, code: "invalid_event"},

		// Duplicate keys, trailing data and other broken JSON.
		{name: "a duplicated type is 400 invalid_json", method: "POST", path: events, body: `{"type":"door","type":"window"}`, status: 400, code: "invalid_json"},
		{name: "a key duplicated through an escape is 400 invalid_json", method: "POST", path: events, body: `{"type":"door","\u0074ype":"window"}`, status: 400, code: "invalid_json"},
		{name: "a key duplicated inside data is 400 invalid_json", method: "POST", path: events, body: `{"type":"door","data":{"a":1,"b":{"c":1,"c":2}}}`, status: 400, code: "invalid_json"},
		{name: "a key duplicated in one event of a batch is 400 invalid_json", method: "POST", path: events, body: `[{"type":"door"},{"type":"a","severity":"info","severity":"critical"}]`, status: 400, code: "invalid_json"},
		{name: "a duplicated state in a PATCH is 400 invalid_json", method: "PATCH", path: h.eventPath, body: `{"state":"acknowledged","state":"resolved"}`, status: 400, code: "invalid_json"},
		{name: "a second JSON value after the body is 400 invalid_json", method: "POST", path: events, body: `{"type":"door"} {"type":"window"}`, status: 400, code: "invalid_json"},
		{name: "a byte order mark before the body is 400 invalid_json", method: "POST", path: events, body: "\ufeff{\"type\":\"door\"}", status: 400, code: "invalid_json"},
		{name: "an empty body is 400 invalid_json", method: "POST", path: events, body: "", status: 400, code: "invalid_json"},
		{name: "a JSON null body is 400 invalid_event", method: "POST", path: events, body: "null", status: 400, code: "invalid_event"},
		{name: "a JSON string body is 400 invalid_event", method: "POST", path: events, body: `"door"`, status: 400, code: "invalid_event"},
		{name: "a PATCH body that is an array is 400 invalid_event", method: "PATCH", path: h.eventPath, body: `[{"state":"resolved"}]`, status: 400, code: "invalid_event"},
		{name: "a PATCH body that is a number is 400 invalid_event", method: "PATCH", path: h.eventPath, body: `42`, status: 400, code: "invalid_event"},

		// Numbers out of range.
		{name: "1e400 in data is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","data":{"n":1e400}}`, status: 400, code: "invalid_event"},
		{name: "-1e400 in data is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","data":{"n":[-1e400]}}`, status: 400, code: "invalid_event"},
		{name: "a huge exponent in data is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","data":{"n":1e999999999999}}`, status: 400, code: "invalid_event"},
		{name: "1e400 in a Salt return is 400 invalid_event", method: "POST", path: events, body: `{"fun":"state.apply","jid":"1","retcode":1e400,"return":{}}`, status: 400, code: "invalid_event"},
		{name: "1e400 in a PATCH of data is 400 invalid_event", method: "PATCH", path: h.eventPath, body: `{"data":{"n":1e400}}`, status: 400, code: "invalid_event"},
		{name: "a time of 1e400 is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","time":1e400}`, status: 400, code: "invalid_event"},
		{name: "a negative time is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","time":-1}`, status: 400, code: "invalid_event"},
		{name: "a time past year 9999 is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","time":"9999-12-31T23:59:59-23:59"}`, status: 400, code: "invalid_event"},
		{name: "the zero time is 400 invalid_event, not now", method: "POST", path: events, body: `{"type":"door","time":"0001-01-01T00:00:00Z"}`, status: 400, code: "invalid_event"},
		{name: "a time before 1970 is 400 invalid_event", method: "POST", path: events, body: `{"type":"door","time":"1969-12-31T23:59:59Z"}`, status: 400, code: "invalid_event"},
		{name: "a type that is a number is 400 invalid_event", method: "POST", path: events, body: `{"type":1e400}`, status: 400, code: "invalid_event"},
		{name: "a limit of 1e3 is 400 invalid_parameter", method: "GET", path: events + "?limit=1e3", status: 400, code: "invalid_parameter"},
		{name: "a limit past int64 is 400 invalid_parameter", method: "GET", path: events + "?limit=99999999999999999999", status: 400, code: "invalid_parameter"},
		{name: "from=1e400 is 400 invalid_parameter", method: "GET", path: events + "?from=1e400", status: 400, code: "invalid_parameter"},
		{name: "from=-1 is 400 invalid_parameter", method: "GET", path: events + "?from=-1", status: 400, code: "invalid_parameter"},
		{name: "a whole-range hourly aggregate is 400 invalid_parameter", method: "GET", path: "/devices/d1/aggregates?interval=hour&from=0&to=253402300799", status: 400, code: "invalid_parameter"},

		// Path tricks in ids.
		{name: "a device id of .. is 400 invalid_parameter", method: "POST", path: "/devices/../events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a device id of . is 400 invalid_parameter", method: "POST", path: "/devices/./events", body: door, status: 400, code: "invalid_parameter"},
		{name: "an encoded .. device id is 400 invalid_parameter", method: "POST", path: "/devices/%2e%2e/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a double-encoded .. device id is 400 invalid_parameter", method: "POST", path: "/devices/%252e%252e/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "an encoded slash in a device id is 400 invalid_parameter", method: "POST", path: "/devices/d1%2F..%2Fd2/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a fullwidth device id is 400 invalid_parameter", method: "POST", path: "/devices/ｄ1/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a Cyrillic look-alike device id is 400 invalid_parameter", method: "POST", path: "/devices/dа1/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a device id of 129 characters is 400 invalid_parameter", method: "POST", path: "/devices/" + long + "/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a device id with a trailing space is 400 invalid_parameter", method: "POST", path: "/devices/d1%20/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a device id with a semicolon parameter is 400 invalid_parameter", method: "POST", path: "/devices/d1;x=1/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "CR LF in a device id is 400 invalid_parameter", method: "POST", path: "/devices/d1%0d%0aX-Injected:%201/events", body: door, status: 400, code: "invalid_parameter"},
		{name: "a trailing slash is API Gateway's 404", method: "POST", path: events + "/", body: door, status: 404, code: apigw("Not Found")},
		{name: "a doubled leading slash is API Gateway's 404", method: "POST", path: "/" + events, body: door, status: 404, code: apigw("Not Found")},
		{name: "an empty device segment is API Gateway's 404", method: "POST", path: "/devices//events", body: door, status: 404, code: apigw("Not Found")},
		{name: "climbing out of the device with .. segments is API Gateway's 404", method: "POST", path: events + "/../../d2/events", body: door, status: 404, code: apigw("Not Found")},
		{name: "an upper-case route is API Gateway's 404", method: "POST", path: "/DEVICES/d1/events", body: door, status: 404, code: apigw("Not Found")},
		{name: "an event id of .. is 404", method: "PATCH", path: events + "/..", body: map[string]any{"state": "resolved"}, status: 404, code: "not_found"},
		{name: "an event id with a NUL is 404", method: "DELETE", path: h.eventPath + "%00", status: 404, code: "not_found"},
		{name: "an event id of 2000 characters is 404", method: "DELETE", path: events + "/" + strings.Repeat("0", 2000), status: 404, code: "not_found"},
		{name: "d1's event through d2's path is 404", method: "DELETE", path: "/devices/d2/events/" + lastSegment(h.eventPath), status: 404, code: "not_found"},
		{name: "an unknown method is API Gateway's 404", method: "PUT", path: h.eventPath, body: door, status: 404, code: apigw("Not Found")},

		// Header injection and malformed HTTP, over raw TCP.
		{name: "a bare CR inside a header value is refused by the server", raw: rawPost(s, events, []string{"Idempotency-Key: a\rX-Injected: 1"}, `{"type":"door"}`), status: 400, byServer: true},
		{name: "a NUL inside a header value is refused by the server", raw: rawPost(s, events, []string{"Idempotency-Key: a\x00b"}, `{"type":"door"}`), status: 400, byServer: true},
		{name: "a space before a header's colon is refused by the server", raw: rawPost(s, events, []string{"Content-Type : application/xml"}, `{"type":"door"}`), status: 400, byServer: true},
		{name: "two different Content-Lengths are refused by the server", raw: rawPost(s, events, []string{"Content-Length: 3"}, `{"type":"door"}`), status: 400, byServer: true},
		{name: "a bare LF smuggling a second Content-Type is 415", raw: rawPost(s, events, []string{"Idempotency-Key: a\nContent-Type: application/xml"}, `{"type":"door"}`), status: 415, code: "unsupported_media_type"},
		{name: "an obs-fold continuing the Idempotency-Key onto a second line is 400 invalid_parameter", raw: rawPost(s, events, []string{"Idempotency-Key: abc", " def"}, `{"type":"door"}`), status: 400, code: "invalid_parameter"},
		{name: "a tab inside the Idempotency-Key is 400 invalid_parameter", raw: rawPost(s, events, []string{"Idempotency-Key: a\tb"}, `{"type":"door"}`), status: 400, code: "invalid_parameter"},
		{name: "a Latin-1 byte in the Idempotency-Key is 400 invalid_parameter", raw: rawPost(s, events, []string{"Idempotency-Key: caf\xe9"}, `{"type":"door"}`), status: 400, code: "invalid_parameter"},
		{name: "raw UTF-8 in the request line's device id is 400 invalid_parameter", raw: rawPost(s, "/devices/d\xd0\xb01/events", nil, `{"type":"door"}`), status: 400, code: "invalid_parameter"},
		{name: "an Idempotency-Key of 256 characters is 400 invalid_parameter", method: "POST", path: events, body: door, opts: []option{header("Idempotency-Key", strings.Repeat("k", 256))}, status: 400, code: "invalid_parameter"},
		{name: "an Idempotency-Key with a space is 400 invalid_parameter", method: "POST", path: events, body: door, opts: []option{header("Idempotency-Key", "a b")}, status: 400, code: "invalid_parameter"},
		{name: "an Idempotency-Key that contradicts the body's is 400 invalid_event", method: "POST", path: events, body: map[string]any{"type": "door", "idempotencyKey": "one"}, opts: []option{header("Idempotency-Key", "two")}, status: 400, code: "invalid_event"},

		// Content types.
		{name: "XML is 415", method: "POST", path: events, body: `<event type="door"/>`, opts: []option{ct("application/xml")}, status: 415, code: "unsupported_media_type"},
		{name: "multipart is 415", method: "POST", path: events, body: "--x\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ndoor\r\n--x--\r\n", opts: []option{ct("multipart/form-data; boundary=x")}, status: 415, code: "unsupported_media_type"},
		{name: "application/octet-stream is 415 even around JSON", method: "POST", path: events, body: door, opts: []option{ct("application/octet-stream")}, status: 415, code: "unsupported_media_type"},
		{name: "JSON labelled latin1 is 415", method: "POST", path: events, body: door, opts: []option{ct("application/json; charset=latin1")}, status: 415, code: "unsupported_media_type"},
		{name: "JSON labelled UTF-16 is 415", method: "POST", path: events, body: door, opts: []option{ct("application/json; charset=utf-16")}, status: 415, code: "unsupported_media_type"},
		{name: "text/html is 415", method: "POST", path: events, body: door, opts: []option{ct("text/html")}, status: 415, code: "unsupported_media_type"},
		{name: "a malformed Content-Type is 415", method: "POST", path: events, body: door, opts: []option{ct("application/json;;charset")}, status: 415, code: "unsupported_media_type"},
		{name: "a form-labelled PATCH is 415", method: "PATCH", path: h.eventPath, body: map[string]any{"state": "resolved"}, opts: []option{ct("application/x-www-form-urlencoded")}, status: 415, code: "unsupported_media_type"},

		// Tokens.
		{name: "a token signed with another key is 401", method: "POST", path: events, body: door, opts: []option{bearer(wrongKey)}, status: 401, code: apigw("Unauthorized")},
		{name: "an expired token is 401", method: "POST", path: events, body: door, opts: []option{bearer(expired)}, status: 401, code: apigw("Unauthorized")},
		{name: "an alg none token is 401", method: "POST", path: events, body: door, opts: []option{bearer(unsigned(t, good(nil)))}, status: 401, code: apigw("Unauthorized")},
		{name: "a read token with its scope edited to write is 401", method: "POST", path: events, body: door, opts: []option{bearer(editClaims(t, readOnly, func(c map[string]any) { c["scope"] = strings.Join(allScopes, " ") }))}, status: 401, code: apigw("Unauthorized")},
		{name: "a device token with its devices removed is 401", method: "POST", path: events, body: door, opts: []option{bearer(editClaims(t, d2Only, func(c map[string]any) { delete(c, "devices") }))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token from another issuer is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token for another audience is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["aud"] = "another-api" })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token not valid yet is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token issued in the future is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token not valid before a date past any real one is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["nbf"] = 1e300 })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token issued before 1970 is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["iat"] = -1e18 })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token expiring in the year 30000 is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["exp"] = 884541340800 })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token whose iat is a string is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["iat"] = "yesterday" })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token without an expiry is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { delete(c, "exp") })))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token signed with HS512 is 401", method: "POST", path: events, body: door, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS512, good(nil)))}, status: 401, code: apigw("Unauthorized")},
		{name: "a token in the query string is 401", method: "POST", path: events + "?access_token=" + s.token, body: door, opts: []option{noToken()}, status: 401, code: apigw("Unauthorized")},
		{name: "an empty bearer is 401", method: "POST", path: events, body: door, opts: []option{header("Authorization", "Bearer ")}, status: 401, code: apigw("Unauthorized")},
		{name: "a token with a scope it should not have is 403", method: "POST", path: events, body: door, opts: []option{bearer(readOnly)}, status: 403, code: apigw("Forbidden")},
		{name: "a delete scope smuggled in scp next to scope is 403", method: "DELETE", path: h.eventPath, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["scope"] = routes.ScopeRead; c["scp"] = []string{routes.ScopeDelete} })))}, status: 403, code: apigw("Forbidden")},
		{name: "a look-alike scope is 403", method: "DELETE", path: h.eventPath, opts: []option{bearer(signLocal(t, jwt.SigningMethodHS256, good(func(c jwt.MapClaims) { c["scope"] = "events/delete/ events/*" })))}, status: 403, code: apigw("Forbidden")},
		{name: "a token for another device is 403", method: "POST", path: events, body: door, opts: []option{bearer(d2Only)}, status: 403, code: "forbidden"},
		{name: "a token for no device at all is 403", method: "GET", path: events, opts: []option{bearer(noDevices)}, status: 403, code: "forbidden"},
		{name: "a device token is 403 on the fleet list", method: "GET", path: "/events?type=door", opts: []option{bearer(d1Only)}, status: 403, code: "forbidden"},
		{name: "a device token is 403 on fleet aggregates", method: "GET", path: "/aggregates?type=door&interval=day", opts: []option{bearer(d1Only)}, status: 403, code: "forbidden"},
		{name: "a device token is 403 on another device's event", method: "DELETE", path: h.otherPath, opts: []option{bearer(d1Only)}, status: 403, code: "forbidden"},
		{name: "a device token naming another device in the body is 400 invalid_event", method: "POST", path: events, body: map[string]any{"deviceId": "d2", "type": "door"}, opts: []option{bearer(d1Only)}, status: 400, code: "invalid_event"},
		{name: "a device token naming another device in a batch is 400 invalid_event", method: "POST", path: events, body: map[string]any{"deviceId": "d2", "events": []any{door}}, opts: []option{bearer(d1Only)}, status: 400, code: "invalid_event"},
		{name: "a DeLaval body for another device is 400 invalid_event", method: "POST", path: events, body: map[string]any{"deviceid": "d2", "function": "f"}, opts: []option{bearer(d1Only)}, status: 400, code: "invalid_event"},

		// Device API keys, on the key API.
		{name: "a forged key is 401", method: "GET", path: events, opts: onKeys(xAPIKey(forged.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "a truncated key is 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.readKey.Key[:len(h.readKey.Key)-1])), status: 401, code: apigw("Unauthorized")},
		{name: "a key with a character added is 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.readKey.Key + "a")), status: 401, code: apigw("Unauthorized")},
		{name: "a key's id with another's secret is 401", method: "GET", path: events, opts: onKeys(xAPIKey("dek_" + h.readKey.ID + "_" + h.writeKey.Secret)), status: 401, code: apigw("Unauthorized")},
		{name: "a key's id with a wrong secret in Basic credentials is 401", method: "GET", path: events, opts: onKeys(basic(h.readKey.ID, forged.Secret)), status: 401, code: apigw("Unauthorized")},
		{name: "an unknown id with a well-formed secret is 401", method: "GET", path: events, opts: onKeys(rawKey("dek_" + forged.ID + "_" + h.readKey.Secret)), status: 401, code: apigw("Unauthorized")},
		{name: "a revoked key is 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.revokedKey.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "a revoked key in Basic credentials is 401", method: "GET", path: events, opts: onKeys(basic(h.revokedKey.ID, h.revokedKey.Secret)), status: 401, code: apigw("Unauthorized")},
		{name: "an expired key is 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.expiredKey.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "an expired key as a raw Authorization is 401", method: "GET", path: events, opts: onKeys(rawKey(h.expiredKey.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "a key in upper case is 401", method: "GET", path: events, opts: onKeys(xAPIKey(strings.ToUpper(h.readKey.Key))), status: 401, code: apigw("Unauthorized")},
		{name: "a key without its dek_ prefix is 401", method: "GET", path: events, opts: onKeys(xAPIKey(strings.TrimPrefix(h.readKey.Key, "dek_"))), status: 401, code: apigw("Unauthorized")},
		{name: "a key of 10 000 characters is 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.readKey.Key + strings.Repeat("a", 10000))), status: 401, code: apigw("Unauthorized")},
		{name: "an empty X-Api-Key is 401", method: "GET", path: events, opts: onKeys(header("X-Api-Key", "")), status: 401, code: apigw("Unauthorized")},
		{name: "a key in X-Api-Key and Authorization both is 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.readKey.Key), rawKey(h.readKey.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "a key and a bearer token together are 401", method: "GET", path: events, opts: onKeys(xAPIKey(h.readKey.Key), bearer(s.token)), status: 401, code: apigw("Unauthorized")},
		{name: "two X-Api-Key headers are 401", method: "GET", path: events, opts: onKeys(twice("X-Api-Key", h.readKey.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "Basic credentials that are not base64 are 401", method: "GET", path: events, opts: onKeys(header("Authorization", "Basic !!"+h.readKey.ID)), status: 401, code: apigw("Unauthorized")},
		{name: "Basic credentials in base64url are 401", method: "GET", path: events, opts: onKeys(header("Authorization", "Basic "+base64.URLEncoding.EncodeToString([]byte(h.readKey.ID+":"+h.readKey.Secret+"~?")))), status: 401, code: apigw("Unauthorized")},
		{name: "Basic credentials without their padding are 401", method: "GET", path: events, opts: onKeys(header("Authorization", "Basic "+base64.RawStdEncoding.EncodeToString([]byte(h.readKey.ID+":"+h.readKey.Secret)))), status: 401, code: apigw("Unauthorized")},
		{name: "Basic credentials without a colon are 401", method: "GET", path: events, opts: onKeys(header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(h.readKey.Key)))), status: 401, code: apigw("Unauthorized")},
		// A key is also read as a Bearer token (Losant's clients send it so):
		// the Losant tests use it; here what a Bearer key must not pass.
		{name: "a Bearer key with a wrong secret is 401", method: "GET", path: events, opts: onKeys(bearer("dek_" + h.readKey.ID + "_" + forged.Secret)), status: 401, code: apigw("Unauthorized")},
		{name: "a revoked key as a Bearer token is 401", method: "GET", path: events, opts: onKeys(bearer(h.revokedKey.Key)), status: 401, code: apigw("Unauthorized")},
		{name: "a Bearer key with Basic's id and secret is 401", method: "GET", path: events, opts: onKeys(bearer(h.readKey.ID + ":" + h.readKey.Secret)), status: 401, code: apigw("Unauthorized")},
		{name: "a key in the query string is 401", method: "GET", path: events + "?api_key=" + h.readKey.Key, opts: onKeys(), status: 401, code: apigw("Unauthorized")},
		{name: "a bearer token on the key API is 401", method: "GET", path: events, opts: onKeys(bearer(s.token)), status: 401, code: apigw("Unauthorized")},
		{name: "a key on the events API is 401", method: "GET", path: events, opts: []option{noToken(), xAPIKey(h.readKey.Key)}, status: 401, code: apigw("Unauthorized")},
		{name: "a read key writing is API Gateway's 403", method: "POST", path: events, body: door, opts: onKeys(xAPIKey(h.readKey.Key)), status: 403, code: apigw("Forbidden")},
		{name: "a read and write key deleting is API Gateway's 403", method: "DELETE", path: h.eventPath, opts: onKeys(basic(h.writeKey.ID, h.writeKey.Secret)), status: 403, code: apigw("Forbidden")},
		{name: "a key for another device is 403", method: "GET", path: "/devices/d2/events", opts: onKeys(xAPIKey(h.writeKey.Key)), status: 403, code: "forbidden"},
		{name: "a key writing another device is 403", method: "POST", path: "/devices/d2/events", body: door, opts: onKeys(rawKey(h.writeKey.Key)), status: 403, code: "forbidden"},
		{name: "a key patching another device's event is 403", method: "PATCH", path: h.otherPath, body: map[string]any{"state": "resolved"}, opts: onKeys(xAPIKey(h.writeKey.Key)), status: 403, code: "forbidden"},
		{name: "a device key on the fleet list is 403", method: "GET", path: "/events?type=door", opts: onKeys(xAPIKey(h.readKey.Key)), status: 403, code: "forbidden"},
		{name: "a device key naming another device in the body is 400 invalid_event", method: "POST", path: events, body: map[string]any{"deviceId": "d2", "type": "door"}, opts: onKeys(xAPIKey(h.writeKey.Key)), status: 400, code: "invalid_event"},
		{name: "making a key on the key API is API Gateway's 404", method: "POST", path: "/apikeys", body: map[string]any{"name": "n", "scopes": []string{routes.ScopeRead}}, opts: onKeys(xAPIKey(h.writeKey.Key)), status: 404, code: apigw("Not Found")},
		{name: "revoking a key with a key is API Gateway's 404", method: "DELETE", path: "/apikeys/" + h.readKey.ID, opts: onKeys(xAPIKey(h.writeKey.Key)), status: 404, code: apigw("Not Found")},
		{name: "making a key with a token without events/admin is API Gateway's 403", method: "POST", path: "/apikeys", body: map[string]any{"name": "n", "scopes": []string{routes.ScopeRead}}, opts: []option{bearer(readOnly)}, status: 403, code: apigw("Forbidden")},
		{name: "making a key of the admin scope is 400 invalid_event", method: "POST", path: "/apikeys", body: map[string]any{"name": "n", "scopes": []string{routes.ScopeAdmin}}, status: 400, code: "invalid_event"},
		{name: "making a key that has expired is 400 invalid_event", method: "POST", path: "/apikeys", body: map[string]any{"name": "n", "scopes": []string{routes.ScopeRead}, "expiresAt": "2020-01-01T00:00:00Z"}, status: 400, code: "invalid_event"},

		// Page tokens.
		{name: "an edited page token is 400 invalid_page_token", method: "GET", path: events + "?limit=1&pageToken=" + editedTok, status: 400, code: "invalid_page_token"},
		{name: "a page token with its padding bits changed is 400 invalid_page_token", method: "GET", path: events + "?limit=1&pageToken=" + malleable, status: 400, code: "invalid_page_token"},
		{name: "a page token with a newline appended is 400 invalid_page_token", method: "GET", path: events + "?limit=1&pageToken=" + h.pageToken + "%0A", status: 400, code: "invalid_page_token"},
		{name: "a truncated page token is 400 invalid_page_token", method: "GET", path: events + "?limit=1&pageToken=" + h.pageToken[:len(h.pageToken)-3], status: 400, code: "invalid_page_token"},
		{name: "a page token of 2000 characters is 400 invalid_page_token", method: "GET", path: events + "?pageToken=" + strings.Repeat("A", 2000), status: 400, code: "invalid_page_token"},
		{name: "a page token replayed on another device is 400 invalid_page_token", method: "GET", path: "/devices/d2/events?limit=1&pageToken=" + h.pageToken, status: 400, code: "invalid_page_token"},
		{name: "a page token replayed with a type filter is 400 invalid_page_token", method: "GET", path: events + "?limit=1&type=door&pageToken=" + h.pageToken, status: 400, code: "invalid_page_token"},
		{name: "a page token replayed in the other order is 400 invalid_page_token", method: "GET", path: events + "?limit=1&order=asc&pageToken=" + h.pageToken, status: 400, code: "invalid_page_token"},
		{name: "a page token replayed with a time range is 400 invalid_page_token", method: "GET", path: events + "?limit=1&from=2026-01-01T00:00:00Z&pageToken=" + h.pageToken, status: 400, code: "invalid_page_token"},
		{name: "a fleet page token replayed on a device is 400 invalid_page_token", method: "GET", path: events + "?type=door&limit=1&pageToken=" + h.fleetTok, status: 400, code: "invalid_page_token"},
		{name: "a list page token replayed on a bulk delete is 400 invalid_page_token", method: "DELETE", path: events + "?all=true&pageToken=" + h.pageToken, status: 400, code: "invalid_page_token"},
		{name: "a page token given twice is 400 invalid_parameter", method: "GET", path: events + "?pageToken=" + h.pageToken + "&pageToken=" + h.pageToken, status: 400, code: "invalid_parameter"},

		// Batches and bodies that break the rules.
		{name: "a batch of 101 is 400 invalid_event", method: "POST", path: events, body: batch(101), status: 400, code: "invalid_event"},
		{name: "a wrapped batch of 101 is 400 invalid_event", method: "POST", path: events, body: map[string]any{"events": batch(101)}, status: 400, code: "invalid_event"},
		{name: "an empty batch is 400 invalid_event", method: "POST", path: events, body: `[]`, status: 400, code: "invalid_event"},
		{name: "a nested batch is 400 invalid_event", method: "POST", path: events, body: map[string]any{"events": []any{map[string]any{"events": batch(1)}}}, status: 400, code: "invalid_event"},
		{name: "a batch with one bad event writes none and is 400 invalid_event", method: "POST", path: events, body: append(batch(99), map[string]any{"type": ""}), status: 400, code: "invalid_event"},
		{name: "a field next to a wrapped batch is 400 invalid_event", method: "POST", path: events, body: map[string]any{"events": batch(1), "type": "x"}, status: 400, code: "invalid_event"},
		{name: "an unknown field is 400 invalid_event", method: "POST", path: events, body: map[string]any{"type": "door", "version": 9}, status: 400, code: "invalid_event"},
		{name: "a type of 129 characters is 400 invalid_event", method: "POST", path: events, body: map[string]any{"type": long}, status: 400, code: "invalid_event"},
		{name: "a text over 8 KiB is 400 invalid_event", method: "POST", path: events, body: map[string]any{"type": "door", "text": strings.Repeat("é", 4200)}, status: 400, code: "invalid_event"},
		{name: "an unknown severity is 400 invalid_event", method: "POST", path: events, body: map[string]any{"type": "door", "severity": "fatal"}, status: 400, code: "invalid_event"},
		{name: "a Salt return without a function is 400 invalid_event", method: "POST", path: events, body: map[string]any{"fun": "", "jid": "1", "return": map[string]any{}}, status: 400, code: "invalid_event"},

		// PATCH of immutable or unknown fields.
		{name: "a PATCH of the id is 400 immutable_field", method: "PATCH", path: h.eventPath, body: map[string]any{"id": "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"}, status: 400, code: "immutable_field"},
		{name: "a PATCH of the device is 400 immutable_field", method: "PATCH", path: h.eventPath, body: map[string]any{"deviceId": "d2"}, status: 400, code: "immutable_field"},
		{name: "a PATCH of the type is 400 immutable_field", method: "PATCH", path: h.eventPath, body: map[string]any{"type": "window", "state": "resolved"}, status: 400, code: "immutable_field"},
		{name: "a PATCH of the time is 400 immutable_field", method: "PATCH", path: h.eventPath, body: map[string]any{"time": "2020-01-01T00:00:00Z"}, status: 400, code: "immutable_field"},
		{name: "a PATCH of the creation time is 400 immutable_field", method: "PATCH", path: h.eventPath, body: map[string]any{"creationTime": 0}, status: 400, code: "immutable_field"},
		{name: "a PATCH of the version is 400 invalid_event", method: "PATCH", path: h.eventPath, body: map[string]any{"version": 99}, status: 400, code: "invalid_event"},
		{name: "a PATCH of the history is 400 invalid_event", method: "PATCH", path: h.eventPath, body: map[string]any{"updates": []any{}}, status: 400, code: "invalid_event"},
		{name: "a PATCH with a stale If-Match is 412", method: "PATCH", path: h.eventPath, body: map[string]any{"state": "resolved"}, opts: []option{header("If-Match", `"99"`)}, status: 412, code: "precondition_failed"},
		{name: "a DELETE with a stale If-Match is 412", method: "DELETE", path: h.eventPath, opts: []option{header("If-Match", `"99"`)}, status: 412, code: "precondition_failed"},

		// Query parameters.
		{name: "an unknown query field is 400 query_field_not_allowed", method: "GET", path: events + "?where=1", status: 400, code: "query_field_not_allowed"},
		{name: "a query field in another case is 400 query_field_not_allowed", method: "GET", path: events + "?Type=door", status: 400, code: "query_field_not_allowed"},
		{name: "a PHP-style array field is 400 query_field_not_allowed", method: "GET", path: events + "?type[]=door", status: 400, code: "query_field_not_allowed"},
		{name: "a query field on a PATCH is 400 query_field_not_allowed", method: "PATCH", path: h.eventPath + "?force=true", body: map[string]any{"state": "resolved"}, status: 400, code: "query_field_not_allowed"},
		{name: "an unknown field on a bulk delete is 400 query_field_not_allowed", method: "DELETE", path: events + "?all=true&device=*", status: 400, code: "query_field_not_allowed"},
		{name: "an unknown field on aggregates is 400 query_field_not_allowed", method: "GET", path: "/devices/d1/aggregates?interval=day&groupBy=type", status: 400, code: "query_field_not_allowed"},
		{name: "a repeated limit is 400 invalid_parameter", method: "GET", path: events + "?limit=1&limit=1000", status: 400, code: "invalid_parameter"},
		{name: "a repeated from is 400 invalid_parameter", method: "GET", path: events + "?from=2026-01-01T00:00:00Z&from=2026-02-01T00:00:00Z", status: 400, code: "invalid_parameter"},
		{name: "a repeated all=true on a bulk delete is 400 invalid_parameter", method: "DELETE", path: events + "?all=true&all=true", status: 400, code: "invalid_parameter"},
		{name: "a repeated interval is 400 invalid_parameter", method: "GET", path: "/devices/d1/aggregates?interval=day&interval=hour", status: 400, code: "invalid_parameter"},
		{name: "semicolons between query fields are 400 invalid_parameter", method: "GET", path: events + "?limit=1;type=door", status: 400, code: "invalid_parameter"},
		{name: "a broken percent escape in the query is 400 invalid_parameter", method: "GET", path: events + "?type=%zz", status: 400, code: "invalid_parameter"},
		{name: "CR LF in a status filter is 400 invalid_parameter", method: "GET", path: events + "?status=ok%0d%0aSet-Cookie:%20x=1", status: 400, code: "invalid_parameter"},
		{name: "eleven types are 400 invalid_parameter", method: "GET", path: events + "?type=a,b,c,d,e,f,g,h,i,j,k", status: 400, code: "invalid_parameter"},
		{name: "a limit of 0 is 400 invalid_parameter", method: "GET", path: events + "?limit=0", status: 400, code: "invalid_parameter"},
		{name: "a limit of 1001 is 400 invalid_parameter", method: "GET", path: events + "?limit=1001", status: 400, code: "invalid_parameter"},
		{name: "from after to is 400 invalid_parameter", method: "GET", path: events + "?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", status: 400, code: "invalid_parameter"},
		{name: "a bulk delete without a filter is 400 invalid_parameter", method: "DELETE", path: events, status: 400, code: "invalid_parameter"},
		{name: "a bulk delete with all=yes is 400 invalid_parameter", method: "DELETE", path: events + "?all=yes", status: 400, code: "invalid_parameter"},
		{name: "a time zone climbing the file system is 400 invalid_parameter", method: "GET", path: "/devices/d1/aggregates?interval=day&tz=../../../../etc/passwd", status: 400, code: "invalid_parameter"},
		{name: "an absolute time zone path is 400 invalid_parameter", method: "GET", path: "/devices/d1/aggregates?interval=day&tz=/etc/localtime", status: 400, code: "invalid_parameter"},
		{name: "the server's Local zone is 400 invalid_parameter", method: "GET", path: "/devices/d1/aggregates?interval=day&tz=Local", status: 400, code: "invalid_parameter"},
		{name: "the fleet list without a type is 400 invalid_parameter", method: "GET", path: "/events", status: 400, code: "invalid_parameter"},
		{name: "a query field on a put is 400 query_field_not_allowed", method: "POST", path: events + "?deviceId=d2", body: door, status: 400, code: "query_field_not_allowed"},
	}
}

// twice sends header name twice with value.
func twice(name, value string) option {
	return func(r *http.Request) { r.Header.Add(name, value); r.Header.Add(name, value) }
}

// signLocal signs claims with the stack's local secret (stacktest's), so
// that only what the case changes is wrong with the token.
func signLocal(t *testing.T, m jwt.SigningMethod, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned is the alg "none" form of claims: no signature at all.
func unsigned(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// editClaims changes a signed token's claims and keeps its signature.
func editClaims(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	b, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// flipChar replaces the base64url character at i with another one.
func flipChar(tok string, i int) string {
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// flipLastBits changes the unused low bits of a token's last base64url
// character: a lenient decoder reads the same bytes from it.
func flipLastBits(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(tok)%4 == 0 {
		return flipChar(tok, len(tok)-1) // no unused bits: any change is an edit
	}
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[i^1])
}

func lastSegment(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// rawPost is a POST written by hand, with the stack's token, a JSON body and
// the extra header lines as given.
func rawPost(s *stack, path string, extra []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", path, strings.TrimPrefix(s.url, "http://"), s.token)
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n", len(body))
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// raw writes req on a new TCP connection to the stack and reads the answer.
func (s *stack) raw(t *testing.T, req string) reply {
	t.Helper()
	u, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A deadline, not a wait: a server that never answers fails the case.
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("body is not a JSON object: %s", raw)
		}
	}
	return r
}

// snapshot is every item of the table, every attribute, in a canonical
// form: equal snapshots are equal tables.
func snapshot(t *testing.T, s *stack) []byte {
	t.Helper()
	var items []string
	in := &dynamodb.ScanInput{TableName: &s.Table, ConsistentRead: ptr(true)}
	for {
		out, err := s.Client.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			b, err := json.Marshal(attributeJSON(&types.AttributeValueMemberM{Value: it}))
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, string(b))
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) == 0 {
		t.Fatal("the table is empty: the seed did not write")
	}
	sort.Strings(items)
	return []byte(strings.Join(items, "\n"))
}

// attributeJSON writes an attribute value with its DynamoDB type, so that
// the number 1 and the string "1" differ. Sets are sorted: DynamoDB keeps
// no order in them.
func attributeJSON(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberM:
		m := map[string]any{}
		for k, e := range v.Value {
			m[k] = attributeJSON(e)
		}
		return map[string]any{"M": m}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = attributeJSON(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": sorted(v.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": sorted(v.Value)}
	case *types.AttributeValueMemberBS:
		bs := make([]string, len(v.Value))
		for i, b := range v.Value {
			bs[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": sorted(bs)}
	}
	return map[string]any{"?": fmt.Sprintf("%T", av)}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

package e2e

import (
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

func TestAuthorization(t *testing.T) {
	s := newStack(t)
	s.put("mine", map[string]any{"type": "t"})
	readOnly := s.mint([]string{routes.ScopeRead}, nil)
	mineOnly := s.mint(allScopes, []string{"mine"})
	cases := []struct {
		name         string
		method, path string
		body         any
		opts         []option
		status       int
		code         string
	}{
		{"no token is 401", "GET", "/devices/mine/events", nil, []option{noToken()}, 401, apigw("Unauthorized")},
		{"a token signed with another key is 401", "GET", "/devices/mine/events", nil, []option{bearer("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")}, 401, apigw("Unauthorized")},
		{"a malformed header is 401", "GET", "/devices/mine/events", nil, []option{header("Authorization", "Basic Zm9vOmJhcg==")}, 401, apigw("Unauthorized")},
		{"a missing scope is 403", "POST", "/devices/mine/events", map[string]any{"type": "t"}, []option{bearer(readOnly)}, 403, apigw("Forbidden")},
		{"delete needs events/delete", "DELETE", "/devices/mine/events/01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", nil, []option{bearer(readOnly)}, 403, apigw("Forbidden")},
		{"another device is 403 for a device-limited token", "GET", "/devices/yours/events", nil, []option{bearer(mineOnly)}, 403, "forbidden"},
		{"the fleet list is 403 for a device-limited token", "GET", "/events?type=t", nil, []option{bearer(mineOnly)}, 403, "forbidden"},
		{"fleet aggregates are 403 for a device-limited token", "GET", "/aggregates?type=t&interval=hour", nil, []option{bearer(mineOnly)}, 403, "forbidden"},
		{"its own device is fine for a device-limited token", "GET", "/devices/mine/events", nil, []option{bearer(mineOnly)}, 200, ""},
		{"reading is fine with events/read", "GET", "/devices/mine/events", nil, []option{bearer(readOnly)}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == "" {
				s.do(tc.method, tc.path, tc.body, tc.opts...).want(t, tc.status)
				return
			}
			s.do(tc.method, tc.path, tc.body, tc.opts...).want(t, tc.status, tc.code)
		})
	}
}

func TestRequestErrors(t *testing.T) {
	s := newStack(t)
	cases := []struct {
		name         string
		method, path string
		body         any
		opts         []option
		status       int
		code         string
	}{
		{"a body that is not JSON is 400 invalid_json", "POST", "/devices/d/events", "{type: door}", nil, 400, "invalid_json"},
		{"a duplicated key is 400 invalid_json", "POST", "/devices/d/events", `{"type":"a","type":"b"}`, nil, 400, "invalid_json"},
		{"invalid UTF-8 is 400 invalid_json", "POST", "/devices/d/events", "{\"type\":\"\xff\"}", nil, 400, "invalid_json"},
		{"an unknown field is 400 invalid_event", "POST", "/devices/d/events", map[string]any{"type": "t", "colour": "red"}, nil, 400, "invalid_event"},
		{"a wrongly typed field is 400 invalid_event", "POST", "/devices/d/events", map[string]any{"type": 42}, nil, 400, "invalid_event"},
		{"a time far in the future is 400 invalid_event", "POST", "/devices/d/events", map[string]any{"type": "t", "time": "2999-01-01T00:00:00Z"}, nil, 400, "invalid_event"},
		{"a bad time is 400 invalid_event", "POST", "/devices/d/events", map[string]any{"type": "t", "time": "soon"}, nil, 400, "invalid_event"},
		{"an event over 256 KiB is 413", "POST", "/devices/d/events", map[string]any{"type": "t", "data": map[string]any{"blob": strings.Repeat("x", 300<<10)}}, nil, 413, "payload_too_large"},
		{"XML is 415", "POST", "/devices/d/events", "<event/>", []option{header("Content-Type", "application/xml")}, 415, "unsupported_media_type"},
		{"a bad device id is 400 invalid_parameter", "GET", "/devices/bad%20id/events", nil, nil, 400, "invalid_parameter"},
		{"an encoded slash in a device id is 400 invalid_parameter", "GET", "/devices/a%2Fb/events", nil, nil, 400, "invalid_parameter"},
		{"an unknown path is API Gateway's 404", "GET", "/nothing/here", nil, nil, 404, apigw("Not Found")},
		// An HTTP API has no 405: a method no route has is an unknown route.
		{"a wrong method is API Gateway's 404", "PUT", "/devices/d/events", nil, nil, 404, apigw("Not Found")},
		{"a query parameter on put is 400", "POST", "/devices/d/events?type=x", map[string]any{"type": "t"}, nil, 400, "query_field_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.do(tc.method, tc.path, tc.body, tc.opts...).want(t, tc.status, tc.code)
		})
	}
	if n := len(s.scan()); n != 0 {
		t.Fatalf("refused requests wrote %d items", n)
	}
	if s.do("GET", "/healthz", nil, noToken()).status != 200 {
		t.Error("/healthz needs no token")
	}
}

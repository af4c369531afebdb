package apigw

import (
	"slices"
	"testing"
)

func TestKindOfTellsThePayloadsApart(t *testing.T) {
	cases := []struct {
		payload string
		want    payloadKind
	}{
		{`{"version":"2.0","routeKey":"POST /devices/{deviceId}/events","rawPath":"/devices/d/events","requestContext":{}}`, kindHTTPAPI},
		{`{"resource":"/devices/{deviceId}/events","httpMethod":"GET","path":"/devices/d/events","requestContext":{}}`, kindREST},
		{`{"deviceid":"d","function":"f","status":"x","description":"y"}`, kindDirect},
		{`[{"deviceId":"d","type":"a"}]`, kindDirect},
		{`{"version":"2.0","type":"sneaky"}`, kindDirect},
		{`not json`, kindDirect},
	}
	for _, tc := range cases {
		if got := kindOf([]byte(tc.payload)); got != tc.want {
			t.Errorf("kindOf(%s) = %v, want %v", tc.payload, got, tc.want)
		}
	}
}

func TestClaimsAreReadInEveryFormTheyArrive(t *testing.T) {
	cases := []struct {
		name    string
		claims  map[string]string
		scopes  []string
		devices []string
	}{
		{"API Gateway's array form", map[string]string{"scope": "events/read events/write", "devices": "[d1 d2]"}, []string{"events/read", "events/write"}, []string{"d1", "d2"}},
		{"a JSON array", map[string]string{"scp": "events/read", "devices": `["d1","d2"]`}, []string{"events/read"}, []string{"d1", "d2"}},
		{"a space-delimited string", map[string]string{"scope": "events/read events/delete", "devices": "d1 d2"}, []string{"events/read", "events/delete"}, []string{"d1", "d2"}},
		{"a comma inside a scope or a device is part of it", map[string]string{"scope": "events/read,events/write", "devices": "[d1,d2 d3]"}, []string{"events/read,events/write"}, []string{"d1,d2", "d3"}},
		{"a JSON array element is matched whole", map[string]string{"scope": "events/read", "devices": `["d1,d2"," d3"]`}, []string{"events/read"}, []string{"d1,d2", " d3"}},
		{"no devices claim means every device", map[string]string{"scope": "events/read"}, []string{"events/read"}, nil},
		{"an empty devices claim means none", map[string]string{"scope": "events/read", "devices": "[]"}, []string{"events/read"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsFromStrings(tc.claims, nil)
			if !slices.Equal(c.Scopes, tc.scopes) || !slices.Equal(c.Devices, tc.devices) || (c.Devices == nil) != (tc.devices == nil) {
				t.Fatalf("scopes %q devices %q, want %q %q", c.Scopes, c.Devices, tc.scopes, tc.devices)
			}
		})
	}
	rest := claimsFromREST(map[string]any{"claims": map[string]any{"sub": "u", "scope": "events/write", "devices": []any{"d1"}}})
	if rest.Subject != "u" || !slices.Equal(rest.Scopes, []string{"events/write"}) || !slices.Equal(rest.Devices, []string{"d1"}) {
		t.Fatalf("REST claims = %+v", rest)
	}
}

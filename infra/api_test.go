package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

// httpAPIs are the stack's HTTP APIs: each API of the route table served
// by one, by logical id.
var httpAPIs = map[routes.API]string{routes.Events: APILogicalID, routes.Keys: KeysAPILogicalID}

// authorizerOf is the id of the only authorizer of an HTTP API.
func authorizerOf(t *testing.T, tmpl map[string]interface{}, apiID string) (string, map[string]interface{}) {
	t.Helper()
	var found []string
	for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Authorizer") {
		if canon(properties(r)["ApiId"]) == canon(ref(apiID)) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("authorizers of %s: got %v, want one", apiID, found)
	}
	return found[0], properties(resources(tmpl)[found[0]])
}

func TestRoutes(t *testing.T) {
	tmpl := configured(t).template
	// The routes of each API by route key: the key API's keys are the
	// events API's.
	byKey := map[string]map[string]resource{}
	for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
		p := properties(r)
		api, _ := p["ApiId"].(map[string]interface{})["Ref"].(string)
		key, _ := p["RouteKey"].(string)
		if byKey[api] == nil {
			byKey[api] = map[string]resource{}
		}
		if _, dup := byKey[api][key]; dup {
			t.Errorf("%s route key %q: got two routes (%s and another), want one", api, key, id)
		}
		byKey[api][key] = r
	}

	for api, apiID := range httpAPIs {
		authorizerID, _ := authorizerOf(t, tmpl, apiID)
		for _, rt := range routes.ForAPI(api) {
			what := "a JWT with exactly " + rt.Scope
			if api == routes.Keys {
				what = "the key authorizer"
			}
			t.Run(string(api)+" "+rt.Key()+" requires "+what+" and calls "+rt.Function, func(t *testing.T) {
				r, ok := byKey[apiID][rt.Key()]
				if !ok {
					t.Fatalf("got no route of %s with RouteKey %q, want one", apiID, rt.Key())
				}
				p := properties(r)
				wantType, wantScopes := "JWT", canon([]string{rt.Scope})
				if api == routes.Keys {
					// A Lambda authorizer takes no scopes: it checks the
					// route's itself.
					wantType, wantScopes = "CUSTOM", "null"
				}
				if got := p["AuthorizationType"]; got != wantType {
					t.Errorf("AuthorizationType: got %v, want %s", got, wantType)
				}
				if got, want := canon(p["AuthorizerId"]), canon(ref(authorizerID)); got != want {
					t.Errorf("AuthorizerId: got %s, want %s", got, want)
				}
				if got := canon(p["AuthorizationScopes"]); got != wantScopes {
					t.Errorf("AuthorizationScopes: got %s, want %s", got, wantScopes)
				}

				// Target is {"Fn::Join": ["", ["integrations/", {"Ref": id}]]}.
				var integrationID string
				if join, ok := p["Target"].(map[string]interface{})["Fn::Join"].([]interface{}); ok && len(join) == 2 {
					if parts, ok := join[1].([]interface{}); ok && len(parts) == 2 {
						if m, ok := parts[1].(map[string]interface{}); ok {
							integrationID, _ = m["Ref"].(string)
						}
					}
				}
				integration := mustResource(t, tmpl, integrationID, "AWS::ApiGatewayV2::Integration")
				ip := properties(integration)
				if got, want := canon(ip["ApiId"]), canon(ref(apiID)); got != want {
					t.Errorf("the integration's ApiId: got %s, want %s", got, want)
				}
				if got, want := canon(ip["IntegrationUri"]), canon(getAttArn(FunctionLogicalID(rt.Function))); got != want {
					t.Errorf("IntegrationUri: got %s, want %s", got, want)
				}
				if got := ip["PayloadFormatVersion"]; got != "2.0" {
					t.Errorf("PayloadFormatVersion: got %v, want 2.0", got)
				}
				if got := ip["IntegrationType"]; got != "AWS_PROXY" {
					t.Errorf("IntegrationType: got %v, want AWS_PROXY", got)
				}
			})
		}
		t.Run("no route of "+apiID+" exists that is not one of routes."+string(api), func(t *testing.T) {
			for key := range byKey[apiID] {
				if _, ok := routes.ByKey(api, key); !ok {
					t.Errorf("got route %q, want only the routes of %s", key, api)
				}
			}
		})
	}
	if len(byKey) != len(httpAPIs) {
		t.Errorf("routes of %d HTTP APIs, want %d", len(byKey), len(httpAPIs))
	}

	t.Run("the JWT authorizer accepts the configured issuer and audiences", func(t *testing.T) {
		_, p := authorizerOf(t, tmpl, APILogicalID)
		want := map[string]interface{}{"Issuer": testIssuer, "Audience": testAudience}
		if got, w := canon(p["JwtConfiguration"]), canon(want); got != w {
			t.Errorf("JwtConfiguration: got %s, want %s", got, w)
		}
		if got, want := canon(p["IdentitySource"]), `["$request.header.Authorization"]`; got != want {
			t.Errorf("IdentitySource: got %s, want %s", got, want)
		}
	})

	t.Run("the key authorizer is authorize-key, payload 2.0, simple responses, without identity source or result cache", func(t *testing.T) {
		_, p := authorizerOf(t, tmpl, KeysAPILogicalID)
		for _, c := range []struct {
			field string
			want  string
		}{
			{"AuthorizerType", `"REQUEST"`},
			{"AuthorizerPayloadFormatVersion", `"2.0"`},
			{"EnableSimpleResponses", "true"},
			{"AuthorizerResultTtlInSeconds", "0"},
		} {
			if got := canon(p[c.field]); got != c.want {
				t.Errorf("%s: got %s, want %s", c.field, got, c.want)
			}
		}
		if src, ok := p["IdentitySource"]; ok {
			t.Errorf("IdentitySource: got %s, want none (a key comes in one of three headers)", canon(src))
		}
		uri := canon(p["AuthorizerUri"])
		if want := canon(getAttArn(FunctionLogicalID(routes.AuthorizeKey))); !strings.Contains(uri, want) {
			t.Errorf("AuthorizerUri: got %s, want the invocation URI of %s", uri, routes.AuthorizeKey)
		}
	})

	t.Run("CORS allows the configured origins and the methods of routes.Events, on the events API alone", func(t *testing.T) {
		api := mustResource(t, tmpl, APILogicalID, "AWS::ApiGatewayV2::Api")
		cors, _ := properties(api)["CorsConfiguration"].(map[string]interface{})
		if got, want := stringList(cors["AllowOrigins"]), sorted(testCorsOrigins); !reflect.DeepEqual(got, want) {
			t.Errorf("AllowOrigins: got %v, want %v", got, want)
		}
		methods := map[string]bool{}
		for _, r := range routes.ForAPI(routes.Events) {
			methods[r.Method] = true
		}
		var want []string
		for m := range methods {
			want = append(want, m)
		}
		if got := stringList(cors["AllowMethods"]); !reflect.DeepEqual(got, sorted(want)) {
			t.Errorf("AllowMethods: got %v, want %v", got, sorted(want))
		}
		keys := mustResource(t, tmpl, KeysAPILogicalID, "AWS::ApiGatewayV2::Api")
		if c, ok := properties(keys)["CorsConfiguration"]; ok {
			t.Errorf("the key API's CorsConfiguration: got %s, want none (devices are not browsers)", canon(c))
		}
	})

	for _, apiID := range httpAPIs {
		t.Run(apiID+"'s stage is throttled at the props' rate and burst and logs every request as JSON to a log group of its own", func(t *testing.T) {
			p := stageOf(t, tmpl, apiID)
			if got, want := canon(p["DefaultRouteSettings"]), `{"ThrottlingBurstLimit":60,"ThrottlingRateLimit":25.5}`; got != want {
				t.Errorf("DefaultRouteSettings: got %s, want %s", got, want)
			}
			if got := p["StageName"]; got != "$default" {
				t.Errorf("StageName: got %v, want $default", got)
			}
			format := loggedFormat(t, tmpl, p["AccessLogSettings"])
			if got := format["requestId"]; got != "$context.requestId" {
				t.Errorf("Format requestId: got %q, want $context.requestId", got)
			}
		})
	}
}

// stageOf is the properties of the only stage of an HTTP API.
func stageOf(t *testing.T, tmpl map[string]interface{}, apiID string) map[string]interface{} {
	t.Helper()
	var found []map[string]interface{}
	for _, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Stage") {
		if canon(properties(r)["ApiId"]) == canon(ref(apiID)) {
			found = append(found, properties(r))
		}
	}
	if len(found) != 1 {
		t.Fatalf("stages of %s: got %d, want 1", apiID, len(found))
	}
	return found[0]
}

// stageThrottling is the throttling of the events API's stage.
func stageThrottling(t *testing.T, tmpl map[string]interface{}) interface{} {
	t.Helper()
	return stageOf(t, tmpl, APILogicalID)["DefaultRouteSettings"]
}

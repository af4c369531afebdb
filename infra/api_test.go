package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

func TestRoutes(t *testing.T) {
	tmpl := configured(t).template
	authorizerID, _ := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Authorizer")
	byKey := map[string]resource{}
	for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
		key, _ := properties(r)["RouteKey"].(string)
		if _, dup := byKey[key]; dup {
			t.Errorf("route key %q: got two routes (%s and another), want one", key, id)
		}
		byKey[key] = r
	}

	for _, rt := range routes.ForAPI(routes.Events) {
		t.Run(rt.Key()+" requires a JWT with exactly "+rt.Scope+" and calls "+rt.Function, func(t *testing.T) {
			r, ok := byKey[rt.Key()]
			if !ok {
				t.Fatalf("got no route with RouteKey %q, want one", rt.Key())
			}
			p := properties(r)
			if got := p["AuthorizationType"]; got != "JWT" {
				t.Errorf("AuthorizationType: got %v, want JWT", got)
			}
			if got, want := canon(p["AuthorizerId"]), canon(ref(authorizerID)); got != want {
				t.Errorf("AuthorizerId: got %s, want %s", got, want)
			}
			if got, want := canon(p["AuthorizationScopes"]), canon([]string{rt.Scope}); got != want {
				t.Errorf("AuthorizationScopes: got %s, want %s", got, want)
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

	t.Run("no route exists that is not one of routes.Events", func(t *testing.T) {
		for key := range byKey {
			if r, ok := routes.ByKey(key); !ok || r.API != routes.Events {
				t.Errorf("got route %q, want only the routes of routes.Events", key)
			}
		}
	})

	t.Run("the authorizer accepts the configured issuer and audiences", func(t *testing.T) {
		p := properties(resources(tmpl)[authorizerID])
		want := map[string]interface{}{"Issuer": testIssuer, "Audience": testAudience}
		if got, w := canon(p["JwtConfiguration"]), canon(want); got != w {
			t.Errorf("JwtConfiguration: got %s, want %s", got, w)
		}
		if got, want := canon(p["IdentitySource"]), `["$request.header.Authorization"]`; got != want {
			t.Errorf("IdentitySource: got %s, want %s", got, want)
		}
	})

	t.Run("CORS allows the configured origins and the methods of routes.Events", func(t *testing.T) {
		_, api := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Api")
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
	})

	t.Run("the stage is throttled at the props' rate and burst", func(t *testing.T) {
		if got, want := canon(stageThrottling(t, tmpl)), `{"ThrottlingBurstLimit":60,"ThrottlingRateLimit":25.5}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})

	t.Run("the stage logs every request as JSON to a log group", func(t *testing.T) {
		_, stage := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Stage")
		p := properties(stage)
		if got := p["StageName"]; got != "$default" {
			t.Errorf("StageName: got %v, want $default", got)
		}
		logs, _ := p["AccessLogSettings"].(map[string]interface{})
		dest, _ := logs["DestinationArn"].(map[string]interface{})
		att, _ := dest["Fn::GetAtt"].([]interface{})
		if len(att) != 2 {
			t.Fatalf("DestinationArn: got %v, want the Arn of a log group", logs["DestinationArn"])
		}
		mustResource(t, tmpl, att[0].(string), "AWS::Logs::LogGroup")
		var format map[string]string
		if err := json.Unmarshal([]byte(fmt.Sprint(logs["Format"])), &format); err != nil {
			t.Fatalf("Format: got %v, want a JSON object (%v)", logs["Format"], err)
		}
		if got := format["requestId"]; got != "$context.requestId" {
			t.Errorf("Format requestId: got %q, want $context.requestId", got)
		}
	})
}

// stageThrottling is the throttling of the only stage of the template.
func stageThrottling(t *testing.T, tmpl map[string]interface{}) interface{} {
	t.Helper()
	_, stage := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Stage")
	return properties(stage)["DefaultRouteSettings"]
}

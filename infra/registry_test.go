package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

// registryFixtures are the stacks with a registry API, by mode.
var registryFixtures = []struct {
	mode    RegistryMode
	fixture func(*testing.T) *fixture
}{
	{RegistryPrivate, configured},
	{RegistryIAM, fromContext},
}

func TestRegistryAPI(t *testing.T) {
	for _, c := range registryFixtures {
		tmpl := c.fixture(t).template
		api := properties(mustResource(t, tmpl, RegistryAPILogicalID, "AWS::ApiGateway::RestApi"))
		methods := registryMethods(t, tmpl)

		t.Run("the "+string(c.mode)+" registry API has a method for each route of routes.Registry and no other", func(t *testing.T) {
			var got, want []string
			for key := range methods {
				got = append(got, key)
			}
			for _, r := range routes.ForAPI(routes.Registry) {
				want = append(want, r.Key())
			}
			if !reflect.DeepEqual(sorted(got), sorted(want)) {
				t.Errorf("got %v, want %v", sorted(got), sorted(want))
			}
		})

		for _, r := range routes.ForAPI(routes.Registry) {
			t.Run("the "+string(c.mode)+" registry API's "+r.Key()+" is a Lambda proxy of "+r.Function, func(t *testing.T) {
				m, ok := methods[r.Key()]
				if !ok {
					t.Skip("no such method (reported above)")
				}
				integration, _ := properties(m)["Integration"].(map[string]interface{})
				if got := integration["Type"]; got != "AWS_PROXY" {
					t.Errorf("Integration.Type: got %v, want AWS_PROXY (payload 1.0)", got)
				}
				if got := integration["IntegrationHttpMethod"]; got != "POST" {
					t.Errorf("Integration.IntegrationHttpMethod: got %v, want POST (Lambda's Invoke)", got)
				}
				if got, want := canon(integration["Uri"]), canon(getAttArn(FunctionLogicalID(r.Function))); !strings.Contains(got, want) {
					t.Errorf("Integration.Uri: got %s, want the invocations of %s", got, want)
				}
			})
		}

		switch c.mode {
		case RegistryPrivate:
			t.Run("the private registry API is a private endpoint associated with the VPC endpoints", func(t *testing.T) {
				want := map[string]interface{}{"Types": []string{"PRIVATE"}, "VpcEndpointIds": testVPCEndpoints}
				if got, w := canon(api["EndpointConfiguration"]), canon(want); got != w {
					t.Errorf("EndpointConfiguration: got %s, want %s", got, w)
				}
			})
			t.Run("the private registry API's policy allows invocations through the VPC endpoints and denies the rest", func(t *testing.T) {
				policy, _ := api["Policy"].(map[string]interface{})
				stmts, _ := policy["Statement"].([]interface{})
				var got []string
				for _, s := range stmts {
					m := s.(map[string]interface{})
					got = append(got, fmt.Sprintf("%v %v %v on %v if %s", m["Effect"], canon(m["Principal"]), m["Action"], m["Resource"], canon(m["Condition"])))
				}
				ids := canon(testVPCEndpoints)
				want := []string{
					`Allow "*" execute-api:Invoke on execute-api:/* if {"StringEquals":{"aws:SourceVpce":` + ids + `}}`,
					`Deny "*" execute-api:Invoke on execute-api:/* if {"StringNotEquals":{"aws:SourceVpce":` + ids + `}}`,
				}
				if !reflect.DeepEqual(sorted(got), sorted(want)) {
					t.Errorf("got\n  %s\nwant\n  %s", strings.Join(sorted(got), "\n  "), strings.Join(sorted(want), "\n  "))
				}
			})
		case RegistryIAM:
			t.Run("the IAM registry API is a regional endpoint whose every method takes IAM authorization", func(t *testing.T) {
				if got, want := canon(api["EndpointConfiguration"]), `{"Types":["REGIONAL"]}`; got != want {
					t.Errorf("EndpointConfiguration: got %s, want %s", got, want)
				}
				for key, m := range methods {
					if got := properties(m)["AuthorizationType"]; got != "AWS_IAM" {
						t.Errorf("%s AuthorizationType: got %v, want AWS_IAM", key, got)
					}
				}
			})
		}

		t.Run("the "+string(c.mode)+" registry API has no method without authorization but in a private API", func(t *testing.T) {
			for key, m := range methods {
				if got := properties(m)["AuthorizationType"]; got != "AWS_IAM" && (c.mode != RegistryPrivate || got != "NONE") {
					t.Errorf("%s AuthorizationType: got %v, want AWS_IAM, or NONE behind a private endpoint", key, got)
				}
			}
			if _, ok := api["Policy"]; !ok && c.mode == RegistryPrivate {
				t.Errorf("got a private API without a resource policy, want one")
			}
		})

		t.Run("the "+string(c.mode)+" registry API's stage logs, traces and is throttled as the HTTP API's", func(t *testing.T) {
			stageID, stage := onlyResourceOfType(t, tmpl, "AWS::ApiGateway::Stage")
			p := properties(stage)
			if got := p["StageName"]; got != RegistryStageName {
				t.Errorf("StageName: got %v, want %s", got, RegistryStageName)
			}
			if got := p["TracingEnabled"]; got != true {
				t.Errorf("TracingEnabled: got %v, want true", got)
			}
			settings, _ := p["MethodSettings"].([]interface{})
			if len(settings) != 1 {
				t.Fatalf("MethodSettings: got %s, want one for every method", canon(settings))
			}
			ms := settings[0].(map[string]interface{})
			httpThrottle, _ := stageThrottling(t, tmpl).(map[string]interface{})
			for _, f := range []struct {
				field     string
				got, want interface{}
			}{
				{"HttpMethod", ms["HttpMethod"], "*"},
				{"ResourcePath", ms["ResourcePath"], "/*"},
				{"LoggingLevel", ms["LoggingLevel"], "ERROR"},
				{"DataTraceEnabled", ms["DataTraceEnabled"], false},
				{"MetricsEnabled", ms["MetricsEnabled"], true},
				{"ThrottlingRateLimit", ms["ThrottlingRateLimit"], httpThrottle["ThrottlingRateLimit"]},
				{"ThrottlingBurstLimit", ms["ThrottlingBurstLimit"], httpThrottle["ThrottlingBurstLimit"]},
			} {
				if f.got != f.want || f.got == nil {
					t.Errorf("MethodSettings %s: got %v, want %v", f.field, f.got, f.want)
				}
			}

			format := loggedFormat(t, tmpl, p["AccessLogSetting"])
			for field, want := range map[string]string{"requestId": "$context.requestId", "userArn": "$context.identity.userArn", "vpceId": "$context.identity.vpceId"} {
				if got := format[field]; got != want {
					t.Errorf("Format %s: got %q, want %q", field, got, want)
				}
			}

			// API Gateway would create the execution log group itself,
			// kept forever.
			var execLogs string
			for id, lg := range resourcesOfType(tmpl, "AWS::Logs::LogGroup") {
				want := map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{"API-Gateway-Execution-Logs_", ref(RegistryAPILogicalID), "/" + RegistryStageName}}}
				if canon(properties(lg)["LogGroupName"]) == canon(want) {
					execLogs = id
				}
			}
			if execLogs == "" {
				t.Fatalf("got no log group API-Gateway-Execution-Logs_<RegistryApi>/%s, want one", RegistryStageName)
			}
			if deps := stringList(resources(tmpl)[stageID]["DependsOn"]); !contains(deps, execLogs) {
				t.Errorf("stage DependsOn: got %v, want %s (else API Gateway may create it first)", deps, execLogs)
			}
		})

		t.Run("the "+string(c.mode)+" registry API has an alarm on its 5xx answers", func(t *testing.T) {
			var found int
			for _, a := range resourcesOfType(tmpl, "AWS::CloudWatch::Alarm") {
				p := properties(a)
				if p["Namespace"] == "AWS/ApiGateway" && p["MetricName"] == "5XXError" && strings.Contains(canon(p["Dimensions"]), `"ApiName"`) {
					found++
				}
			}
			if found != 1 {
				t.Errorf("got %d alarms, want 1", found)
			}
		})
	}

	t.Run("without registryApi there is no REST API", func(t *testing.T) {
		for id, r := range resources(defaults(t).template) {
			if typ := fmt.Sprint(r["Type"]); strings.HasPrefix(typ, "AWS::ApiGateway::") {
				t.Errorf("got %s (%s), want no registry API", id, typ)
			}
		}
	})
}

// registryMethods returns the methods of the registry API by route key
// ("POST /devices/{deviceid}/events"), their paths read back from the
// resources' PathPart and ParentId.
func registryMethods(t *testing.T, tmpl map[string]interface{}) map[string]resource {
	t.Helper()
	all := resources(tmpl)
	var pathOf func(resourceID interface{}) string
	pathOf = func(resourceID interface{}) string {
		id, _ := resourceID.(map[string]interface{})["Ref"].(string)
		r, ok := all[id]
		if !ok || r["Type"] != "AWS::ApiGateway::Resource" {
			t.Fatalf("got resource %s, want an AWS::ApiGateway::Resource", canon(resourceID))
		}
		p := properties(r)
		parent := ""
		if canon(p["ParentId"]) != canon(map[string]interface{}{"Fn::GetAtt": []interface{}{RegistryAPILogicalID, "RootResourceId"}}) {
			parent = pathOf(p["ParentId"])
		}
		return parent + "/" + fmt.Sprint(p["PathPart"])
	}
	out := map[string]resource{}
	for id, m := range resourcesOfType(tmpl, "AWS::ApiGateway::Method") {
		p := properties(m)
		if canon(p["RestApiId"]) != canon(ref(RegistryAPILogicalID)) {
			t.Errorf("%s RestApiId: got %s, want %s", id, canon(p["RestApiId"]), RegistryAPILogicalID)
			continue
		}
		out[fmt.Sprint(p["HttpMethod"])+" "+pathOf(p["ResourceId"])] = m
	}
	return out
}

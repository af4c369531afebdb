package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
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

	for _, rt := range routes.All {
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

	t.Run("no route exists that routes.All does not list", func(t *testing.T) {
		for key := range byKey {
			if _, ok := routes.ByKey(key); !ok {
				t.Errorf("got route %q, want only the routes of routes.All", key)
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

	t.Run("CORS allows the configured origins and the methods of routes.All", func(t *testing.T) {
		_, api := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Api")
		cors, _ := properties(api)["CorsConfiguration"].(map[string]interface{})
		if got, want := stringList(cors["AllowOrigins"]), sorted(testCorsOrigins); !reflect.DeepEqual(got, want) {
			t.Errorf("AllowOrigins: got %v, want %v", got, want)
		}
		methods := map[string]bool{}
		for _, r := range routes.All {
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

func TestHTTPAPIReuse(t *testing.T) {
	// A second API in the stack, as the registry-compatible one will be:
	// its own routes and functions, IAM authorization, in a scope of its
	// own.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(fixtureRoot, "cdk.out.reuse"))})
	stack := awscdk.NewStack(app, jsii.String("TwoApis"), nil)
	fn := awslambda.NewFunction(stack, jsii.String("Fn"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_22_X(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String("exports.handler = async () => ({})")),
	})
	functions := map[string]awslambda.IFunction{}
	for _, name := range routes.Functions {
		functions[name] = fn
	}
	newHTTPAPI(stack, APILogicalID, httpAPIConfig{
		name: "events", routes: routes.All, functions: functions,
		authorizer: awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Jwt"), jsii.String("https://issuer.example.com"), &awsapigatewayv2authorizers.HttpJwtAuthorizerProps{JwtAudience: jsii.Strings("a")}),
		throttle:   stageThrottle(&StackProps{}),
	})
	registryRoutes := []routes.Route{{Method: "GET", Path: "/v2/registry/{id}", Function: "registry"}}
	newHTTPAPI(constructs.NewConstruct(stack, jsii.String("Registry")), "RegistryApi", httpAPIConfig{
		name: "registry", routes: registryRoutes, functions: map[string]awslambda.IFunction{"registry": fn},
		authorizer: awsapigatewayv2authorizers.NewHttpIamAuthorizer(),
		throttle:   stageThrottle(&StackProps{}),
	})
	tmpl := *assertions.Template_FromStack(stack, nil).ToJSON()

	t.Run("both APIs and their stages are in the stack", func(t *testing.T) {
		mustResource(t, tmpl, APILogicalID, "AWS::ApiGatewayV2::Api")
		mustResource(t, tmpl, "RegistryApi", "AWS::ApiGatewayV2::Api")
		if got := len(resourcesOfType(tmpl, "AWS::ApiGatewayV2::Stage")); got != 2 {
			t.Errorf("stages: got %d, want 2", got)
		}
	})
	t.Run("the second API's route takes IAM authorization and no scopes", func(t *testing.T) {
		var found bool
		for _, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
			p := properties(r)
			if p["RouteKey"] != registryRoutes[0].Key() {
				continue
			}
			found = true
			if got := p["AuthorizationType"]; got != "AWS_IAM" {
				t.Errorf("AuthorizationType: got %v, want AWS_IAM", got)
			}
			if got, ok := p["AuthorizationScopes"]; ok {
				t.Errorf("AuthorizationScopes: got %v, want none", got)
			}
			if got, want := canon(p["ApiId"]), canon(ref("RegistryApi")); got != want {
				t.Errorf("ApiId: got %s, want %s", got, want)
			}
		}
		if !found {
			t.Errorf("got no route %s, want one", registryRoutes[0].Key())
		}
	})
}

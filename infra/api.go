package main

import (
	"encoding/json"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/pkg/routes"
)

// APILogicalID is the device events API's stable logical id, and
// KeysAPILogicalID the key API's.
const (
	APILogicalID     = "EventsApi"
	KeysAPILogicalID = "KeysApi"
)

// httpAPIConfig is what newHTTPAPI builds an HTTP API from.
type httpAPIConfig struct {
	name, description string
	// idPrefix starts the ids of the API's stage and access log group (the
	// events API's have none, as before there was another API).
	idPrefix string
	// routes are the routes served, each by the function of its Function
	// field.
	routes []routes.Route
	// authorizer guards every route.
	authorizer awsapigatewayv2.IHttpRouteAuthorizer
	// jwtScopes: the authorizer is a JWT authorizer, which checks each
	// route's Scope itself (a route's AuthorizationScopes); a Lambda
	// authorizer takes none, and checks the route's scope in its code.
	jwtScopes bool
	// corsOrigins, when set, get a CORS configuration for the routes'
	// methods.
	corsOrigins  []string
	logRetention awslogs.RetentionDays
	// throttle applies to the stage as a whole.
	throttle awsapigatewayv2.ThrottleSettings
}

// httpAPI is an HTTP API and its stage. Its routes are added by addRoutes
// once the functions exist: the functions' environment names the API.
type httpAPI struct {
	api   awsapigatewayv2.HttpApi
	stage awsapigatewayv2.HttpStage
	c     httpAPIConfig
}

// newHTTPAPI builds an HTTP API called id (also its logical id) in scope
// and its $default stage, throttled and logging every request as JSON.
func newHTTPAPI(scope constructs.Construct, id string, c httpAPIConfig) *httpAPI {
	var cors *awsapigatewayv2.CorsPreflightOptions
	if len(c.corsOrigins) > 0 {
		cors = &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins:  jsii.Strings(c.corsOrigins...),
			AllowMethods:  corsMethods(c.routes),
			AllowHeaders:  jsii.Strings("Authorization", "Content-Type", "If-Match", "Idempotency-Key"),
			ExposeHeaders: jsii.Strings("ETag", "Location", "Retry-After"),
			MaxAge:        awscdk.Duration_Hours(jsii.Number(1)),
		}
	}
	api := awsapigatewayv2.NewHttpApi(scope, jsii.String(id), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(c.name),
		Description:        jsii.String(c.description),
		CorsPreflight:      cors,
		CreateDefaultStage: jsii.Bool(false),
	})
	api.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))

	accessLogs := awslogs.NewLogGroup(scope, jsii.String(c.idPrefix+"ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: c.logRetention,
	})
	throttle := c.throttle
	stage := awsapigatewayv2.NewHttpStage(scope, jsii.String(c.idPrefix+"DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle:   &throttle,
		AccessLogSettings: &accessLogSettings{
			destination: awsapigatewayv2.NewLogGroupLogDestination(accessLogs),
			format:      awsapigateway.AccessLogFormat_Custom(jsii.String(httpAccessLogFormat())),
		},
	})
	return &httpAPI{api: api, stage: stage, c: c}
}

// addRoutes adds one route per entry of the config's routes, each behind
// the authorizer and integrated with its function as a Lambda proxy
// (payload 2.0). The authorizer is the config's, or, when that is nil,
// authorizer (a Lambda authorizer's function exists only now).
func (a *httpAPI) addRoutes(functions map[string]awslambda.IFunction, authorizer awsapigatewayv2.IHttpRouteAuthorizer) {
	if authorizer == nil {
		authorizer = a.c.authorizer
	}
	// One integration per function: an integration belongs to one API.
	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, r := range a.c.routes {
		if _, ok := integrations[r.Function]; ok {
			continue
		}
		integrations[r.Function] = awsapigatewayv2integrations.NewHttpLambdaIntegration(
			jsii.String(camel(r.Function)+"Integration"), functions[r.Function],
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			})
	}
	for _, r := range a.c.routes {
		var scopes *[]*string
		if r.Scope != "" && a.c.jwtScopes {
			scopes = jsii.Strings(r.Scope)
		}
		a.api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:                jsii.String(r.Path),
			Methods:             &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration:         integrations[r.Function],
			Authorizer:          authorizer,
			AuthorizationScopes: scopes,
		})
	}
}

// stageThrottle is the stage throttling of the props, defaults filled in.
func stageThrottle(props *StackProps) awsapigatewayv2.ThrottleSettings {
	rate, burst := props.ThrottleRateLimit, props.ThrottleBurstLimit
	if rate == 0 {
		rate = DefaultThrottleRateLimit
	}
	if burst == 0 {
		burst = DefaultThrottleBurstLimit
	}
	return awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(rate), BurstLimit: jsii.Number(burst)}
}

// jwtAuthorizer accepts the tokens of the issuer and audience from the
// props, else from the CDK context, else from CloudFormation parameters,
// so that a template synthesized without them can still be deployed with
// --parameters.
func jwtAuthorizer(stack awscdk.Stack, props *StackProps) awsapigatewayv2authorizers.HttpJwtAuthorizer {
	node := stack.Node()
	issuer := props.JwtIssuer
	if issuer == "" {
		issuer = contextString(node, "jwtIssuer")
	}
	audience := props.JwtAudience
	if len(audience) == 0 {
		audience = contextList(node, "jwtAudience")
	}

	var issuerValue *string
	if issuer != "" {
		issuerValue = jsii.String(issuer)
	} else {
		issuerValue = awscdk.NewCfnParameter(stack, jsii.String("JwtIssuer"), &awscdk.CfnParameterProps{
			Type:           jsii.String("String"),
			Description:    jsii.String("Issuer URL of the JWTs the API accepts, e.g. https://cognito-idp.<region>.amazonaws.com/<userPoolId>"),
			AllowedPattern: jsii.String("https://.+"),
		}).ValueAsString()
	}
	var audienceValue *[]*string
	if len(audience) > 0 {
		audienceValue = jsii.Strings(audience...)
	} else {
		audienceValue = awscdk.NewCfnParameter(stack, jsii.String("JwtAudience"), &awscdk.CfnParameterProps{
			Type:        jsii.String("CommaDelimitedList"),
			Description: jsii.String("Accepted JWT audiences (for Cognito access tokens: the app client ids), comma separated"),
		}).ValueAsList()
	}
	return awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("JwtAuthorizer"), issuerValue, &awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
		JwtAudience: audienceValue,
	})
}

// keyAuthorizer is the key API's Lambda authorizer: the authorize-key
// function, called with payload 2.0 and answering simple responses. It
// has no identity source, because a key comes in one of three headers
// (X-Api-Key, or Authorization as Basic credentials or raw), and API
// Gateway calls an authorizer with identity sources only when all of them
// are present; without one, API Gateway requires its result cache off
// (TTL 0) and calls it for every request. The function caches the keys it
// read itself, for 30 s (pkg/internal/apikeys): a revocation takes effect
// within that. The construct gives API Gateway the permission to invoke
// it, for this authorizer of this API alone.
func keyAuthorizer(fn awslambda.IFunction) awsapigatewayv2authorizers.HttpLambdaAuthorizer {
	return awsapigatewayv2authorizers.NewHttpLambdaAuthorizer(jsii.String("KeyAuthorizer"), fn, &awsapigatewayv2authorizers.HttpLambdaAuthorizerProps{
		AuthorizerName:  jsii.String("KeyAuthorizer"),
		IdentitySource:  &[]*string{},
		ResponseTypes:   &[]awsapigatewayv2authorizers.HttpLambdaResponseType{awsapigatewayv2authorizers.HttpLambdaResponseType_SIMPLE},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(0)),
	})
}

// withoutIdentitySource removes the identity source of the authorizer id
// of api, which the CDK writes as an empty list when given none: API
// Gateway documents the property as optional for a REQUEST authorizer
// without a result cache, not what an empty list means.
func withoutIdentitySource(api awsapigatewayv2.HttpApi, id string) {
	api.Node().FindChild(jsii.String(id)).Node().DefaultChild().(awscdk.CfnResource).AddPropertyDeletionOverride(jsii.String("IdentitySource"))
}

// corsMethods are the methods of rs, each once.
func corsMethods(rs []routes.Route) *[]awsapigatewayv2.CorsHttpMethod {
	seen := map[string]bool{}
	var out []awsapigatewayv2.CorsHttpMethod
	for _, r := range rs {
		if !seen[r.Method] {
			seen[r.Method] = true
			out = append(out, awsapigatewayv2.CorsHttpMethod(r.Method))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return &out
}

// accessLogSettings implements awsapigatewayv2.IAccessLogSettings, which
// has no struct form in Go.
type accessLogSettings struct {
	destination awsapigatewayv2.IAccessLogDestination
	format      awsapigateway.AccessLogFormat
}

func (s *accessLogSettings) Destination() awsapigatewayv2.IAccessLogDestination { return s.destination }
func (s *accessLogSettings) Format() awsapigateway.AccessLogFormat              { return s.format }

// httpAccessLogFormat is one JSON object per request, with the variables
// HTTP APIs support (REST-only ones such as $context.identity.caller are
// not).
func httpAccessLogFormat() string {
	return accessLogFormat(map[string]string{
		"routeKey":        "$context.routeKey",
		"authorizerError": "$context.authorizer.error",
		"sub":             "$context.authorizer.claims.sub",
	})
}

// restAccessLogFormat is one JSON object per request of a REST API: who
// called (the IAM caller of a signed request) and through which VPC
// endpoint (a private API's), with the variables REST APIs support.
func restAccessLogFormat() string {
	return accessLogFormat(map[string]string{
		"httpMethod":   "$context.httpMethod",
		"resourcePath": "$context.resourcePath",
		"caller":       "$context.identity.caller",
		"userArn":      "$context.identity.userArn",
		"vpceId":       "$context.identity.vpceId",
	})
}

// accessLogFormat is the fields both kinds of API log, and extra, as one
// JSON object.
func accessLogFormat(extra map[string]string) string {
	fields := map[string]string{
		"requestId":          "$context.requestId",
		"ip":                 "$context.identity.sourceIp",
		"userAgent":          "$context.identity.userAgent",
		"requestTime":        "$context.requestTime",
		"path":               "$context.path",
		"status":             "$context.status",
		"protocol":           "$context.protocol",
		"responseLength":     "$context.responseLength",
		"responseLatency":    "$context.responseLatency",
		"integrationLatency": "$context.integrationLatency",
		"integrationError":   "$context.integrationErrorMessage",
		"errorMessage":       "$context.error.message",
	}
	for k, v := range extra {
		fields[k] = v
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return string(b)
}

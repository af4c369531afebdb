package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/fleetlog/device-events/pkg/routes"
)

// RegistryMode is how the DeLaval registry's own API is reached.
type RegistryMode string

// The registry API's modes. Both are REST APIs: private endpoints exist
// for REST APIs only.
const (
	// RegistryPrivate is a private endpoint, reachable only through the
	// given VPC endpoints (its resource policy denies every other way in);
	// requests carry no credentials, as the registry's clients send none.
	RegistryPrivate RegistryMode = "private"
	// RegistryIAM is a regional endpoint whose every method takes IAM
	// authorization: requests are SigV4-signed by principals allowed
	// execute-api:Invoke.
	RegistryIAM RegistryMode = "iam"
)

// RegistryAPILogicalID is the registry API's stable logical id.
const RegistryAPILogicalID = "RegistryApi"

// RegistryStageName is the registry API's stage, the first segment of its
// base URL's path.
const RegistryStageName = "registry"

// registryAPIConfig is what newRegistryAPI builds the registry API from.
type registryAPIConfig struct {
	mode           RegistryMode
	vpcEndpointIDs []string
	logRetention   awslogs.RetentionDays
	// throttle is the events API's, applied to this API's stage.
	throttle awsapigatewayv2.ThrottleSettings
}

// registryAPI is the registry's REST API. Its methods are added by
// addRoutes once the functions exist: the functions' environment names
// the API.
type registryAPI struct {
	api  awsapigateway.RestApi
	mode RegistryMode
}

// newRegistryAPI builds the REST API of routes.Registry in c.mode, with its
// stage: throttled, each request logged as JSON, errors logged to an
// execution log group with the stack's retention, per-method metrics and
// X-Ray tracing.
func newRegistryAPI(stack awscdk.Stack, c registryAPIConfig) *registryAPI {
	accessLogs := awslogs.NewLogGroup(stack, jsii.String("RegistryApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: c.logRetention,
	})
	props := &awsapigateway.RestApiProps{
		RestApiName: jsii.String(*stack.StackName() + "-registry"),
		Description: jsii.String("The DeLaval device registry's own API (" + string(c.mode) + ")"),
		// Execution logs need the account's API Gateway logging role;
		// kept when the stack goes, as other APIs of the account use it.
		CloudWatchRole:              jsii.Bool(true),
		CloudWatchRoleRemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(RegistryStageName),
			ThrottlingRateLimit:  c.throttle.RateLimit,
			ThrottlingBurstLimit: c.throttle.BurstLimit,
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(restAccessLogFormat())),
			// Errors only, and never bodies: access logs have every request.
			LoggingLevel:     awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled: jsii.Bool(false),
			MetricsEnabled:   jsii.Bool(true),
			TracingEnabled:   jsii.Bool(true),
		},
	}
	switch c.mode {
	case RegistryPrivate:
		endpoints := make([]awsec2.IVpcEndpoint, len(c.vpcEndpointIDs))
		for i, id := range c.vpcEndpointIDs {
			endpoints[i] = awsec2.InterfaceVpcEndpoint_FromInterfaceVpcEndpointAttributes(stack,
				jsii.String(fmt.Sprintf("RegistryVpcEndpoint%d", i)),
				&awsec2.InterfaceVpcEndpointAttributes{VpcEndpointId: jsii.String(id), Port: jsii.Number(443)})
		}
		// Associating the endpoints also gives each an alias,
		// https://<api>-<vpce>.execute-api.<region>.amazonaws.com, for VPCs
		// without the endpoint's private DNS.
		props.EndpointConfiguration = &awsapigateway.EndpointConfiguration{
			Types:        &[]awsapigateway.EndpointType{awsapigateway.EndpointType_PRIVATE},
			VpcEndpoints: &endpoints,
		}
		props.Policy = onlyThroughVPCEndpoints(c.vpcEndpointIDs)
		props.DefaultMethodOptions = &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}
	case RegistryIAM:
		props.EndpointConfiguration = &awsapigateway.EndpointConfiguration{
			Types: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		}
		props.DefaultMethodOptions = &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_IAM}
	default:
		panic(fmt.Sprintf("registry API mode %q", c.mode)) // StackProps.Validate refuses it first
	}
	api := awsapigateway.NewRestApi(stack, jsii.String(RegistryAPILogicalID), props)
	api.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(RegistryAPILogicalID))

	// API Gateway would create the execution log group itself, kept
	// forever: create it first, with the stack's retention.
	executionLogs := awslogs.NewLogGroup(stack, jsii.String("RegistryApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String("API-Gateway-Execution-Logs_" + *api.RestApiId() + "/" + RegistryStageName),
		Retention:    c.logRetention,
	})
	api.DeploymentStage().Node().AddDependency(executionLogs)

	suppress(api, "AwsSolutions-APIG2", "Requests are validated by the functions, by the same code for both APIs, answering in the contract's error shape; API Gateway's validator has no model of these bodies (every put-event body, the registry's Salt form) and would answer in its own shape.")
	suppress(api.DeploymentStage(), "AwsSolutions-APIG3", "The registry API is internal, "+reach(c.mode)+"; API Gateway refuses every other request before any integration runs, and the stage is throttled: a web ACL would filter traffic that cannot arrive.")
	// CDK's account logging role gets AWS's managed policy for it.
	cdknag.NagSuppressions_AddResourceSuppressions(api.Node().FindChild(jsii.String("CloudWatchRole")), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM4"),
		Reason:    jsii.String("API Gateway's account-wide logging role, which execution logs need, carries AmazonAPIGatewayPushToCloudWatchLogs, the policy AWS documents for it: it serves every API of the account and region, whose log groups it cannot know."),
		AppliesTo: &[]interface{}{jsii.String("Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")},
	}}, jsii.Bool(false))
	return &registryAPI{api: api, mode: c.mode}
}

// onlyThroughVPCEndpoints is the resource policy of the private registry
// API: invocations through the endpoints, and no other.
func onlyThroughVPCEndpoints(ids []string) awsiam.PolicyDocument {
	anyone := &[]awsiam.IPrincipal{awsiam.NewStarPrincipal()}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowThroughTheVpcEndpoints"),
			Effect:     awsiam.Effect_ALLOW,
			Principals: anyone,
			Actions:    jsii.Strings("execute-api:Invoke"),
			Resources:  jsii.Strings("execute-api:/*"),
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceVpce": ids}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("DenyEveryOtherWay"),
			Effect:     awsiam.Effect_DENY,
			Principals: anyone,
			Actions:    jsii.Strings("execute-api:Invoke"),
			Resources:  jsii.Strings("execute-api:/*"),
			Conditions: &map[string]interface{}{"StringNotEquals": map[string]interface{}{"aws:SourceVpce": ids}},
		}),
	}})
}

// addRoutes adds a resource per path and a method per route of
// routes.Registry, each integrated with its function as a Lambda proxy
// (payload 1.0). Each method's invoke permission names its stage, method
// and path; there is none for the console's test invokes.
func (a *registryAPI) addRoutes(functions map[string]awslambda.IFunction) {
	integrations := map[string]awsapigateway.LambdaIntegration{}
	for _, r := range routes.ForAPI(routes.Registry) {
		integration, ok := integrations[r.Function]
		if !ok {
			integration = awsapigateway.NewLambdaIntegration(functions[r.Function], &awsapigateway.LambdaIntegrationOptions{
				Proxy:           jsii.Bool(true),
				AllowTestInvoke: jsii.Bool(false),
			})
			integrations[r.Function] = integration
		}
		method := a.api.Root().ResourceForPath(jsii.String(r.Path)).AddMethod(jsii.String(r.Method), integration, nil)
		suppress(method, "AwsSolutions-COG4", "The registry's clients send no token: the API is "+reach(a.mode)+", which is its authorization; a Cognito authorizer would break them.")
		if a.mode == RegistryPrivate {
			suppress(method, "AwsSolutions-APIG4", "The private registry API is authorized by the network: its resource policy allows execute-api:Invoke only through the stack's VPC endpoints and denies the rest, and its clients send no credentials.")
		}
	}
}

// suppress adds cdk-nag suppressions to c's own resource.
func suppress(c constructs.IConstruct, id, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String(id), Reason: jsii.String(reason),
	}}, jsii.Bool(false))
}

// reach says how the registry API in mode can be reached, for the reasons
// of its suppressions.
func reach(mode RegistryMode) string {
	if mode == RegistryIAM {
		return "open only to SigV4-signed requests of IAM principals allowed execute-api:Invoke on it"
	}
	return "reachable only through the stack's VPC endpoints (its resource policy denies every other source)"
}

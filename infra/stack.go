package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/pkg/routes"
)

// StackID is the id of the stack in the app. The synthesized template is
// cdk.out/<StackID>.template.json.
const StackID = "DeviceEventsStack"

// NewDeviceEventsStack builds the device events service: the table, one
// function per routes.Functions entry built from its source at synth, the
// HTTP API of routes.Events behind a JWT authorizer, the HTTP API of
// routes.Keys behind the authorize-key function (device API keys),
// optionally the REST API of routes.Registry (StackProps.RegistryAPI), and
// the alarms. It panics
// on invalid props, as CDK constructs do; call props.Validate first to get
// an error instead.
func NewDeviceEventsStack(scope constructs.Construct, id string, props *StackProps) awscdk.Stack {
	if props == nil {
		props = &StackProps{}
	}
	if err := props.Validate(); err != nil {
		panic(err)
	}
	sourceDir := props.SourceDir
	if sourceDir == "" {
		var err error
		if sourceDir, err = bootstrap.ModuleRoot(); err != nil {
			panic(err)
		}
	}
	sprops := props.StackProps
	if sprops.Description == nil {
		sprops.Description = jsii.String("Device events API: HTTP API, Lambda functions and DynamoDB table")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)

	retentionDays := DefaultRetentionDays
	if props.RetentionDays != nil {
		retentionDays = *props.RetentionDays
	}
	logRetention := props.LogRetention
	if logRetention == "" {
		logRetention = DefaultLogRetention
	}

	table := newTable(stack, tableConfig{
		deletionProtection: props.DeletionProtection == nil || *props.DeletionProtection,
		maxRead:            props.MaxReadRequestUnits,
		maxWrite:           props.MaxWriteRequestUnits,
	})
	pageTokenKey := newPageTokenKey(stack)
	keyPepper := newKeyPepper(stack)

	// The APIs come before the functions, whose environment names them
	// (API_IDS), and get their routes after.
	events := newHTTPAPI(stack, APILogicalID, httpAPIConfig{
		name:         *stack.StackName() + "-api",
		description:  "Device events API",
		routes:       routes.ForAPI(routes.Events),
		authorizer:   jwtAuthorizer(stack, props),
		jwtScopes:    true,
		corsOrigins:  props.CorsOrigins,
		logRetention: logRetention,
		throttle:     stageThrottle(props),
	})
	// The key API: the same routes, for devices holding an API key. No
	// CORS: its callers are devices, not browsers. Its stage is throttled
	// on its own, at the same rate.
	keys := newHTTPAPI(stack, KeysAPILogicalID, httpAPIConfig{
		name:         *stack.StackName() + "-keys",
		description:  "Device events key API: the device events API for device API keys",
		idPrefix:     "Keys",
		routes:       routes.ForAPI(routes.Keys),
		logRetention: logRetention,
		throttle:     stageThrottle(props),
	})
	apiIDs := map[routes.API]string{routes.Events: *events.api.ApiId(), routes.Keys: *keys.api.ApiId()}
	var registry *registryAPI
	if props.RegistryAPI != "" {
		registry = newRegistryAPI(stack, registryAPIConfig{
			mode:           props.RegistryAPI,
			vpcEndpointIDs: props.RegistryVPCEndpointIDs,
			logRetention:   logRetention,
			throttle:       stageThrottle(props),
		})
		apiIDs[routes.Registry] = *registry.api.RestApiId()
	}

	functions := map[string]awslambda.IFunction{}
	for _, name := range routes.Functions {
		functions[name] = newFunction(stack, functionConfig{
			name:          name,
			sourceDir:     sourceDir,
			table:         table,
			pageTokenKey:  pageTokenKey,
			keyPepper:     keyPepper,
			apiIDs:        apiIDs,
			retentionDays: retentionDays,
			logRetention:  logRetention,
			reserved:      props.ReservedConcurrency[name],
			samLocal:      props.SAMLocal,
		})
	}
	allowDirectInvoke(functions[routes.PutEvent], props.PutEventInvokerRoleArns)

	events.addRoutes(functions, nil)
	keys.addRoutes(functions, keyAuthorizer(functions[routes.AuthorizeKey]))
	withoutIdentitySource(keys.api, "KeyAuthorizer")
	var registryREST awsapigateway.RestApi
	if registry != nil {
		registry.addRoutes(functions)
		registryREST = registry.api
	}

	newAlarms(stack, props.AlarmEmail, functions, []awsapigatewayv2.HttpApi{events.api, keys.api}, registryREST, table)

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the HTTP API"),
		Value:       events.stage.Url(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("KeysApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the key API: the same routes, for device API keys"),
		Value:       keys.stage.Url(),
	})
	if registry != nil {
		awscdk.NewCfnOutput(stack, jsii.String("RegistryApiUrl"), &awscdk.CfnOutputProps{
			Description: jsii.String("Base URL of the DeLaval registry's own API (" + string(props.RegistryAPI) + ")"),
			Value:       registry.api.Url(),
		})
	}
	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{
		Description: jsii.String("Name of the events table"),
		Value:       table.TableName(),
	})
	for _, name := range routes.Functions {
		awscdk.NewCfnOutput(stack, jsii.String(FunctionNameOutput(name)), &awscdk.CfnOutputProps{
			Description: jsii.String("Name of the " + name + " Lambda function"),
			Value:       functions[name].FunctionName(),
		})
	}
	return stack
}

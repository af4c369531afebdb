package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/fleetlog/device-events/pkg/routes"
)

// FunctionLogicalID is the CloudFormation logical id of a function of
// routes.Functions: "put-event" becomes "PutEventFunction".
func FunctionLogicalID(fn string) string { return camel(fn) + "Function" }

// FunctionNameOutput is the id of the stack output holding a function's
// physical name: "put-event" becomes "PutEventFunctionName".
func FunctionNameOutput(fn string) string { return FunctionLogicalID(fn) + "Name" }

func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// envDynamoDBEndpoint is the SDK's own variable for another DynamoDB
// endpoint, which the functions read (function.Endpoint).
const envDynamoDBEndpoint = "AWS_ENDPOINT_URL_DYNAMODB"

// newPageTokenKey is the page-token signing key: 64 lowercase hex
// characters (32 bytes), stored as the plain secret string.
func newPageTokenKey(stack awscdk.Stack) awssecretsmanager.Secret {
	key := awssecretsmanager.NewSecret(stack, jsii.String("PageTokenKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("HMAC key (64 hex characters) signing the device events API's page tokens"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludeUppercase:   jsii.Bool(true),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
			ExcludeCharacters:  jsii.String("ghijklmnopqrstuvwxyz"),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(key, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The page-token key only signs pagination cursors. It is rotated on demand by putting a new secret version (aws secretsmanager put-secret-value); the functions reload it within minutes and still accept tokens signed with the AWSPREVIOUS version, so a rotation Lambda would add a moving part for no gain."),
	}}, jsii.Bool(false))
	return key
}

// KeyPepperLogicalID is the logical id of the API keys' pepper's secret:
// stable, since replacing the secret would revoke every key.
const KeyPepperLogicalID = "ApiKeyPepper"

// newKeyPepper is the pepper of the API keys' hashes: 64 lowercase hex
// characters, stored as the plain secret string. It is kept when the stack
// is deleted, as the table is: the keys in the table are worth nothing
// without it.
func newKeyPepper(stack awscdk.Stack) awssecretsmanager.Secret {
	pepper := awssecretsmanager.NewSecret(stack, jsii.String(KeyPepperLogicalID), &awssecretsmanager.SecretProps{
		Description: jsii.String("Pepper (64 hex characters) of the HMAC-SHA256 hashes the device API keys' secrets are stored as; never rotate it: a new pepper revokes every key"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludeUppercase:   jsii.Bool(true),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
			ExcludeCharacters:  jsii.String("ghijklmnopqrstuvwxyz"),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	pepper.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(KeyPepperLogicalID))
	cdknag.NagSuppressions_AddResourceSuppressions(pepper, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The pepper keys the hashes every device API key is stored as: a rotation would revoke every key at once. Keys are rotated instead (make a new one, revoke the old), which needs no change of the pepper."),
	}}, jsii.Bool(false))
	return pepper
}

// functionConfig is what newFunction builds one function from.
type functionConfig struct {
	name         string
	sourceDir    string
	table        awsdynamodb.TableV2
	pageTokenKey awssecretsmanager.Secret
	keyPepper    awssecretsmanager.Secret
	// apiIDs are the ids of the stack's APIs, whose events alone the
	// function serves.
	apiIDs        map[routes.API]string
	retentionDays int
	logRetention  awslogs.RetentionDays
	// reserved is the function's reserved concurrency; 0 reserves none.
	reserved int
	samLocal bool
}

// newFunction builds one function with its own log group and a role that
// holds exactly the function's routes.Permissions, written out as explicit
// statements: the table's Grant* helpers add actions the code never calls.
// Memory, timeout and environment are routes.Deployments and routes.Env,
// which the local stack runs the same binaries with.
func newFunction(stack awscdk.Stack, c functionConfig) awslambda.Function {
	id := FunctionLogicalID(c.name)
	access := routes.Permissions[c.name]
	deployment := routes.Deployments[c.name]

	logGroup := awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: c.logRetention,
	})

	// An own role instead of the default one, whose managed
	// AWSLambdaBasicExecutionRole may write to every log group.
	role := awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the " + c.name + " function"),
	})
	logGroup.GrantWrite(role)
	if len(access.TableActions) > 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(access.TableActions...),
			Resources: jsii.Strings(*c.table.TableArn()),
		}))
	}
	if len(access.IndexActions) > 0 && len(access.Indexes) > 0 {
		indexes := make([]string, len(access.Indexes))
		for i, index := range access.Indexes {
			indexes[i] = indexArn(c.table, index)
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(access.IndexActions...),
			Resources: jsii.Strings(indexes...),
		}))
	}
	if access.PageTokenKey {
		// GetSecretValue only: secret.GrantRead would add DescribeSecret.
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(*c.pageTokenKey.SecretArn()),
		}))
	}
	if access.KeyPepper {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(*c.keyPepper.SecretArn()),
		}))
	}

	env := routes.Env(c.name, routes.Settings{
		Table:              *c.table.TableName(),
		RetentionDays:      c.retentionDays,
		PageTokenSecretARN: *c.pageTokenKey.SecretArn(),
		KeyPepperSecretARN: *c.keyPepper.SecretArn(),
		APIIDs:             c.apiIDs,
	})
	if c.samLocal {
		// Declared so that SAM's --env-vars may set it: SAM overrides only
		// the variables a template declares. Empty is the regional
		// endpoint.
		env[envDynamoDBEndpoint] = ""
		if _, ok := env[routes.EnvPageTokenSecretARN]; ok {
			// No Secrets Manager under sam local: a key per instance.
			env[routes.EnvPageTokenSecretARN] = ""
		}
		if _, ok := env[routes.EnvKeyPepperSecretARN]; ok {
			// Nor a pepper: API keys can be neither made nor checked
			// (sam local has no Lambda authorizers anyway).
			env[routes.EnvKeyPepperSecretARN] = ""
		}
		// sam local start-api gives its events an API id of its own:
		// empty accepts any.
		env[routes.EnvAPIIDs] = ""
	}
	vars := make(map[string]*string, len(env))
	for k, v := range env {
		vars[k] = jsii.String(v)
	}

	fn := awslambda.NewFunction(stack, jsii.String(id), &awslambda.FunctionProps{
		Description:                  jsii.String("Device events API: " + c.name),
		Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:                 awslambda.Architecture_ARM_64(),
		Handler:                      jsii.String("bootstrap"),
		Code:                         functionCode(c.sourceDir, c.name),
		Role:                         role,
		MemorySize:                   jsii.Number(deployment.MemoryMB),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(deployment.Timeout.Seconds())),
		ReservedConcurrentExecutions: optionalNumber(c.reserved),
		Tracing:                      awslambda.Tracing_ACTIVE,
		LoggingFormat:                awslambda.LoggingFormat_JSON,
		LogGroup:                     logGroup,
		Environment:                  &vars,
	})
	fn.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))

	// Active tracing makes CDK add xray:PutTraceSegments and
	// xray:PutTelemetryRecords on "*" to the role's default policy.
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("X-Ray's PutTraceSegments and PutTelemetryRecords do not support resource-level permissions, so active tracing needs Resource \"*\" for these two actions."),
		AppliesTo: &[]interface{}{jsii.String("Resource::*")},
	}}, jsii.Bool(true))
	return fn
}

// allowDirectInvoke lets each role invoke put-event, and nothing else.
func allowDirectInvoke(putEvent awslambda.IFunction, roleArns []string) {
	for i, arn := range roleArns {
		putEvent.AddPermission(jsii.String(fmt.Sprintf("DirectInvoke%d", i)), &awslambda.Permission{
			Principal: awsiam.NewArnPrincipal(jsii.String(arn)),
			Action:    jsii.String("lambda:InvokeFunction"),
		})
	}
}

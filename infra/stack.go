package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// StackID is the id of the stack in the app. The synthesized template is
// cdk.out/<StackID>.template.json, which samconfig.toml points SAM at.
const StackID = "DeviceEventsStack"

// Stable logical ids, so that SAM users (sam local invoke PutEventFunction)
// and CloudFormation drift tools can name the resources.
const (
	TableLogicalID = "EventsTable"
	APILogicalID   = "EventsApi"
)

// Defaults of StackProps.
const (
	DefaultRetentionDays = int(eventstore.DefaultRetention / (24 * time.Hour))
	DefaultLogRetention  = awslogs.RetentionDays_ONE_MONTH
	// DefaultAssetDir is where the Makefile puts the bootstrap binaries,
	// relative to the infra folder.
	DefaultAssetDir = "../build/lambda"
)

// Function settings. Timeout stays well under API Gateway's 30 s
// integration limit, so a slow call ends as the function's own 5xx rather
// than a gateway timeout with nothing in the function's log.
const (
	functionTimeoutSeconds = 10
	functionMemoryMB       = 256
)

// StackProps configures the device events stack. Zero values take the
// defaults documented on each field.
type StackProps struct {
	awscdk.StackProps

	// JwtIssuer is the issuer URL of the tokens the API accepts (for
	// Cognito, https://cognito-idp.<region>.amazonaws.com/<poolId>).
	// Empty: CDK context jwtIssuer; if that is empty too, the template takes
	// it as the CloudFormation parameter JwtIssuer.
	JwtIssuer string
	// JwtAudience lists the accepted "aud" (or, for Cognito access tokens,
	// "client_id") values. Empty: CDK context jwtAudience (comma list),
	// else the CloudFormation parameter JwtAudience.
	JwtAudience []string
	// CorsOrigins are the browser origins allowed to call the API. Empty:
	// no CORS configuration at all (server-to-server callers only).
	CorsOrigins []string
	// AssetDir holds one folder per function with its bootstrap binary.
	// Empty: DefaultAssetDir, resolved against the infra folder.
	AssetDir string
	// RetentionDays is how long events are kept (the table's TTL). Nil:
	// DefaultRetentionDays; 0 keeps events forever.
	RetentionDays *int
	// LogRetention is the retention of the functions' and the API's log
	// groups. Empty: DefaultLogRetention.
	LogRetention awslogs.RetentionDays
	// PutEventInvokerRoleArns are the IAM roles (of other Lambda functions)
	// allowed to invoke put-event directly. Each gets a resource-based
	// permission on that function and nothing else.
	PutEventInvokerRoleArns []string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// DeletionProtection of the table. Nil: on.
	DeletionProtection *bool
}

var roleArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// Validate reports the first prop the stack cannot be built with.
func (p *StackProps) Validate() error {
	if p.RetentionDays != nil && *p.RetentionDays < 0 {
		return fmt.Errorf("retentionDays: got %d, want 0 (keep forever) or more", *p.RetentionDays)
	}
	for _, arn := range p.PutEventInvokerRoleArns {
		if !roleArnPattern.MatchString(arn) {
			return fmt.Errorf("putEventInvokerRoleArns: %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn)
		}
	}
	for _, o := range p.CorsOrigins {
		if o == "*" {
			continue
		}
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
			return fmt.Errorf("corsOrigins: %q is not an origin (https://host[:port] or *)", o)
		}
	}
	if p.AlarmEmail != "" && !strings.Contains(p.AlarmEmail, "@") {
		return fmt.Errorf("alarmEmail: %q is not an email address", p.AlarmEmail)
	}
	return nil
}

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

// ResolveAssetDir turns a relative asset folder into an absolute one,
// relative to the infra folder rather than to the process's working
// directory, so `go run ./infra` from the repository root finds the same
// binaries as `cdk synth` from infra/.
func ResolveAssetDir(dir string) string {
	if dir == "" {
		dir = DefaultAssetDir
	}
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(infraDir(), dir)
}

// CheckAssets reports the function binaries missing from dir, with the
// command that builds them, so a synth without them fails with a hint
// rather than with a jsii stack trace.
func CheckAssets(dir string) error {
	var missing []string
	for _, fn := range routes.Functions {
		p := filepath.Join(dir, fn, "bootstrap")
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing Lambda bootstrap binaries (run `make build` first): %s", strings.Join(missing, ", "))
	}
	return nil
}

// NewDeviceEventsStack builds the device events service: the table, one
// function per routes.Functions entry, the HTTP API of routes.All behind a
// JWT authorizer, and the alarms. It panics on invalid props, as CDK
// constructs do; call props.Validate first to get an error instead.
func NewDeviceEventsStack(scope constructs.Construct, id string, props *StackProps) awscdk.Stack {
	if props == nil {
		props = &StackProps{}
	}
	if err := props.Validate(); err != nil {
		panic(err)
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
	assetDir := ResolveAssetDir(props.AssetDir)

	table := newTable(stack, props.DeletionProtection == nil || *props.DeletionProtection)

	// The page-token signing key: 64 lowercase hex characters (32 bytes),
	// stored as the plain secret string.
	pageTokenKey := awssecretsmanager.NewSecret(stack, jsii.String("PageTokenKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("HMAC key (64 hex characters) signing the device events API's page tokens"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludeUppercase:   jsii.Bool(true),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
			ExcludeCharacters:  jsii.String("ghijklmnopqrstuvwxyz"),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(pageTokenKey, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The page-token key only signs pagination cursors. It is rotated on demand by putting a new secret version (aws secretsmanager put-secret-value); the functions reload it within minutes and still accept tokens signed with the AWSPREVIOUS version, so a rotation Lambda would add a moving part for no gain."),
	}}, jsii.Bool(false))

	functions := map[string]awslambda.Function{}
	for _, name := range routes.Functions {
		functions[name] = newFunction(stack, functionConfig{
			name:          name,
			access:        routes.Permissions[name],
			assetDir:      assetDir,
			table:         table,
			pageTokenKey:  pageTokenKey,
			retentionDays: retentionDays,
			logRetention:  logRetention,
		})
	}

	for i, arn := range props.PutEventInvokerRoleArns {
		functions[routes.PutEvent].AddPermission(jsii.String(fmt.Sprintf("DirectInvoke%d", i)), &awslambda.Permission{
			Principal: awsiam.NewArnPrincipal(jsii.String(arn)),
			Action:    jsii.String("lambda:InvokeFunction"),
		})
	}

	issuer, audience := jwtSettings(stack, props)
	api, stage := newAPI(stack, functions, issuer, audience, props.CorsOrigins, logRetention)

	newAlarms(stack, props.AlarmEmail, functions, api, table)

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the HTTP API"),
		Value:       stage.Url(),
	})
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

func newTable(stack awscdk.Stack, deletionProtection bool) awsdynamodb.TableV2 {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	table := awsdynamodb.NewTableV2(stack, jsii.String(TableLogicalID), &awsdynamodb.TablePropsV2{
		PartitionKey: str(eventstore.PartitionKey),
		SortKey:      str(eventstore.SortKey),
		Billing:      awsdynamodb.Billing_OnDemand(nil),
		GlobalSecondaryIndexes: &[]*awsdynamodb.GlobalSecondaryIndexPropsV2{{
			IndexName:      jsii.String(eventstore.TypeIndex),
			PartitionKey:   str(eventstore.TypeIndexKey),
			SortKey:        str(eventstore.SortKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		}},
		TimeToLiveAttribute: jsii.String(eventstore.ExpiryAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(deletionProtection),
		DynamoStream:       awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	table.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(TableLogicalID))
	return table
}

type functionConfig struct {
	name          string
	access        routes.Access
	assetDir      string
	table         awsdynamodb.TableV2
	pageTokenKey  awssecretsmanager.Secret
	retentionDays int
	logRetention  awslogs.RetentionDays
}

// newFunction builds one function with its own log group and a role that
// holds exactly the function's routes.Permissions, written out as explicit
// statements: the table's Grant* helpers add actions the code never calls.
func newFunction(stack awscdk.Stack, c functionConfig) awslambda.Function {
	id := FunctionLogicalID(c.name)

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
	if len(c.access.TableActions) > 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(c.access.TableActions...),
			Resources: jsii.Strings(*c.table.TableArn()),
		}))
	}
	if len(c.access.IndexActions) > 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(c.access.IndexActions...),
			Resources: jsii.Strings(indexArn(c.table)),
		}))
	}

	// DYNAMODB_ENDPOINT and PAGE_TOKEN_KEY are declared empty (empty means
	// the AWS default: the regional endpoint, the key from Secrets Manager)
	// because SAM CLI's --env-vars only overrides variables the template
	// declares; events/env.json sets them for sam local.
	env := map[string]*string{
		"TABLE_NAME":        c.table.TableName(),
		"RETENTION_DAYS":    jsii.String(strconv.Itoa(c.retentionDays)),
		"DYNAMODB_ENDPOINT": jsii.String(""),
	}
	if c.access.PageTokenKey {
		env["PAGE_TOKEN_SECRET_ARN"] = c.pageTokenKey.SecretArn()
		env["PAGE_TOKEN_KEY"] = jsii.String("")
		// GetSecretValue only: secret.GrantRead would add DescribeSecret.
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(*c.pageTokenKey.SecretArn()),
		}))
	}

	fn := awslambda.NewFunction(stack, jsii.String(id), &awslambda.FunctionProps{
		Description:   jsii.String("Device events API: " + c.name),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(c.assetDir, c.name)), nil),
		Role:          role,
		MemorySize:    jsii.Number(functionMemoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(functionTimeoutSeconds)),
		Tracing:       awslambda.Tracing_ACTIVE,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logGroup,
		Environment:   &env,
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

// indexArn is the ARN of the type index, which IAM treats as a resource of
// its own: table actions do not cover it.
func indexArn(table awsdynamodb.TableV2) string {
	return *table.TableArn() + "/index/" + eventstore.TypeIndex
}

// jwtSettings returns the issuer and audience from the props, else from the
// CDK context, else from CloudFormation parameters, so that a template
// synthesized without them can still be deployed with --parameters.
func jwtSettings(stack awscdk.Stack, props *StackProps) (*string, *[]*string) {
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
	return issuerValue, audienceValue
}

func newAPI(stack awscdk.Stack, functions map[string]awslambda.Function, issuer *string, audience *[]*string, corsOrigins []string, logRetention awslogs.RetentionDays) (awsapigatewayv2.HttpApi, awsapigatewayv2.HttpStage) {
	var cors *awsapigatewayv2.CorsPreflightOptions
	if len(corsOrigins) > 0 {
		cors = &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins:  jsii.Strings(corsOrigins...),
			AllowMethods:  corsMethods(),
			AllowHeaders:  jsii.Strings("Authorization", "Content-Type", "If-Match", "Idempotency-Key"),
			ExposeHeaders: jsii.Strings("ETag", "Location", "Retry-After"),
			MaxAge:        awscdk.Duration_Hours(jsii.Number(1)),
		}
	}
	api := awsapigatewayv2.NewHttpApi(stack, jsii.String(APILogicalID), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(*stack.StackName() + "-api"),
		Description:        jsii.String("Device events API"),
		CorsPreflight:      cors,
		CreateDefaultStage: jsii.Bool(false),
	})
	api.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(APILogicalID))

	accessLogs := awslogs.NewLogGroup(stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: logRetention,
	})
	stage := awsapigatewayv2.NewHttpStage(stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		AccessLogSettings: &accessLogSettings{
			destination: awsapigatewayv2.NewLogGroupLogDestination(accessLogs),
			format:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat())),
		},
	})

	authorizer := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("JwtAuthorizer"), issuer, &awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
		JwtAudience: audience,
	})
	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, name := range routes.Functions {
		integrations[name] = awsapigatewayv2integrations.NewHttpLambdaIntegration(
			jsii.String(camel(name)+"Integration"), functions[name],
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			})
	}
	for _, r := range routes.All {
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:                jsii.String(r.Path),
			Methods:             &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration:         integrations[r.Function],
			Authorizer:          authorizer,
			AuthorizationScopes: jsii.Strings(r.Scope),
		})
	}
	return api, stage
}

// corsMethods are the methods of routes.All, each once.
func corsMethods() *[]awsapigatewayv2.CorsHttpMethod {
	seen := map[string]bool{}
	var out []awsapigatewayv2.CorsHttpMethod
	for _, r := range routes.All {
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

// accessLogFormat is one JSON object per request, with the variables HTTP
// APIs support (REST-only ones such as $context.identity.caller are not).
func accessLogFormat() string {
	fields := map[string]string{
		"requestId":          "$context.requestId",
		"ip":                 "$context.identity.sourceIp",
		"userAgent":          "$context.identity.userAgent",
		"requestTime":        "$context.requestTime",
		"routeKey":           "$context.routeKey",
		"path":               "$context.path",
		"status":             "$context.status",
		"protocol":           "$context.protocol",
		"responseLength":     "$context.responseLength",
		"responseLatency":    "$context.responseLatency",
		"integrationLatency": "$context.integrationLatency",
		"integrationError":   "$context.integrationErrorMessage",
		"authorizerError":    "$context.authorizer.error",
		"errorMessage":       "$context.error.message",
		"sub":                "$context.authorizer.claims.sub",
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return string(b)
}

func newAlarms(stack awscdk.Stack, email string, functions map[string]awslambda.Function, api awsapigatewayv2.HttpApi, table awsdynamodb.TableV2) {
	// CloudWatch cannot publish to a topic encrypted with the AWS managed
	// aws/sns key, so the topic gets a customer managed key that lets it.
	key := awskms.NewKey(stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the device events alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Device events alarms"),
		EnforceSSL:  jsii.Bool(true),
		MasterKey:   key,
	})
	// EnforceSSL gives the topic a policy of its own, which replaces the
	// default one that let the account's alarms publish: allow them again,
	// only from this account's alarms.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]interface{}{
			"ArnLike": map[string]interface{}{
				"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{
					Service:      jsii.String("cloudwatch"),
					Resource:     jsii.String("alarm"),
					ResourceName: jsii.String("*"),
					ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
				}),
			},
			"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()},
		},
	}))
	if email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)

	period := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}
	alarm := func(id string, metric awscloudwatch.IMetric, description string) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String(description),
		})
		a.AddAlarmAction(action)
	}

	for _, name := range routes.Functions {
		fn := functions[name]
		id := FunctionLogicalID(name)
		what := "a crash or a timeout"
		if name == routes.PutEvent {
			what += ", or a direct invoke rejected as invalid"
		}
		alarm(id+"ErrorsAlarm", fn.MetricErrors(sum),
			name+" returned a function error at least once in 5 minutes ("+what+")")
		alarm(id+"ThrottlesAlarm", fn.MetricThrottles(sum),
			name+" was throttled at least once in 5 minutes")
	}
	alarm("Api5xxAlarm", api.MetricServerError(sum),
		"The HTTP API answered 5xx at least once in 5 minutes")

	// Throttling of the table and of its index; a throttled index write
	// also throttles the table write that caused it.
	dynamo := func(metric string, index bool) awscloudwatch.Metric {
		dims := map[string]*string{"TableName": table.TableName()}
		if index {
			dims["GlobalSecondaryIndexName"] = jsii.String(eventstore.TypeIndex)
		}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/DynamoDB"),
			MetricName:    jsii.String(metric),
			DimensionsMap: &dims,
			Period:        period,
			Statistic:     jsii.String("Sum"),
		})
	}
	throttles := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("FILL(tr, 0) + FILL(tw, 0) + FILL(ir, 0) + FILL(iw, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"tr": dynamo("ReadThrottleEvents", false),
			"tw": dynamo("WriteThrottleEvents", false),
			"ir": dynamo("ReadThrottleEvents", true),
			"iw": dynamo("WriteThrottleEvents", true),
		},
		Label:  jsii.String("DynamoDB throttle events"),
		Period: period,
	})
	alarm("TableThrottlesAlarm", throttles,
		"DynamoDB throttled reads or writes of the events table or its type index at least once in 5 minutes")
}

// contextString reads a CDK context value given as a string, number or
// boolean (-c key=value gives strings; cdk.json may give JSON types).
func contextString(node constructs.Node, key string) string {
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// contextList reads a CDK context value given as a comma list or as a JSON
// array of strings; empty items are dropped.
func contextList(node constructs.Node, key string) []string {
	var items []string
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case nil:
		return nil
	case []interface{}:
		for _, item := range v {
			items = append(items, fmt.Sprint(item))
		}
	default:
		items = strings.Split(contextString(node, key), ",")
	}
	var out []string
	for _, item := range items {
		if s := strings.TrimSpace(item); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var errNotInt = errors.New("not a whole number")

// contextInt reads an optional whole number from the CDK context.
func contextInt(node constructs.Node, key string) (*int, error) {
	s := contextString(node, key)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is %w", key, s, errNotInt)
	}
	return &n, nil
}

// contextBool reads an optional boolean from the CDK context.
func contextBool(node constructs.Node, key string) (*bool, error) {
	s := contextString(node, key)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not true or false", key, s)
	}
	return &b, nil
}

// logRetentionDays maps the day counts CloudWatch Logs accepts to CDK's
// enum; 0 is "never expire".
var logRetentionDays = map[int]awslogs.RetentionDays{
	0: awslogs.RetentionDays_INFINITE, 1: awslogs.RetentionDays_ONE_DAY,
	3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS,
	30: awslogs.RetentionDays_ONE_MONTH, 60: awslogs.RetentionDays_TWO_MONTHS,
	90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS,
	365: awslogs.RetentionDays_ONE_YEAR, 400: awslogs.RetentionDays_THIRTEEN_MONTHS,
	545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS,
	2192: awslogs.RetentionDays_SIX_YEARS, 2557: awslogs.RetentionDays_SEVEN_YEARS,
	2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// PropsFromContext reads the stack props from the CDK context (cdk.json or
// `cdk synth -c key=value`). jwtIssuer and jwtAudience are left to the
// stack, which reads the same keys.
func PropsFromContext(node constructs.Node) (*StackProps, error) {
	p := &StackProps{
		AlarmEmail:              contextString(node, "alarmEmail"),
		AssetDir:                contextString(node, "assetDir"),
		CorsOrigins:             contextList(node, "corsOrigins"),
		PutEventInvokerRoleArns: contextList(node, "putEventInvokerRoleArns"),
	}
	var err error
	if p.RetentionDays, err = contextInt(node, "retentionDays"); err != nil {
		return nil, err
	}
	if p.DeletionProtection, err = contextBool(node, "deletionProtection"); err != nil {
		return nil, err
	}
	days, err := contextInt(node, "logRetentionDays")
	if err != nil {
		return nil, err
	}
	if days != nil {
		r, ok := logRetentionDays[*days]
		if !ok {
			valid := make([]int, 0, len(logRetentionDays))
			for d := range logRetentionDays {
				valid = append(valid, d)
			}
			sort.Ints(valid)
			return nil, fmt.Errorf("logRetentionDays: got %d, want one of %v", *days, valid)
		}
		p.LogRetention = r
	}
	return p, p.Validate()
}

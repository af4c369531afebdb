package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// newAlarms sends a notification to an SNS topic (and email, when set)
// when a function fails or is throttled, an API (the HTTP APIs, and the
// registry's when not nil) answers 5xx, or DynamoDB throttles the table or
// its index, each at least once in 5 minutes.
func newAlarms(stack awscdk.Stack, email string, functions map[string]awslambda.IFunction, apis []awsapigatewayv2.HttpApi, registry awsapigateway.RestApi, table awsdynamodb.TableV2) {
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
		// An authorizer answers every refused key with the function
		// error "Unauthorized" (API Gateway's 401): its errors are
		// callers', not failures. Its failures are the key API's 500s,
		// which the key API's 5xx alarm sees.
		if !routes.IsAuthorizer(name) {
			alarm(id+"ErrorsAlarm", fn.MetricErrors(sum),
				name+" returned a function error at least once in 5 minutes ("+what+")")
		}
		alarm(id+"ThrottlesAlarm", fn.MetricThrottles(sum),
			name+" was throttled at least once in 5 minutes")
	}
	for i, api := range apis {
		// The first is the events API, whose alarm keeps its id.
		id, what := "Api5xxAlarm", "The HTTP API"
		if i > 0 {
			id, what = *api.Node().Id()+"5xxAlarm", "The HTTP API "+*api.Node().Id()+" (its authorizer's failures included)"
		}
		alarm(id, api.MetricServerError(sum), what+" answered 5xx at least once in 5 minutes")
	}
	if registry != nil {
		alarm("RegistryApi5xxAlarm", registry.MetricServerError(sum),
			"The registry API answered 5xx at least once in 5 minutes")
	}

	// Throttling of the table and of its indexes; a throttled index write
	// also throttles the table write that caused it.
	dynamo := func(metric, index string) awscloudwatch.Metric {
		dims := map[string]*string{"TableName": table.TableName()}
		if index != "" {
			dims["GlobalSecondaryIndexName"] = jsii.String(index)
		}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/DynamoDB"),
			MetricName:    jsii.String(metric),
			DimensionsMap: &dims,
			Period:        period,
			Statistic:     jsii.String("Sum"),
		})
	}
	metrics := map[string]awscloudwatch.IMetric{
		"tr": dynamo("ReadThrottleEvents", ""),
		"tw": dynamo("WriteThrottleEvents", ""),
	}
	terms := []string{"FILL(tr, 0)", "FILL(tw, 0)"}
	for i, gsi := range eventstore.CreateTableInput("events").GlobalSecondaryIndexes {
		r, w := fmt.Sprintf("ir%d", i), fmt.Sprintf("iw%d", i)
		metrics[r], metrics[w] = dynamo("ReadThrottleEvents", *gsi.IndexName), dynamo("WriteThrottleEvents", *gsi.IndexName)
		terms = append(terms, "FILL("+r+", 0)", "FILL("+w+", 0)")
	}
	throttles := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(strings.Join(terms, " + ")),
		UsingMetrics: &metrics,
		Label:        jsii.String("DynamoDB throttle events"),
		Period:       period,
	})
	alarm("TableThrottlesAlarm", throttles,
		"DynamoDB throttled reads or writes of the events table or one of its indexes at least once in 5 minutes")
}

// Command deprecated uses a deprecated CDK prop, for TestNoDeprecatedAPIs
// to find.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Old"), nil)
	awsdynamodb.NewTableV2(stack, jsii.String("Table"), &awsdynamodb.TablePropsV2{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		PointInTimeRecovery: jsii.Bool(true),
	})
}

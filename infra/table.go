package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

// TableLogicalID is the table's stable logical id, so that SAM users and
// CloudFormation drift tools can name it.
const TableLogicalID = "EventsTable"

// tableConfig is what newTable builds the table from.
type tableConfig struct {
	deletionProtection bool
	// maxRead and maxWrite cap the on-demand throughput of the table and
	// of its index, in request units a second; 0 is no cap.
	maxRead, maxWrite int
}

// newTable builds the events table from eventstore's names, as the local
// tools build DynamoDB Local's (eventstore.CreateTableInput). It has no
// stream: nothing consumes one (a second replica would need one, of new
// and old images).
func newTable(stack awscdk.Stack, c tableConfig) awsdynamodb.TableV2 {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	// The indexes get the table's caps: reads through an index are not
	// counted against the table's, and a write updates the indexes too.
	caps := &awsdynamodb.MaxThroughputProps{
		MaxReadRequestUnits:  optionalNumber(c.maxRead),
		MaxWriteRequestUnits: optionalNumber(c.maxWrite),
	}
	// The indexes are eventstore.CreateTableInput's, the definition the
	// local tools create DynamoDB Local's table from: every one a string
	// partition and sort key, projecting every attribute.
	var indexes []*awsdynamodb.GlobalSecondaryIndexPropsV2
	for _, gsi := range eventstore.CreateTableInput("events").GlobalSecondaryIndexes {
		keys := map[types.KeyType]string{}
		for _, k := range gsi.KeySchema {
			keys[k.KeyType] = *k.AttributeName
		}
		if gsi.Projection.ProjectionType != types.ProjectionTypeAll || len(keys) != 2 {
			panic("infra: index " + *gsi.IndexName + " is not a string key pair projecting every attribute")
		}
		indexes = append(indexes, &awsdynamodb.GlobalSecondaryIndexPropsV2{
			IndexName:            gsi.IndexName,
			PartitionKey:         str(keys[types.KeyTypeHash]),
			SortKey:              str(keys[types.KeyTypeRange]),
			ProjectionType:       awsdynamodb.ProjectionType_ALL,
			MaxReadRequestUnits:  caps.MaxReadRequestUnits,
			MaxWriteRequestUnits: caps.MaxWriteRequestUnits,
		})
	}
	table := awsdynamodb.NewTableV2(stack, jsii.String(TableLogicalID), &awsdynamodb.TablePropsV2{
		PartitionKey:           str(eventstore.PartitionKey),
		SortKey:                str(eventstore.SortKey),
		Billing:                awsdynamodb.Billing_OnDemand(caps),
		GlobalSecondaryIndexes: &indexes,
		TimeToLiveAttribute:    jsii.String(eventstore.ExpiryAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(c.deletionProtection),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	table.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(TableLogicalID))
	return table
}

// optionalNumber is n for a jsii prop, or nil (unset) for 0.
func optionalNumber(n int) *float64 {
	if n == 0 {
		return nil
	}
	return jsii.Number(n)
}

// indexArn is the ARN of an index of the table, which IAM treats as a
// resource of its own: table actions do not cover it.
func indexArn(table awsdynamodb.TableV2, index string) string {
	return *table.TableArn() + "/index/" + index
}

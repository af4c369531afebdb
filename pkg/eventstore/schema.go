package eventstore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's shape. The CDK stack and the local tooling both build the table
// from these names, so the two cannot drift apart.
const (
	// PartitionKey and SortKey are the table's key attributes (strings).
	PartitionKey = "pk"
	SortKey      = "sk"
	// TypeIndex is the global secondary index behind GET /events?type=.
	// Its partition key is TypeIndexKey ("<type>#<shard>"), its sort key the
	// table's sort key (the event id), and it projects every attribute.
	TypeIndex    = "byType"
	TypeIndexKey = "gpk"
	// DeviceAlarmIndex and FleetAlarmIndex are the sparse indexes of the
	// events of severity warning and above: partition keys
	// DeviceAlarmIndexKey ("<device>#<o|c>": open or closed) and
	// FleetAlarmIndexKey ("<o|c>#<index shard>"), sort key the event id,
	// every attribute projected. Events below warning carry neither key
	// and cost these indexes nothing.
	DeviceAlarmIndex    = "byDeviceAlarm"
	DeviceAlarmIndexKey = "dapk"
	FleetAlarmIndex     = "byFleetAlarm"
	FleetAlarmIndexKey  = "fapk"
	// ExpiryAttribute holds the epoch second after which DynamoDB's TTL
	// removes an event (its time plus the retention).
	ExpiryAttribute = "expiresAt"
)

// CreateTableInput is the table definition for DynamoDB Local and tests:
// on-demand, with the type index and the alarm indexes, as the stack deploys
// it (no stream: nothing consumes one). TTL is set separately
// (UpdateTimeToLive).
func CreateTableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(SortKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(TypeIndexKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(DeviceAlarmIndexKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(FleetAlarmIndexKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(SortKey), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(TypeIndex, TypeIndexKey),
			index(DeviceAlarmIndex, DeviceAlarmIndexKey),
			index(FleetAlarmIndex, FleetAlarmIndexKey),
		},
	}
}

// index is a global secondary index on partitionKey and the event id that
// projects every attribute.
func index(name, partitionKey string) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(partitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(SortKey), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	}
}

// TimeToLiveInput turns on TTL on ExpiryAttribute.
func TimeToLiveInput(table string) *dynamodb.UpdateTimeToLiveInput {
	return &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(ExpiryAttribute),
			Enabled:       aws.Bool(true),
		},
	}
}

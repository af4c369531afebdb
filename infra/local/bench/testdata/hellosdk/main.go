// Command hellosdk is hello world with a DynamoDB client: at start it builds
// the client, and each invoke makes one TransactWriteItems call, which is
// the least any function of the API does (see coldstart_test.go).
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func main() {
	db := dynamodb.NewFromConfig(aws.Config{
		Region:      os.Getenv("AWS_REGION"),
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
	}, func(o *dynamodb.Options) {
		if e := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	table := os.Getenv("TABLE_NAME")
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (string, error) {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
			Put: &types.Put{TableName: &table, Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "D#hello"}, "sk": &types.AttributeValueMemberS{Value: "1"},
			}},
		}}})
		return "hello", err
	})
}

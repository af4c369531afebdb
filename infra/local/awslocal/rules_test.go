package awslocal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
)

// maxItemSize is DynamoDB's item size limit: an item of 400 KB is
// accepted, one byte more is refused.
const maxItemSize = 400 * 1024

// sizedItem is an item of partition pk that DynamoDB sizes at exactly
// size bytes: attribute names and string values count their UTF-8 bytes.
func sizedItem(pk, sk string, size int) map[string]types.AttributeValue {
	pad := size - len("pk") - len(pk) - len("sk") - len(sk) - len("p")
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk), "p": str(strings.Repeat("x", pad))}
}

// TestDynamoDBRulesHoldThroughTheServer makes, through the server, the
// calls DynamoDB refuses for its limits, each next to the largest call it
// accepts. DynamoDB Local enforces these rules and the server forwards the
// calls, so this holds the pinned DynamoDB Local to them.
func TestDynamoDBRulesHoldThroughTheServer(t *testing.T) {
	ctx := context.Background()
	table := ddbtest.Table(t, ddbtest.Client(t), tableDef)
	admin := principal("admin", allow(TableARN(DefaultRegion, DefaultAccountID, table), "dynamodb:*"))
	srv := serve(t, Options{}, admin)
	c := client(t, srv.URL, admin)

	put := func(pk, sk string, size int) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: sizedItem(pk, sk, size)}}
	}
	puts := func(pk string, n, size int) []types.TransactWriteItem {
		items := make([]types.TransactWriteItem, n)
		for i := range items {
			items[i] = put(pk, fmt.Sprint(i), size)
		}
		return items
	}
	transact := func(items []types.TransactWriteItem) error {
		_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		return err
	}
	batchWrite := func(pk string, n int) error {
		reqs := make([]types.WriteRequest, n)
		for i := range reqs {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: sizedItem(pk, fmt.Sprint(i), 100)}}
		}
		_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
		return err
	}
	batchGet := func(n int) error {
		keys := make([]map[string]types.AttributeValue, n)
		for i := range keys {
			keys[i] = map[string]types.AttributeValue{"pk": str("get"), "sk": str(fmt.Sprint(i))}
		}
		_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: {Keys: keys}}})
		return err
	}

	cases := []struct {
		name string
		// pk is the partition the call writes to; wantItems how many items
		// it holds afterwards.
		pk        string
		call      func(pk string) error
		wantItems int32
		// wantMessage, for a refused call, is DynamoDB's message (or its
		// start): the code is always ValidationException.
		wantMessage string
	}{
		{name: "a transaction of 100 actions passes", pk: "tx100",
			call: func(pk string) error { return transact(puts(pk, 100, 50)) }, wantItems: 100},
		{name: "a transaction of 101 actions is refused", pk: "tx101",
			call:        func(pk string) error { return transact(puts(pk, 101, 50)) },
			wantMessage: "Member must have length less than or equal to 100"},
		{name: "a transaction writing one item twice is refused", pk: "twice",
			call:        func(pk string) error { return transact([]types.TransactWriteItem{put(pk, "1", 50), put(pk, "1", 60)}) },
			wantMessage: "Transaction request cannot include multiple operations on one item"},
		{name: "a transaction checking and deleting one item is refused", pk: "check-delete",
			call: func(pk string) error {
				key := map[string]types.AttributeValue{"pk": str(pk), "sk": str("1")}
				return transact([]types.TransactWriteItem{put(pk, "0", 50),
					{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: key, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
					{Delete: &types.Delete{TableName: &table, Key: key}},
				})
			},
			wantMessage: "Transaction request cannot include multiple operations on one item"},
		{name: "a transaction of 3.9 MB passes", pk: "tx3.9MB",
			call: func(pk string) error { return transact(puts(pk, 10, 390*1024)) }, wantItems: 10},
		{name: "a transaction of 4.3 MB is refused", pk: "tx4.3MB",
			call:        func(pk string) error { return transact(puts(pk, 11, 390*1024)) },
			wantMessage: "Transaction payload size cannot exceed 4MB"},
		{name: "a PutItem of a 400 KB item passes", pk: "put400KB",
			call: func(pk string) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: sizedItem(pk, "1", maxItemSize)})
				return err
			}, wantItems: 1},
		{name: "a PutItem of an item one byte over 400 KB is refused", pk: "put400KB+1",
			call: func(pk string) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: sizedItem(pk, "1", maxItemSize+1)})
				return err
			},
			wantMessage: "Item size has exceeded the maximum allowed size"},
		{name: "a transaction's Put of a 400 KB item passes", pk: "txput400KB",
			call: func(pk string) error { return transact([]types.TransactWriteItem{put(pk, "1", maxItemSize)}) }, wantItems: 1},
		{name: "a transaction's Put of an item one byte over 400 KB is refused", pk: "txput400KB+1",
			call:        func(pk string) error { return transact([]types.TransactWriteItem{put(pk, "1", maxItemSize+1)}) },
			wantMessage: "Item size has exceeded the maximum allowed size"},
		{name: "a BatchWriteItem of 25 requests passes", pk: "batch25",
			call: func(pk string) error { return batchWrite(pk, 25) }, wantItems: 25},
		{name: "a BatchWriteItem of 26 requests is refused", pk: "batch26",
			call:        func(pk string) error { return batchWrite(pk, 26) },
			wantMessage: "Too many items requested for the BatchWriteItem call"},
		{name: "a BatchGetItem of 100 keys passes",
			call: func(string) error { return batchGet(100) }},
		{name: "a BatchGetItem of 101 keys is refused",
			call:        func(string) error { return batchGet(101) },
			wantMessage: "Too many items requested for the BatchGetItem call"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.pk)
			if tc.wantMessage == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
			} else {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.HasPrefix(ae.ErrorMessage(), tc.wantMessage) {
					t.Fatalf("got %v, want ValidationException: %s", err, tc.wantMessage)
				}
			}
			if tc.pk != "" {
				if n := itemsUnder(t, table, tc.pk); n != tc.wantItems {
					t.Errorf("got %d items under %s, want %d", n, tc.pk, tc.wantItems)
				}
			}
		})
	}
}

// Package ddbtest gives tests a real DynamoDB Local and fresh tables in it.
//
// Tests use $DYNAMODB_ENDPOINT when it is set (make test starts one
// DynamoDB Local for the whole run), and otherwise start one per test
// binary. A test that cannot get one fails: it never skips.
package ddbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
)

var (
	once     sync.Once
	endpoint string
	inst     *dynamodblocal.Instance
	startErr error
)

// Main runs the tests of a package and stops the DynamoDB Local it started,
// if any. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	inst.Stop()
	os.Exit(code)
}

// Endpoint returns the URL of a running DynamoDB Local.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if endpoint = os.Getenv("DYNAMODB_ENDPOINT"); endpoint != "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		inst, startErr = dynamodblocal.Start(ctx, dynamodblocal.Options{})
		if startErr == nil {
			endpoint = inst.Endpoint
		}
	})
	if startErr != nil {
		tb.Fatalf("DynamoDB Local is needed and could not be started: %v", startErr)
	}
	return endpoint
}

// Client returns an SDK client for the test DynamoDB Local.
func Client(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	c, err := dynamodblocal.Client(context.Background(), Endpoint(tb))
	if err != nil {
		tb.Fatalf("DynamoDB Local client: %v", err)
	}
	return c
}

// Table creates a fresh table from def and drops it when the test ends.
func Table(tb testing.TB, client *dynamodb.Client, def dynamodblocal.TableDefinition) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := fmt.Sprintf("events-test-%s", hex.EncodeToString(b))
	ctx := context.Background()
	if err := dynamodblocal.CreateTable(ctx, client, def, name); err != nil {
		tb.Fatalf("DynamoDB Local at %s: %v", Endpoint(tb), err)
	}
	tb.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

package awslocal

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// tableDef is the events table, as the stack deploys it.
var tableDef = dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput}

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// endpoint is a Server in front of the test DynamoDB Local.
type endpoint struct {
	*Server
	URL string
	Log *syncBuffer
}

// serve starts a server for these principals (and opts' secrets), ended
// with the test.
func serve(tb testing.TB, opts Options, principals ...Principal) *endpoint {
	tb.Helper()
	opts.DynamoDB = ddbtest.Endpoint(tb)
	opts.Principals = map[string]Principal{}
	for _, p := range principals {
		opts.Principals[p.AccessKeyID] = p
	}
	log := &syncBuffer{}
	opts.Log = log
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	tb.Cleanup(hs.Close)
	return &endpoint{Server: s, URL: hs.URL, Log: log}
}

// client is a DynamoDB client of p's for url.
func client(tb testing.TB, url string, p Principal, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	c, err := dynamodblocal.Client(context.Background(), url, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")
	}}, optFns...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// principal is a test role with these statements.
func principal(name string, allow ...Statement) Principal {
	p := PrincipalFor(name, routes.Access{}, Resources{}, "", "")
	p.Allow = allow
	return p
}

// errorCode is the AWS error code of err, or "" when it is none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// itemsUnder counts the items of partition pk, read straight from
// DynamoDB Local.
func itemsUnder(tb testing.TB, table, pk string) int32 {
	tb.Helper()
	pages := dynamodb.NewQueryPaginator(ddbtest.Client(tb), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		Select:                    types.SelectCount,
		ConsistentRead:            aws.Bool(true),
	})
	var n int32
	for pages.HasMorePages() {
		// A page reads 1 MB at most, counted or not.
		out, err := pages.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("count items under %s: %v", pk, err)
		}
		n += out.Count
	}
	return n
}

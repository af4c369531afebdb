package handlers

import (
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/apigw/apigwtest"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/routes"
)

// stubDynamoDB answers every call the store makes with an empty success:
// the benchmark counts the allocations of our code, not the SDK's.
type stubDynamoDB struct{}

func (stubDynamoDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (stubDynamoDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}

func (stubDynamoDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, nil
}

func (stubDynamoDB) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func (stubDynamoDB) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}

func (stubDynamoDB) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return &dynamodb.BatchGetItemOutput{}, nil
}

func (stubDynamoDB) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// BenchmarkPutHandler runs put-event's handler on a typical DeLaval event
// over HTTP API, with DynamoDB stubbed: decoding the API Gateway event and
// the body, validation, the store's items and transaction, and the JSON
// answer. Allocations per operation are the figure to watch (times on a
// shared machine are not).
func BenchmarkPutHandler(b *testing.B) {
	f, err := New(routes.PutEvent, Deps{Store: eventstore.New(stubDynamoDB{}, "events", eventstore.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	payload := apigwtest.DelavalPut(b)
	ctx := context.Background()
	out, err := apigw.Invoke(ctx, f, payload)
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != 201 {
		b.Fatalf("Invoke: %+v, %v; want a 201", out, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := apigw.Invoke(ctx, f, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut6MBBody measures the CPU time put-event's handler spends
// refusing a body of about 6 MB (what a Lambda payload can carry), from
// the API Gateway event to the 413, for the body shapes that once cost
// seconds to decode: one event whose data is 6 MB of small numbers, of
// small objects, or of one string of '<', each just under MaxBody; and a
// body over MaxBody. cpu-ms/op is the worst shape's mean CPU time (user
// and system, every thread: the garbage collector's work counts), which a
// busy machine stretches less than wall time.
func BenchmarkPut6MBBody(b *testing.B) {
	f, err := New(routes.PutEvent, Deps{Store: eventstore.New(stubDynamoDB{}, "events", eventstore.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	event := func(data string) string { return `{"type":"door","data":{"d":` + data + `}}` }
	under := MaxBody - 1024
	shapes := map[string]string{
		"numbers": event("[" + strings.Repeat("1,", under/2) + "1]"),
		"objects": event("[" + strings.Repeat(`{"a":1},`, under/8) + "1]"),
		"string":  event(`"` + strings.Repeat("<", under) + `"`),
		"over":    event(`"` + strings.Repeat("x", 6<<20) + `"`),
	}
	payloads := map[string][]byte{}
	for name, body := range shapes {
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(apigwtest.DelavalPut(b), &e); err != nil {
			b.Fatal(err)
		}
		e.Body = body
		p, err := jsonbody.Marshal(e) // as API Gateway sends it: '<' unescaped
		if err != nil {
			b.Fatal(err)
		}
		payloads[name] = p
	}
	ctx := context.Background()
	cpu := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for name, p := range payloads {
			start := cpuTime(b)
			out, err := apigw.Invoke(ctx, f, p)
			cpu[name] += cpuTime(b) - start
			if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != 413 {
				b.Fatalf("%s: %+v, %v; want a 413", name, resp.StatusCode, err)
			}
		}
	}
	b.StopTimer()
	worst := time.Duration(0)
	for name, d := range cpu {
		b.ReportMetric(float64(d)/float64(b.N)/1e6, name+"-cpu-ms/op")
		worst = max(worst, d)
	}
	b.ReportMetric(float64(worst)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// client is an instrumented DynamoDB client of the test DynamoDB Local.
func client(t *testing.T) *dynamodb.Client {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.TracerProvider = TracerProvider()
		o.BaseEndpoint = aws.String(ddbtest.Endpoint(t))
		o.DisableValidateResponseChecksum = true
	})
}

const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

func TestSDKCallsBecomeSubsegmentsOfTheFunctionsTrace(t *testing.T) {
	daemon, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.LocalAddr().String())
	if err := SetupXRay(); err != nil {
		t.Fatal(err)
	}
	ctx := StartTrace(context.WithValue(context.Background(), "x-amzn-trace-id", header))
	_, _ = client(t).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("no-such-table")})

	buf := make([]byte, 64<<10)
	n, _, err := daemon.ReadFrom(buf) // the span was sent before DescribeTable returned, and is the only one
	if err != nil {
		t.Fatal(err)
	}
	first, doc, ok := strings.Cut(string(buf[:n]), "\n")
	if !ok || first != strings.TrimSpace(daemonHeader) {
		t.Fatalf("datagram %q does not start with the daemon header", buf[:n])
	}
	var seg struct {
		Name      string         `json:"name"`
		TraceID   string         `json:"trace_id"`
		ParentID  string         `json:"parent_id"`
		Type      string         `json:"type"`
		Namespace string         `json:"namespace"`
		AWS       map[string]any `json:"aws"`
		Error     bool           `json:"error"`
	}
	if err := json.Unmarshal([]byte(doc), &seg); err != nil {
		t.Fatalf("subsegment %s: %v", doc, err)
	}
	if seg.Name != "DynamoDB" || seg.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || seg.ParentID != "53995c3f42cd8ad8" ||
		seg.Type != "subsegment" || seg.Namespace != "aws" || seg.AWS["operation"] != "DescribeTable" || !seg.Error {
		t.Fatalf("subsegment %s", doc)
	}
}

func TestUnsampledTracesSendNothing(t *testing.T) {
	var sent bytes.Buffer
	InstallXRay(&sent)
	c := client(t)
	for _, ctx := range []context.Context{
		context.Background(), // no Lambda trace: a local run
		StartTrace(context.WithValue(context.Background(), "x-amzn-trace-id", strings.Replace(header, "Sampled=1", "Sampled=0", 1))),
	} {
		_, _ = c.ListTables(ctx, &dynamodb.ListTablesInput{})
	}
	if sent.Len() != 0 {
		t.Fatalf("unsampled calls sent %q", sent.String())
	}
	_, _ = c.ListTables(StartTrace(context.WithValue(context.Background(), "x-amzn-trace-id", header)), &dynamodb.ListTablesInput{})
	if !strings.Contains(sent.String(), `"operation":"ListTables"`) {
		t.Fatalf("a sampled call sent %q", sent.String())
	}
}

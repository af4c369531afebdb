package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

func TestTraceHeaders(t *testing.T) {
	const root, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
	cases := []struct {
		name, header string
		sampled      bool
	}{
		{"Lambda's sampled header is traced", "Root=" + root + ";Parent=" + parent + ";Sampled=1", true},
		{"fields after Sampled, such as Lineage, are ignored", "Root=" + root + ";Parent=" + parent + ";Sampled=1;Lineage=a87bd80c:1|68fd508a:5", true},
		{"fields in another order are read", "Sampled=1;Parent=" + parent + ";Root=" + root, true},
		{"an unsampled header is not traced", "Root=" + root + ";Parent=" + parent + ";Sampled=0", false},
		{"a header without Sampled is not traced", "Root=" + root + ";Parent=" + parent, false},
		{"a sampling decision deferred is not traced", "Root=" + root + ";Parent=" + parent + ";Sampled=?", false},
		{"a header without Parent is not traced", "Root=" + root + ";Sampled=1", false},
		{"a root of another version is not traced", "Root=2" + root[1:] + ";Parent=" + parent + ";Sampled=1", false},
		{"a root one digit short is not traced", "Root=" + root[:34] + ";Parent=" + parent + ";Sampled=1", false},
		{"a root in upper case is not traced", "Root=" + strings.ToUpper(root) + ";Parent=" + parent + ";Sampled=1", false},
		{"a root of zeros is not traced", "Root=1-00000000-000000000000000000000000;Parent=" + parent + ";Sampled=1", false},
		{"a parent of zeros is not traced", "Root=" + root + ";Parent=0000000000000000;Sampled=1", false},
		{"a parent that is not hex is not traced", "Root=" + root + ";Parent=53995c3f42cd8adz;Sampled=1", false},
		{"a field without a value is not traced", "Root=" + root + ";Parent=" + parent + ";Sampled=1;Self", false},
		{"no header is not traced", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, ok := parseTraceHeader(tc.header)
			if ok != tc.sampled {
				t.Fatalf("parseTraceHeader(%q) traced: got %v, want %v", tc.header, ok, tc.sampled)
			}
			if ok && (tr.root != root || tr.parent != parent) {
				t.Fatalf("parseTraceHeader(%q): got root %s parent %s, want %s %s", tc.header, tr.root, tr.parent, root, parent)
			}
		})
	}
}

// TestSubsegmentsSayHowCallsFailed runs calls that DynamoDB answers in
// each way a call ends (a fake DynamoDB: DynamoDB Local does not throttle)
// and reads the subsegment each sent.
func TestSubsegmentsSayHowCallsFailed(t *testing.T) {
	cases := []struct {
		name                   string
		status                 int
		code                   string
		error, fault, throttle bool
	}{
		{name: "a success is neither error nor fault", status: 200},
		{name: "a client error is an error", status: 400, code: "ResourceNotFoundException", error: true},
		{name: "throttling is an error and a throttle", status: 400, code: "ThrottlingException", error: true, throttle: true},
		{name: "throughput exceeded is an error and a throttle", status: 400, code: "ProvisionedThroughputExceededException", error: true, throttle: true},
		{name: "a server error is a fault", status: 500, code: "InternalServerError", fault: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.Header().Set("X-Amzn-Requestid", "REQ-"+tc.name)
				w.WriteHeader(tc.status)
				if tc.code != "" {
					fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected"}`, tc.code)
					return
				}
				fmt.Fprint(w, `{"TableNames":[]}`)
			}))
			defer srv.Close()
			var sent bytes.Buffer
			InstallXRay(&sent)
			c := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
				Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), TracerProvider: TracerProvider()})
			_, _ = c.ListTables(StartTrace(context.WithValue(context.Background(), "x-amzn-trace-id", header)), &dynamodb.ListTablesInput{})

			docs := strings.Split(strings.TrimSpace(sent.String()), strings.TrimSpace(daemonHeader)+"\n")
			if len(docs) != 2 || docs[0] != "" {
				t.Fatalf("sent %q, want one document after the daemon header", sent.String())
			}
			var seg struct {
				ID                     string            `json:"id"`
				AWS                    map[string]string `json:"aws"`
				Error, Fault, Throttle bool
				StartTime              float64 `json:"start_time"`
				EndTime                float64 `json:"end_time"`
			}
			if err := json.Unmarshal([]byte(docs[1]), &seg); err != nil {
				t.Fatal(err)
			}
			if seg.Error != tc.error || seg.Fault != tc.fault || seg.Throttle != tc.throttle {
				t.Errorf("error, fault, throttle: got %v %v %v, want %v %v %v (%s)", seg.Error, seg.Fault, seg.Throttle, tc.error, tc.fault, tc.throttle, docs[1])
			}
			if seg.AWS["request_id"] != "REQ-"+tc.name || seg.AWS["operation"] != "ListTables" {
				t.Errorf("aws: got %v, want the operation ListTables and the request id REQ-%s", seg.AWS, tc.name)
			}
			if len(seg.ID) != 16 || !nonzeroHex(seg.ID) {
				t.Errorf("id: got %q, want 16 hex digits, not all zero", seg.ID)
			}
			if seg.StartTime <= 0 || seg.EndTime < seg.StartTime {
				t.Errorf("times: got %f to %f, want a start and an end after it", seg.StartTime, seg.EndTime)
			}
		})
	}
}

package telemetry

// X-Ray: a function's AWS SDK calls go into its Lambda X-Ray trace as
// subsegments, through OpenTelemetry.
//
// OpenTelemetry rather than the X-Ray SDK for Go: the X-Ray SDKs are in
// maintenance since February 2026 and lose support in February 2027 (AWS
// points to OpenTelemetry), and the Go one links aws-sdk-go v1. The SDK
// calls are traced by the SDK itself (its clients' TracerProvider option),
// handed to OpenTelemetry by smithy-go's own adapter, smithyoteltracing; the
// contrib otelaws middleware was deprecated in September 2026 for want of an
// owner. Ids and the trace header follow X-Ray's formats through the contrib
// X-Ray propagator and id generator. What is not taken from OpenTelemetry is the
// exporter: the OTLP exporters link gRPC and protobuf (6.6 MB more per
// binary) and need the ADOT collector layer. Lambda already runs an X-Ray
// daemon next to a function with active tracing, so spans go to it as X-Ray
// subsegment documents over UDP (the daemon protocol), from the small
// exporter below.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/aws/smithy-go/tracing"
	"github.com/aws/smithy-go/tracing/smithyoteltracing"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SetupXRay installs the tracer provider when the function runs with active
// tracing (Lambda then sets AWS_XRAY_DAEMON_ADDRESS); otherwise tracing
// stays OpenTelemetry's no-op and costs nothing. It opens a UDP socket and
// sends nothing.
func SetupXRay() error {
	addr := os.Getenv("AWS_XRAY_DAEMON_ADDRESS")
	if addr == "" {
		return nil
	}
	if i := strings.IndexByte(addr, ' '); i >= 0 { // "tcp:… udp:…" form: the UDP one
		for _, part := range strings.Fields(addr) {
			if a, ok := strings.CutPrefix(part, "udp:"); ok {
				addr = a
			}
		}
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("X-Ray daemon at %s: %w", addr, err)
	}
	InstallXRay(conn)
	return nil
}

// InstallXRay makes spans of sampled traces go to w, one X-Ray subsegment
// document each. Spans are exported as they end: a Lambda function may be
// frozen as soon as it answers, so nothing is kept for later.
func InstallXRay(w io.Writer) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(&exporter{w: w})),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(xray.Propagator{})
}

// TracerProvider is what an SDK client's TracerProvider option takes: the
// SDK's spans, as OpenTelemetry spans of the provider SetupXRay installed (a
// no-op one until then, and without active tracing).
func TracerProvider() tracing.TracerProvider {
	return smithyoteltracing.Adapt(otel.GetTracerProvider())
}

// StartTrace joins ctx to the invocation's X-Ray trace, whose header
// aws-lambda-go puts in the context: the SDK calls made with the context
// become subsegments of the function's segment, sampled as Lambda decided.
func StartTrace(ctx context.Context) context.Context {
	header, _ := ctx.Value("x-amzn-trace-id").(string)
	if header == "" {
		return ctx
	}
	return xray.Propagator{}.Extract(ctx, propagation.MapCarrier{"X-Amzn-Trace-Id": header})
}

// exporter writes spans as X-Ray subsegment documents.
type exporter struct {
	mu sync.Mutex
	w  io.Writer
}

// daemonHeader starts every document sent to the X-Ray daemon.
const daemonHeader = "{\"format\": \"json\", \"version\": 1}\n"

func (e *exporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		if !isOperation(s) {
			continue // the SDK's inner spans (serialise, sign, attempt…)
		}
		doc, err := json.Marshal(subsegment(s))
		if err != nil {
			return err
		}
		if _, err := e.w.Write(append([]byte(daemonHeader), doc...)); err != nil {
			return err
		}
	}
	return nil
}

func (e *exporter) Shutdown(context.Context) error { return nil }

// isOperation tells an SDK operation's span (DynamoDB.PutItem) from the
// spans the SDK opens inside it.
func isOperation(s sdktrace.ReadOnlySpan) bool {
	for _, kv := range s.Attributes() {
		if kv.Key == "rpc.system" {
			return kv.Value.AsString() == "aws-api"
		}
	}
	return false
}

// subsegment is the X-Ray document of one AWS SDK call's span.
func subsegment(s sdktrace.ReadOnlySpan) map[string]any {
	sc := s.SpanContext()
	tid := sc.TraceID().String()
	doc := map[string]any{
		"id":         sc.SpanID().String(),
		"trace_id":   "1-" + tid[:8] + "-" + tid[8:],
		"parent_id":  s.Parent().SpanID().String(),
		"start_time": float64(s.StartTime().UnixNano()) / 1e9,
		"end_time":   float64(s.EndTime().UnixNano()) / 1e9,
		"type":       "subsegment",
		"namespace":  "aws",
	}
	awsInfo := map[string]any{}
	fault, code := "", ""
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case "rpc.service":
			doc["name"] = kv.Value.AsString()
		case "rpc.method":
			awsInfo["operation"] = kv.Value.AsString()
		case "aws.request_id":
			awsInfo["request_id"] = kv.Value.AsString()
		case "api.error_fault":
			fault = kv.Value.AsString()
		case "api.error_code":
			code = kv.Value.AsString()
		}
	}
	doc["aws"] = awsInfo
	if s.Status().Code == codes.Error || fault != "" {
		switch {
		case strings.Contains(code, "Throttl") || code == "ProvisionedThroughputExceededException" || code == "RequestLimitExceeded":
			doc["throttle"], doc["error"] = true, true
		case fault == "client":
			doc["error"] = true
		default:
			doc["fault"] = true
		}
	}
	return doc
}

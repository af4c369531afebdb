package telemetry

// X-Ray: a function's AWS SDK calls go into its Lambda X-Ray trace as
// subsegments.
//
// The AWS SDK traces its own calls: a client's TracerProvider option takes
// smithy-go's small tracing interface, and each operation opens a span
// named for it (DynamoDB.TransactWriteItems) with the service, the
// operation, the request id and the error's code and fault as properties.
// Lambda runs an X-Ray daemon beside a function with active tracing and
// gives it the invocation's trace header. So the provider below is all
// tracing needs: it turns each operation span of a sampled invocation into
// an X-Ray subsegment of the function's segment and sends it to the daemon
// over UDP (the daemon protocol) as the span ends, since a Lambda function
// may be frozen as soon as it answers.
//
// Not the X-Ray SDK for Go: it is in maintenance since February 2026 and
// loses support in February 2027, and it links aws-sdk-go v1. Not
// OpenTelemetry either, which AWS points to instead: its SDK, smithy-go's
// adapter and the X-Ray propagator cost 0.66 MB and 0.17 ms of package
// init in every binary, and its OTLP exporters 6.6 MB more and the ADOT
// collector layer, to carry spans of one library whose document format
// (a dozen fields) and trace header (three) are small and stable. Spans of
// other libraries would need an exporter of their own; there are none.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/tracing"
)

// daemon is where subsegments go; nil (the default, and without active
// tracing) sends nothing. It is the process's one X-Ray daemon, set at
// start by SetupXRay.
var daemon atomic.Pointer[sink]

// sink serialises writes: each subsegment is one write, one datagram.
type sink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *sink) send(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(doc) // a daemon that is not there loses the trace, not the request
}

// SetupXRay sends subsegments to the X-Ray daemon when the function runs
// with active tracing (Lambda then sets AWS_XRAY_DAEMON_ADDRESS);
// otherwise tracing stays off and costs nothing. It opens a UDP socket and
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

// InstallXRay makes the operation spans of sampled traces go to w, one
// X-Ray subsegment document each.
func InstallXRay(w io.Writer) {
	daemon.Store(&sink{w: w})
}

// TracerProvider is what an SDK client's TracerProvider option takes: its
// operations become subsegments once SetupXRay found a daemon, when the
// context carries a sampled trace (StartTrace).
func TracerProvider() tracing.TracerProvider { return provider{} }

type provider struct{}

func (provider) Tracer(string, ...tracing.TracerOption) tracing.Tracer { return tracer{} }

// traceKey holds the invocation's trace in a context.
type traceKey struct{}

// trace is a sampled invocation's X-Ray trace: its id and the function's
// segment, the parent of the subsegments.
type trace struct{ root, parent string }

// StartTrace joins ctx to the invocation's X-Ray trace, whose header
// aws-lambda-go puts in the context (and in _X_AMZN_TRACE_ID): the SDK calls
// made with the context become subsegments of the function's segment,
// sampled as Lambda decided.
func StartTrace(ctx context.Context) context.Context {
	header, _ := ctx.Value("x-amzn-trace-id").(string)
	if t, ok := parseTraceHeader(header); ok {
		return context.WithValue(ctx, traceKey{}, t)
	}
	return ctx
}

// parseTraceHeader reads "Root=1-5759e988-bd862e3fe1be46a994272793;
// Parent=53995c3f42cd8ad8;Sampled=1" (other fields, such as Lineage, are
// ignored), and reports whether it names a sampled trace and a parent. It
// takes what OpenTelemetry's X-Ray propagator took: a root of version 1
// with a nonzero id and a nonzero parent, in lower-case hex.
func parseTraceHeader(h string) (trace, bool) {
	var t trace
	sampled := false
	for part := range strings.SplitSeq(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return trace{}, false
		}
		switch k {
		case "Root":
			t.root = v
		case "Parent":
			t.parent = v
		case "Sampled":
			sampled = v == "1"
		}
	}
	validRoot := len(t.root) == 35 && strings.HasPrefix(t.root, "1-") && t.root[10] == '-' && nonzeroHex(t.root[2:10]+t.root[11:])
	return t, sampled && validRoot && len(t.parent) == 16 && nonzeroHex(t.parent)
}

// nonzeroHex reports whether s is lower-case hex and not all zeros.
func nonzeroHex(s string) bool {
	nonzero := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '0':
		case '1' <= c && c <= '9', 'a' <= c && c <= 'f':
			nonzero = true
		default:
			return false
		}
	}
	return nonzero
}

type tracer struct{}

// StartSpan opens a subsegment for an SDK operation of a sampled trace;
// the spans the SDK opens inside an operation (serialise, sign, attempt…)
// are no-ops, so the operation's properties, the request id included,
// land on the operation's own span.
func (tracer) StartSpan(ctx context.Context, name string, opts ...tracing.SpanOption) (context.Context, tracing.Span) {
	d := daemon.Load()
	t, ok := ctx.Value(traceKey{}).(trace)
	if d == nil || !ok {
		return untraced(ctx)
	}
	var o tracing.SpanOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.Properties.Get("rpc.system") != "aws-api" {
		return untraced(ctx)
	}
	s := &span{sink: d, name: name, start: time.Now(),
		doc: subsegment{ID: newID(), TraceID: t.root, ParentID: t.parent, Type: "subsegment", Namespace: "aws"}}
	if outer, ok := tracing.GetSpan(ctx); ok {
		if p, ok := outer.(*span); ok { // a call made inside another: its subsegment's child
			s.doc.ParentID = p.doc.ID
		}
	}
	s.doc.Name, _ = o.Properties.Get("rpc.service").(string)
	s.doc.AWS.Operation, _ = o.Properties.Get("rpc.method").(string)
	return tracing.WithSpan(ctx, s), s
}

// untraced is the no-op span of what is not traced.
func untraced(ctx context.Context) (context.Context, tracing.Span) {
	return tracing.NopTracerProvider{}.Tracer("").StartSpan(ctx, "")
}

// newID is a subsegment id: 64 random bits in hex, never zero.
func newID() string {
	id := rand.Uint64() | 1
	s := strconv.FormatUint(id, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// subsegment is the X-Ray document of one SDK operation
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html).
type subsegment struct {
	ID        string  `json:"id"`
	TraceID   string  `json:"trace_id"`
	ParentID  string  `json:"parent_id"`
	Name      string  `json:"name"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	Type      string  `json:"type"`
	Namespace string  `json:"namespace"`
	AWS       struct {
		Operation string `json:"operation,omitempty"`
		RequestID string `json:"request_id,omitempty"`
	} `json:"aws"`
	Error    bool `json:"error,omitempty"`
	Fault    bool `json:"fault,omitempty"`
	Throttle bool `json:"throttle,omitempty"`
}

// span is an SDK operation's span, sent as its subsegment when it ends.
type span struct {
	sink  *sink
	name  string
	start time.Time

	mu          sync.Mutex
	doc         subsegment
	failed      bool
	code, fault string // the API error's code and fault (client or server)
}

func (s *span) Name() string { return s.name }

func (s *span) Context() tracing.SpanContext {
	return tracing.SpanContext{TraceID: s.doc.TraceID, SpanID: s.doc.ID}
}

func (s *span) AddEvent(string, ...tracing.EventOption) {}

func (s *span) SetStatus(st tracing.SpanStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = st == tracing.SpanStatusError
}

func (s *span) SetProperty(k, v any) {
	str, _ := v.(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch k {
	case "aws.request_id":
		s.doc.AWS.RequestID = str
	case "api.error_code":
		s.code = str
	case "api.error_fault":
		s.fault = str
	}
}

// daemonHeader starts every document sent to the X-Ray daemon.
const daemonHeader = "{\"format\": \"json\", \"version\": 1}\n"

func (s *span) End() {
	end := time.Now()
	s.mu.Lock()
	doc := s.doc
	doc.StartTime, doc.EndTime = float64(s.start.UnixNano())/1e9, float64(end.UnixNano())/1e9
	if s.failed || s.fault != "" {
		switch {
		case strings.Contains(s.code, "Throttl") || s.code == "ProvisionedThroughputExceededException" || s.code == "RequestLimitExceeded":
			doc.Throttle, doc.Error = true, true
		case s.fault == "client":
			doc.Error = true
		default:
			doc.Fault = true
		}
	}
	s.mu.Unlock()
	b, err := json.Marshal(doc)
	if err != nil {
		return // strings and numbers always encode
	}
	s.sink.send(append([]byte(daemonHeader), b...))
}

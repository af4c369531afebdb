package telemetry

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// WithRequestID returns a logger that gives every line the Lambda request
// id of its invocation, as "requestId", whatever handler l has: the
// deployment's lambdacontext handler adds it, but a plain JSON handler
// (make run, the local gateway, tests) does not, and a line without it
// cannot be matched with the invocation's other lines. The handler inside
// sees the context without its LambdaContext, so that the id is written
// once, not twice.
func WithRequestID(l *slog.Logger) *slog.Logger {
	return slog.New(requestIDHandler{l.Handler()})
}

type requestIDHandler struct{ inner slog.Handler }

func (h requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc != nil {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
		ctx = withoutLambdaContext{ctx}
	}
	return h.inner.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.inner.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.inner.WithGroup(name)}
}

// withoutLambdaContext hides the LambdaContext of a context, and nothing
// else.
type withoutLambdaContext struct{ context.Context }

func (c withoutLambdaContext) Value(key any) any {
	v := c.Context.Value(key)
	if _, ok := v.(*lambdacontext.LambdaContext); ok {
		return nil
	}
	return v
}

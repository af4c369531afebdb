// Package apigw is the API Gateway adapter of the functions: it tells apart
// the payloads a function is invoked with (an HTTP API event, payload 2.0;
// a REST API event, payload 1.0; a direct invoke's own JSON), reads an
// API Gateway event into one Request (its route, path parameters, query,
// lower-case headers, body and the authorizer's claims), and writes the
// Handler's Response back in the event's own form. Invoke is the Lambda
// handler: it ends a request before the function's deadline and joins the
// invocation's X-Ray trace.
package apigw

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/telemetry"
)

// Handler answers what the adapter reads from a payload.
type Handler interface {
	// Serve answers an API request. rerr, when not nil, says why the
	// event could not be read in full; r then holds what could be (its
	// request id, for the answer and the log).
	Serve(ctx context.Context, r *Request, rerr *apierror.Error) Response
	// Direct answers a direct invoke: the payload is the caller's own
	// JSON, not an API Gateway event. An error is answered as a Lambda
	// function error whose errorType is its code.
	Direct(ctx context.Context, payload []byte) (json.RawMessage, *apierror.Error)
}

// deadlineMargin is how long before the function's deadline a request
// stops waiting on DynamoDB, to answer 503 while it still can.
const deadlineMargin = 500 * time.Millisecond

// Invoke is the Lambda handler of h: it takes any payload the function may
// be sent and answers in the same kind.
func Invoke(ctx context.Context, h Handler, payload json.RawMessage) (any, error) {
	// End before Lambda does: a request still waiting on DynamoDB when the
	// function times out gets API Gateway's bare 500, not our 503.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	ctx = telemetry.StartTrace(ctx)
	if e, ok := decodeHTTPAPI(payload); ok {
		r, rerr := fromHTTPAPI(e)
		return h.Serve(ctx, r, rerr).httpAPI(), nil
	}
	switch kindOf(payload) {
	case kindHTTPAPI:
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, invokeError(&apierror.Error{Code: apierror.InvalidJSON, Message: "not an API Gateway HTTP API event"})
		}
		r, rerr := fromHTTPAPI(&e)
		return h.Serve(ctx, r, rerr).httpAPI(), nil
	case kindREST:
		var e events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, invokeError(&apierror.Error{Code: apierror.InvalidJSON, Message: "not an API Gateway REST API event"})
		}
		r, rerr := fromREST(&e)
		return h.Serve(ctx, r, rerr).rest(), nil
	}
	answer, err := h.Direct(ctx, payload)
	if err != nil {
		return nil, invokeError(err)
	}
	return answer, nil
}

// invokeError is a Lambda function error: errorType names the problem, as
// a direct caller sees it.
func invokeError(e *apierror.Error) error {
	return messages.InvokeResponse_Error{Type: e.Code, Message: e.Message}
}

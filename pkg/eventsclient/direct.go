package eventsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Invoker is the call of the Lambda API that Direct makes; *lambda.Client
// has it.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Putter stores events; Client and Direct are Putters, so that a service
// can take either.
type Putter interface {
	PutEvents(ctx context.Context, deviceID string, events []NewEvent, opts ...PutOption) (*PutResult, error)
}

var (
	_ Putter = (*Client)(nil)
	_ Putter = (*Direct)(nil)
)

// Direct stores events by invoking the put-event function directly,
// without API Gateway: the caller needs lambda:InvokeFunction on it, and no
// token. It is safe for concurrent use.
type Direct struct {
	lambda   Invoker
	function string
	retry    RetryPolicy
	sleep    sleepFunc
}

// NewDirect returns a Direct that invokes function (its name or ARN, with
// an alias if any) through inv, typically lambda.NewFromConfig(cfg).
//
// The Lambda client retries the Lambda API's own throttling; Direct
// retries when the function answers that storage was throttled or
// unavailable.
func NewDirect(inv Invoker, function string, opts ...Option) *Direct {
	s := newSettings(opts)
	return &Direct{lambda: inv, function: function, retry: s.retry, sleep: sleep}
}

// PutEvents stores events of one device, as Client.PutEvents does. Errors
// of the function are *APIError with Status 0 and Code the function
// error's errorType (invalid_event, invalid_json, ...).
func (d *Direct) PutEvents(ctx context.Context, deviceID string, events []NewEvent, opts ...PutOption) (*PutResult, error) {
	o := putOptions{}
	for _, f := range opts {
		f(&o)
	}
	payload, err := directPayload(deviceID, events, o.key)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		res, err := d.invoke(ctx, payload)
		if err == nil {
			return res, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) || (ae.Code != CodeThrottled && ae.Code != CodeUnavailable) || attempt >= d.retry.MaxAttempts {
			return nil, err
		}
		wait, _ := d.retry.delay(attempt, 0)
		if werr := d.sleep(ctx, wait); werr != nil {
			return nil, fmt.Errorf("%w (gave up waiting to retry: %w)", err, werr)
		}
	}
}

func (d *Direct) invoke(ctx context.Context, payload []byte) (*PutResult, error) {
	out, err := d.lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   &d.function,
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("eventsclient: invoking %s: %w", d.function, err)
	}
	requestID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if out.FunctionError != nil {
		return nil, functionError(*out.FunctionError, out.Payload, requestID)
	}
	var ans putAnswer
	if err := json.Unmarshal(out.Payload, &ans); err != nil {
		return nil, fmt.Errorf("eventsclient: reading the answer of %s: %w", d.function, err)
	}
	return &PutResult{Message: ans.Message, Events: ans.Events, Abridged: ans.Abridged}, nil
}

// directPayload writes the body of a direct invoke: the events with their
// device, and a key on every event, since a direct invoke has no header to
// key a batch as a whole.
func directPayload(deviceID string, events []NewEvent, key string) ([]byte, error) {
	if err := checkBatch(events); err != nil {
		return nil, err
	}
	if len(events) == 1 {
		ev := events[0]
		switch {
		case ev.IdempotencyKey == "" && key != "":
			ev.IdempotencyKey = key
		case ev.IdempotencyKey == "":
			ev.IdempotencyKey = newKey()
		case key != "" && ev.IdempotencyKey != key:
			return nil, errors.New("eventsclient: the event's IdempotencyKey differs from WithIdempotencyKey")
		}
		return json.Marshal(ev.wire(deviceID, ev.IdempotencyKey))
	}
	if key == "" {
		key = newKey()
	}
	wire := struct {
		DeviceID string         `json:"deviceId"`
		Events   []newEventJSON `json:"events"`
	}{deviceID, make([]newEventJSON, len(events))}
	for i, ev := range events {
		k := ev.IdempotencyKey
		if k == "" {
			k = key + "." + strconv.Itoa(i)
		}
		wire.Events[i] = ev.wire("", k)
	}
	return json.Marshal(wire)
}

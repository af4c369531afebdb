package eventsclient

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestDirectInvokeStoresEventsThroughThePutEventFunction(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	fn := s.lambda()
	d := NewDirect(fn, "put-event")
	c, _ := s.client(s.url)
	cases := []struct {
		name   string
		events []NewEvent
		opts   []PutOption
		sameAs string
	}{
		{"one event is stored", []NewEvent{{Type: "get-greengrass-configurations", Status: "Failed", Text: "missing package"}}, nil, ""},
		{"one event with a key is stored", []NewEvent{{Type: "once"}}, []PutOption{WithIdempotencyKey("d-1")}, ""},
		{"a retry with the same key answers the same event", []NewEvent{{Type: "once"}}, []PutOption{WithIdempotencyKey("d-1")}, "one event with a key is stored"},
		{"a batch with a key is stored", []NewEvent{{Type: "a"}, {Type: "b"}}, []PutOption{WithIdempotencyKey("db-1")}, ""},
		{"a retry of the batch answers the same events", []NewEvent{{Type: "a"}, {Type: "b"}}, []PutOption{WithIdempotencyKey("db-1")}, "a batch with a key is stored"},
	}
	answered := map[string][]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.PutEvents(ctx, "gg-1", tc.events, tc.opts...)
			if err != nil {
				t.Fatalf("PutEvents: %v", err)
			}
			answered[tc.name] = ids(res.Events)
			if res.Message != "Successfully added events for gg-1" || len(res.Events) != len(tc.events) {
				t.Fatalf("answer %q with %d events, want the message for gg-1 and %d events", res.Message, len(res.Events), len(tc.events))
			}
			if tc.sameAs != "" && !slices.Equal(answered[tc.name], answered[tc.sameAs]) {
				t.Errorf("ids = %v, want those of %q: %v", answered[tc.name], tc.sameAs, answered[tc.sameAs])
			}
			got, err := c.GetEvent(ctx, "gg-1", res.Events[0].ID)
			if err != nil || got.Type != tc.events[0].Type {
				t.Errorf("GetEvent over HTTPS = %s, %v; want the stored %s", got.Type, err, tc.events[0].Type)
			}
		})
	}
	t.Run("every event of a direct batch carries a key", func(t *testing.T) {
		sent := fn.sent()
		var body struct {
			DeviceID string `json:"deviceId"`
			Events   []struct {
				Key string `json:"idempotencyKey"`
			} `json:"events"`
		}
		if err := json.Unmarshal(sent[len(sent)-1], &body); err != nil {
			t.Fatal(err)
		}
		if body.DeviceID != "gg-1" || len(body.Events) != 2 || body.Events[0].Key != "db-1.0" || body.Events[1].Key != "db-1.1" {
			t.Errorf("payload %s, want deviceId gg-1 and keys db-1.0, db-1.1", sent[len(sent)-1])
		}
	})
	t.Run("an invalid event is a function error typed by its errorType", func(t *testing.T) {
		_, err := d.PutEvents(ctx, "gg-1", []NewEvent{{Type: ""}})
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error = %v, want an *APIError", err)
		}
		if ae.Status != 0 || ae.Code != CodeInvalidEvent || !strings.Contains(ae.Message, "type") {
			t.Errorf("got status %d code %s message %q, want 0 invalid_event and a message naming type", ae.Status, ae.Code, ae.Message)
		}
	})
}

// flakyLambda answers a function error of the given type the first n
// times, then invokes the function.
type flakyLambda struct {
	next     Invoker
	failures int
	code     string
	payloads [][]byte
}

func (f *flakyLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.payloads = append(f.payloads, in.Payload)
	if f.failures > 0 {
		f.failures--
		kind := "Unhandled"
		return &lambda.InvokeOutput{StatusCode: 200, FunctionError: &kind,
			Payload: []byte(`{"errorType":"` + f.code + `","errorMessage":"storage is throttling requests; retry later"}`)}, nil
	}
	return f.next.Invoke(ctx, in, opts...)
}

func TestDirectInvokeRetriesThrottlingWithTheSameKeys(t *testing.T) {
	s := newStack(t)
	cases := []struct {
		name         string
		code         string
		failures     int
		wantAttempts int
		wantErr      bool
	}{
		{"a throttled function is retried", CodeThrottled, 1, 2, false},
		{"an unavailable store is retried", CodeUnavailable, 2, 3, false},
		{"an invalid event is not retried", CodeInvalidEvent, 1, 1, true},
		{"retries stop at MaxAttempts", CodeThrottled, 9, 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyLambda{next: s.lambda(), failures: tc.failures, code: tc.code}
			d := NewDirect(f, "put-event", WithRetry(RetryPolicy{MaxAttempts: 3}))
			z := &sleeps{}
			d.sleep = z.sleep
			_, err := d.PutEvents(context.Background(), "gg-2", []NewEvent{{Type: "t"}, {Type: "u"}})
			if (err != nil) != tc.wantErr {
				t.Fatalf("PutEvents error = %v, want an error: %v", err, tc.wantErr)
			}
			if len(f.payloads) != tc.wantAttempts || len(z.waits()) != tc.wantAttempts-1 {
				t.Fatalf("%d attempts and %d waits, want %d and %d", len(f.payloads), len(z.waits()), tc.wantAttempts, tc.wantAttempts-1)
			}
			for i, p := range f.payloads {
				if string(p) != string(f.payloads[0]) {
					t.Errorf("attempt %d sent %s, want the first attempt's payload %s (same keys)", i+1, p, f.payloads[0])
				}
			}
		})
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// The put answer lists the events whole up to maxPutAnswer, and past it
// without their data and text, saying so: a batch of megabytes is not
// echoed back.
func TestThePutAnswerDoesNotEchoMegabytes(t *testing.T) {
	f, err := New(routes.PutEvent, Deps{Store: eventstore.New(stubDynamoDB{}, "events", eventstore.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	event := func(i, dataBytes int) string {
		return fmt.Sprintf(`{"type":"t%d","text":"text %d","data":{"blob":"%s"}}`, i, i, strings.Repeat("<", dataBytes))
	}
	batch := func(n, dataBytes int) string {
		var evs []string
		for i := 0; i < n; i++ {
			evs = append(evs, event(i, dataBytes))
		}
		return "[" + strings.Join(evs, ",") + "]"
	}
	cases := []struct {
		name     string
		body     string
		events   int
		abridged bool
	}{
		{"a single event of 250 KB is answered whole", event(0, 250<<10), 1, false},
		{"a batch of 100 small events is answered whole", batch(100, 100), 100, false},
		{"a batch of 4 events of 250 KB (1 MB) is answered whole", batch(4, 250<<10), 4, false},
		{"a batch of 5 events of 250 KB is answered without data and text", batch(5, 250<<10), 5, true},
		{"a batch of 100 events of 50 KB is answered without data and text", batch(100, 50<<10), 100, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
				Version: "2.0", RouteKey: "POST /devices/{deviceId}/events", RawPath: "/devices/d/events", Body: tc.body,
				PathParameters: map[string]string{"deviceId": "d"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"},
					Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"scope": routes.ScopeWrite}}}},
			})
			out, err := apigw.Invoke(context.Background(), f, payload)
			resp, _ := out.(events.APIGatewayV2HTTPResponse)
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("Invoke: %d %.300s, %v; want 201", resp.StatusCode, resp.Body, err)
			}
			var got struct {
				Events []struct {
					ID, Type, Text string
					Data           map[string]any
				}
				Abridged *bool
			}
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatal(err)
			}
			whole := 0
			for _, e := range got.Events {
				if e.ID != "" && e.Type != "" && e.Text != "" && e.Data != nil {
					whole++
				}
			}
			switch {
			case len(got.Events) != tc.events:
				t.Fatalf("%d events in the answer, want %d", len(got.Events), tc.events)
			case tc.abridged && (got.Abridged == nil || !*got.Abridged || whole != 0 || len(resp.Body) > maxPutAnswer):
				t.Fatalf("abridged %v, %d events whole, %d bytes; want every event without data and text, within %d bytes", got.Abridged, whole, len(resp.Body), maxPutAnswer)
			case !tc.abridged && (got.Abridged != nil || whole != tc.events):
				t.Fatalf("abridged %v, %d of %d events whole; want all whole", got.Abridged, whole, tc.events)
			case !strings.Contains(resp.Body, "<<<") && !tc.abridged:
				t.Fatalf("the answer escapes '<': %.200s", resp.Body)
			}
		})
	}
}

func TestTwoContentTypesAreNamedAsSuch(t *testing.T) {
	for _, tc := range []struct {
		ct, want string
	}{
		{"application/json, application/merge-patch+json", "Content-Type was sent more than once"},
		{"application/xml", "Content-Type must be application/json"},
	} {
		r := &apigw.Request{Headers: map[string]string{"content-type": tc.ct}}
		err := jsonContent(r, "application/json")
		var e *apierror.Error
		if !errors.As(err, &e) || e.Code != apierror.UnsupportedMediaType || !strings.HasPrefix(e.Message, tc.want) {
			t.Errorf("Content-Type %q: got %v, want 415 saying %q", tc.ct, err, tc.want)
		}
	}
}

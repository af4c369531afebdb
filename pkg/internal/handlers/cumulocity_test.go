package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// c8yCall answers method path?query from f, as the key API sends it with
// a key of every scope and device.
func c8yCall(t *testing.T, f *Function, method, path, query string) (int, map[string]any) {
	t.Helper()
	route, _, _ := routes.Match(routes.Keys, method, segments(path))
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route.Key(), RawPath: path, RawQueryString: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "c8y-test", RouteKey: route.Key(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{
				"sub": "apikey:test", "scope": routes.ScopeRead + " " + routes.ScopeDelete,
			}},
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	out, err := apigw.Invoke(context.Background(), f, b)
	if err != nil {
		t.Fatalf("Invoke: %v, want an answer", err)
	}
	res := out.(events.APIGatewayV2HTTPResponse)
	var body map[string]any
	if res.Body != "" {
		if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
			t.Fatalf("body %.200s: %v", res.Body, err)
		}
	}
	return res.StatusCode, body
}

func c8yList(t *testing.T, f *Function, query string) (int, map[string]any) {
	t.Helper()
	return c8yCall(t, f, "GET", "/event/events", query)
}

// TestACumulocityPageIsWholeOrRefused: a device's events of one type
// among megabytes of its other events (type on a device is a filter) are
// read until the page is full, within a bound; a page that would need
// more is refused rather than answered short, since the next page starts
// where the counters say and a short page would hide events for good.
func TestACumulocityPageIsWholeOrRefused(t *testing.T) {
	store, list, _ := newListStore(t)
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	put := func(ev eventstore.NewEvent) {
		t.Helper()
		if _, err := store.Put(context.Background(), eventstore.PutRequest{Events: []eventstore.NewEvent{ev}}); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	// The old event in an hour of its own; the new one after about 5 MB of
	// other events: more than four listings of about 1 MB read.
	put(eventstore.NewEvent{DeviceID: "d1", Type: "rare", Time: start.Add(-2 * time.Hour), Text: "old"})
	noise := strings.Repeat("n", 2000)
	for b := range 25 {
		batch := make([]eventstore.NewEvent, 100)
		for i := range batch {
			batch[i] = eventstore.NewEvent{DeviceID: "d1", Type: "noise", Time: start.Add(time.Duration(b*100+i) * time.Millisecond), Text: noise}
		}
		if _, err := store.Put(context.Background(), eventstore.PutRequest{Events: batch}); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	put(eventstore.NewEvent{DeviceID: "d1", Type: "rare", Time: start.Add(time.Minute), Text: "new"})

	t.Run("a page whose events are near one another is answered", func(t *testing.T) {
		status, body := c8yList(t, list, "source=d1&type=rare&pageSize=1")
		if status != 200 {
			t.Fatalf("status %d, want 200: %v", status, body)
		}
		evs := body["events"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["text"] != "new" || body["next"] == nil {
			t.Errorf("got %v, want the newest rare event and a next page", body)
		}
	})
	t.Run("page 2 is found from the counters, without reading what lies before it", func(t *testing.T) {
		status, body := c8yList(t, list, "source=d1&type=rare&pageSize=1&currentPage=2&withTotalPages=true")
		if status != 200 {
			t.Fatalf("status %d, want 200: %v", status, body)
		}
		evs := body["events"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["text"] != "old" || body["next"] != nil {
			t.Errorf("got %v, want the old rare event, and no next page", body)
		}
		if tp := body["statistics"].(map[string]any)["totalPages"]; tp != 2.0 {
			t.Errorf("totalPages = %v, want 2", tp)
		}
	})
	t.Run("a page whose events lie megabytes apart is refused, naming pageSize", func(t *testing.T) {
		status, body := c8yList(t, list, "source=d1&type=rare&pageSize=2")
		details, _ := body["details"].(map[string]any)
		if status != 400 || body["error"] != "event/Bad Request" || details["parameter"] != "pageSize" ||
			!strings.Contains(body["message"].(string), "dateFrom") {
			t.Fatalf("got %d %v, want 400 event/Bad Request naming pageSize and saying how to narrow it", status, body)
		}
	})
}

// TestACumulocityBulkDeleteGoesOnWhenAskedAgain: past what one request
// deletes, DELETE /event/events answers 503 with Retry-After rather than a
// 204 that would say every event is gone, and the same request goes on.
func TestACumulocityBulkDeleteGoesOnWhenAskedAgain(t *testing.T) {
	store, list, del := newListStore(t)
	start := time.Now().UTC().Add(-time.Hour)
	n := cumulocityDeleteCalls*eventstore.MaxBulkDelete + 1
	for b := 0; b < n; b += eventstore.MaxBatch {
		batch := make([]eventstore.NewEvent, min(eventstore.MaxBatch, n-b))
		for i := range batch {
			batch[i] = eventstore.NewEvent{DeviceID: "d1", Type: "tick", Time: start.Add(time.Duration(b+i) * time.Millisecond)}
		}
		if _, err := store.Put(context.Background(), eventstore.PutRequest{Events: batch}); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	status, body := c8yCall(t, del, "DELETE", "/event/events", "source=d1&type=tick")
	if status != 503 || !strings.Contains(fmt.Sprint(body["message"]), fmt.Sprint(n-1)) {
		t.Fatalf("first call: %d %v, want 503 saying %d were deleted", status, body, n-1)
	}
	if status, body = c8yCall(t, del, "DELETE", "/event/events", "source=d1&type=tick"); status != 204 {
		t.Fatalf("second call: %d %v, want 204", status, body)
	}
	if _, body = c8yList(t, list, "source=d1&withTotalElements=true"); len(body["events"].([]any)) != 0 {
		t.Errorf("left %v, want no event", body["events"])
	}
}

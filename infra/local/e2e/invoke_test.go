package e2e

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/pkg/routes"
)

// invoke calls a function's bootstrap the way Lambda does: JSON in, JSON
// out; a function error comes back as the runtime reported it.
func (s *stack) invoke(fn string, payload any) ([]byte, error) {
	s.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := s.Invoke(s.t, fn, b)
	if err != nil {
		return nil, err
	}
	if res.FunctionError != "" {
		var ie messages.InvokeResponse_Error
		if err := json.Unmarshal(res.Payload, &ie); err != nil {
			s.t.Fatalf("function error %s: %v", res.Payload, err)
		}
		return nil, ie
	}
	return res.Payload, nil
}

func TestADirectInvokeOfPutEventStoresTheEvents(t *testing.T) {
	s := newStack(t)
	out, err := s.invoke(routes.PutEvent, map[string]any{"deviceid": "gg-1", "status": "Failed", "description": "missing package", "function": "get-greengrass-configurations"})
	if err != nil {
		t.Fatalf("direct invoke: %v", err)
	}
	var ans struct {
		Message string           `json:"message"`
		Events  []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(out, &ans); err != nil || len(ans.Events) != 1 || ans.Message != "Successfully added events for gg-1" {
		t.Fatalf("answer %s (%v)", out, err)
	}
	s.do("GET", ans.Events[0]["self"].(string), nil).want(t, 200)

	out, err = s.invoke(routes.PutEvent, []any{map[string]any{"deviceId": "a", "type": "x"}, map[string]any{"deviceId": "b", "type": "y"}})
	if err != nil || json.Unmarshal(out, &ans) != nil || len(ans.Events) != 2 || ans.Message != "Successfully added events for a, b" {
		t.Fatalf("batch over two devices: %s, %v", out, err)
	}
}

func TestADirectInvokeWithBadInputIsAFunctionErrorNamingTheField(t *testing.T) {
	s := newStack(t)
	cases := []struct {
		name     string
		payload  any
		wantType string
	}{
		{"no device", map[string]any{"type": "x"}, "invalid_event"},
		{"no type", map[string]any{"deviceId": "d"}, "invalid_event"},
		{"a bad device", map[string]any{"deviceid": "a b", "function": "f"}, "invalid_event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.invoke(routes.PutEvent, tc.payload)
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) || ie.Type != tc.wantType || ie.Message == "" {
				t.Fatalf("error = %#v, want a function error of type %s", err, tc.wantType)
			}
		})
	}
	if _, err := s.invoke(routes.ListEvents, map[string]any{"deviceId": "d", "type": "x"}); err == nil {
		t.Fatal("list-events accepted a direct payload")
	}
}

func TestRESTPayloadVersion1IsServedToo(t *testing.T) {
	s := newStack(t)
	req := events.APIGatewayProxyRequest{
		Resource: "/devices/{deviceId}/events", Path: "/devices/rest-1/events", HTTPMethod: "POST",
		Headers:        map[string]string{"Content-Type": "application/json"},
		PathParameters: map[string]string{"deviceId": "rest-1"},
		Body:           `{"type":"via_rest"}`,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r1", APIID: devstack.APIIDs[routes.Events], Authorizer: map[string]any{
			"claims": map[string]any{"sub": "u", "scope": "events/write events/read"}}},
	}
	out, err := s.invoke(routes.PutEvent, req)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 201 {
		t.Fatalf("REST put = %d %s (%v), want 201", resp.StatusCode, resp.Body, err)
	}
	req.HTTPMethod, req.Body = "GET", ""
	out, _ = s.invoke(routes.ListEvents, req)
	_ = json.Unmarshal(out, &resp)
	if resp.StatusCode != 200 {
		t.Fatalf("REST list = %d %s, want 200", resp.StatusCode, resp.Body)
	}
	req.RequestContext.Authorizer = nil
	out, _ = s.invoke(routes.ListEvents, req)
	_ = json.Unmarshal(out, &resp)
	if resp.StatusCode != 401 {
		t.Fatalf("REST list without claims = %d, want 401", resp.StatusCode)
	}
}

package clients_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oapi-codegen/nullable"

	api "example.com/clients/events/oapicodegen"
)

// TestOapiCodegenClient calls every operation of the events API once,
// in one event's life, and checks each status.
func TestOapiCodegenClient(t *testing.T) {
	ctx := t.Context()
	token := env(t, "EVENTS_TOKEN")
	bearer := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	base := env(t, "OAPI_CODEGEN_EVENTS_URL")
	c, err := api.NewClientWithResponses(base, api.WithRequestEditorFn(bearer))
	if err != nil {
		t.Fatal(err)
	}
	const device = "oapi-codegen-robot"
	kind := api.EventType("oapi-codegen-door")
	var id api.EventId
	var key api.NewApiKeyAnswer

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the local gateway is ready", func(t *testing.T) {
			res, err := c.HealthWithResponse(ctx)
			wantStatus(t, res, err, 200)
			if res.JSON200 == nil || res.JSON200.Status != "ok" {
				t.Errorf("health = %s, want status ok", res.Body)
			}
		}},
		{"the gateway serves the document", func(t *testing.T) {
			res, err := c.OpenapiWithResponse(ctx)
			wantStatus(t, res, err, 200)
		}},
		{"a native event with a Unix time in a JSON number is stored", func(t *testing.T) {
			var when api.RequestTime
			must(t, when.FromUnixSeconds(eventUnix))
			var one api.PutEventsObject
			must(t, one.FromNativeEvent(api.NativeEvent{Type: kind, Time: &when, Severity: ptr(api.SeverityWarning), Text: ptr("left open"), Data: &api.Data{"door": "north"}}))
			var body api.PutEventsBody
			must(t, body.FromPutEventsObject(one))
			res, err := c.PutEventsWithResponse(ctx, device, &api.PutEventsParams{IdempotencyKey: ptr("oapi-codegen-1")}, body)
			wantStatus(t, res, err, 201)
			ev := res.JSON201.Events[0]
			id = ev.Id
			iso, err := ev.Time.AsIsoTime()
			must(t, err)
			wantTime(t, iso)
			if loc := res.Headers201.Location; !strings.HasSuffix(loc, "/"+id) {
				t.Errorf("Location = %q, want the event's path", loc)
			}
		}},
		{"a batch array labelled text/plain is stored", func(t *testing.T) {
			res, err := c.PutEventsWithTextBodyWithResponse(ctx, device, nil, `[{"type":"heartbeat"},{"function":"`+string(kind)+`-report","status":"Failed"}]`)
			wantStatus(t, res, err, 201)
			if n := len(res.JSON201.Events); n != 2 {
				t.Errorf("stored %d events, want 2", n)
			}
		}},
		{"the event reads back with its ETag", func(t *testing.T) {
			res, err := c.GetEventWithResponse(ctx, device, id, nil)
			wantStatus(t, res, err, 200)
			if res.Headers200.ETag != `"1"` || res.JSON200.Version != 1 {
				t.Errorf("ETag %s and version %d, want \"1\" and 1", res.Headers200.ETag, res.JSON200.Version)
			}
		}},
		{"the device's warnings list it", func(t *testing.T) {
			res, err := c.ListDeviceEventsWithResponse(ctx, device, &api.ListDeviceEventsParams{Type: &api.Types{kind}, Severity: &api.SeverityFilter{api.SeverityWarning}})
			wantStatus(t, res, err, 200)
			if n := len(res.JSON200.Events); n != 1 {
				t.Errorf("listed %d events, want 1", n)
			}
		}},
		{"the fleet's listing of its type lists it", func(t *testing.T) {
			res, err := c.ListEventsWithResponse(ctx, &api.ListEventsParams{Type: &api.Types{kind}})
			wantStatus(t, res, err, 200)
			if n := len(res.JSON200.Events); n != 1 {
				t.Errorf("listed %d events, want 1", n)
			}
		}},
		{"the device's daily counts count it", func(t *testing.T) {
			res, err := c.AggregateDeviceEventsWithResponse(ctx, device, &api.AggregateDeviceEventsParams{Type: &api.AggregateTypes{kind}, Interval: api.AggregateDeviceEventsParamsIntervalDay, From: ptr("2026-11-22T00:00:00Z"), To: ptr("2026-11-23T00:00:00Z")})
			wantStatus(t, res, err, 200)
			if res.JSON200.Total != 1 {
				t.Errorf("total = %d, want 1", res.JSON200.Total)
			}
		}},
		{"the fleet's hourly counts count it", func(t *testing.T) {
			res, err := c.AggregateEventsWithResponse(ctx, &api.AggregateEventsParams{Type: api.AggregateTypesRequired{kind}, Interval: api.AggregateEventsParamsIntervalHour, From: ptr("2026-11-22T10:00:00Z"), To: ptr("2026-11-22T11:00:00Z")})
			wantStatus(t, res, err, 200)
			if res.JSON200.Total != 1 {
				t.Errorf("total = %d, want 1", res.JSON200.Total)
			}
		}},
		{"a merge patch acknowledges it and removes its text with null", func(t *testing.T) {
			patch := api.EventPatch{State: ptr(api.Acknowledged), Text: nullable.NewNullNullable[string](), Comment: ptr("on my way")}
			res, err := c.PatchEventWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, device, id, &api.PatchEventParams{IfMatch: ptr(`"1"`)}, patch)
			wantStatus(t, res, err, 200)
			if ev := res.JSON200; ev.State != api.Acknowledged || ev.Text != nil || ev.Version != 2 {
				t.Errorf("patched event = %s, want acknowledged, without text, version 2", res.Body)
			}
		}},
		{"it is deleted", func(t *testing.T) {
			res, err := c.DeleteEventWithResponse(ctx, device, id, &api.DeleteEventParams{IfMatch: ptr(`"2"`)})
			wantStatus(t, res, err, 204)
		}},
		{"it is then not found, in the functions' error shape", func(t *testing.T) {
			res, err := c.GetEventWithResponse(ctx, device, id, nil)
			wantStatus(t, res, err, 404)
			if e := res.JSON404; e.Error == nil || *e.Error != api.ErrorCodeNotFound || e.RequestId == nil {
				t.Errorf("404 = %s, want not_found with a requestId", res.Body)
			}
		}},
		{"a dry run counts the device's other events", func(t *testing.T) {
			res, err := c.DeleteEventsWithResponse(ctx, device, &api.DeleteEventsParams{All: ptr(true), DryRun: ptr(true)})
			wantStatus(t, res, err, 200)
			if res.JSON200.Deleted != 2 {
				t.Errorf("deleted = %d, want 2", res.JSON200.Deleted)
			}
		}},
		{"a bulk delete deletes them", func(t *testing.T) {
			res, err := c.DeleteEventsWithResponse(ctx, device, &api.DeleteEventsParams{All: ptr(true)})
			wantStatus(t, res, err, 200)
			if res.JSON200.Deleted != 2 {
				t.Errorf("deleted = %d, want 2", res.JSON200.Deleted)
			}
		}},
		{"a device API key of the device is made, its secret shown", func(t *testing.T) {
			res, err := c.CreateApiKeyWithResponse(ctx, api.NewApiKey{Name: "oapi-codegen door sensor", Scopes: []api.KeyScope{api.Eventsread}, Devices: &[]api.DeviceId{device}})
			wantStatus(t, res, err, 201)
			if key = *res.JSON201; !strings.HasPrefix(key.Key, "dek_"+key.Id+"_") || res.HTTPResponse.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("key = %s, Cache-Control %q: want dek_<id>_<secret>, no-store", res.Body, res.HTTPResponse.Header.Get("Cache-Control"))
			}
		}},
		{"the same client, with the key and the key API's URL, lists the device's events", func(t *testing.T) {
			withKey := func(_ context.Context, r *http.Request) error {
				r.Header.Set("X-Api-Key", key.Key)
				return nil
			}
			keyed, err := api.NewClientWithResponses(env(t, "OAPI_CODEGEN_KEYS_URL"), api.WithRequestEditorFn(withKey))
			must(t, err)
			res, err := keyed.ListDeviceEventsWithResponse(ctx, device, nil)
			wantStatus(t, res, err, 200)
		}},
		{"the keys are listed without their secrets", func(t *testing.T) {
			res, err := c.ListApiKeysWithResponse(ctx, nil)
			wantStatus(t, res, err, 200)
			if !strings.Contains(string(res.Body), key.Id) || strings.Contains(string(res.Body), key.Secret) {
				t.Errorf("the listing %s: want key %s, without its secret", res.Body, key.Id)
			}
		}},
		{"the key is revoked", func(t *testing.T) {
			res, err := c.DeleteApiKeyWithResponse(ctx, key.Id)
			wantStatus(t, res, err, 204)
		}},
		{"a request without a token is API Gateway's 401, in its own shape", func(t *testing.T) {
			anonymous, err := api.NewClientWithResponses(base)
			must(t, err)
			res, err := anonymous.GetEventWithResponse(ctx, device, id, nil)
			wantStatus(t, res, err, 401)
			if e := res.JSON401; e.Message != "Unauthorized" || e.Error != nil {
				t.Errorf("401 = %s, want {\"message\":\"Unauthorized\"}", res.Body)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return // each step needs the ones before it
		}
	}
}

// response is what oapi-codegen's ...WithResponse answers have.
type response interface {
	StatusCode() int
}

func wantStatus(t *testing.T, res response, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.StatusCode(); got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

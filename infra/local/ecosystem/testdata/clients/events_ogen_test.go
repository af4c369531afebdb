package clients_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ogen-go/ogen/ogenerrors"

	api "example.com/clients/events/ogen"
)

// token gives ogen's client the bearer token of the jwt scheme, for the
// events API; the document's other schemes, a device key's forms, are the
// key API's.
type token string

func (tok token) Jwt(context.Context, api.OperationName) (api.Jwt, error) {
	return api.Jwt{Token: string(tok)}, nil
}

func (token) ApiKeyHeader(context.Context, api.OperationName) (api.ApiKeyHeader, error) {
	return api.ApiKeyHeader{}, ogenerrors.ErrSkipClientSecurity
}

func (token) BasicKey(context.Context, api.OperationName) (api.BasicKey, error) {
	return api.BasicKey{}, ogenerrors.ErrSkipClientSecurity
}

func (token) RawKey(context.Context, api.OperationName) (api.RawKey, error) {
	return api.RawKey{}, ogenerrors.ErrSkipClientSecurity
}

func (token) BearerKey(context.Context, api.OperationName) (api.BearerKey, error) {
	return api.BearerKey{}, ogenerrors.ErrSkipClientSecurity
}

// deviceKey gives ogen's client a device API key, as X-Api-Key, for the
// key API.
type deviceKey string

func (deviceKey) Jwt(context.Context, api.OperationName) (api.Jwt, error) {
	return api.Jwt{}, ogenerrors.ErrSkipClientSecurity
}

func (k deviceKey) ApiKeyHeader(context.Context, api.OperationName) (api.ApiKeyHeader, error) {
	return api.ApiKeyHeader{APIKey: string(k)}, nil
}

func (deviceKey) BasicKey(context.Context, api.OperationName) (api.BasicKey, error) {
	return api.BasicKey{}, ogenerrors.ErrSkipClientSecurity
}

func (deviceKey) RawKey(context.Context, api.OperationName) (api.RawKey, error) {
	return api.RawKey{}, ogenerrors.ErrSkipClientSecurity
}

func (deviceKey) BearerKey(context.Context, api.OperationName) (api.BearerKey, error) {
	return api.BearerKey{}, ogenerrors.ErrSkipClientSecurity
}

// TestOgenClient calls every operation of the events API once, in one
// event's life, and checks each answer's type: ogen's answers are a type
// per status.
func TestOgenClient(t *testing.T) {
	ctx := t.Context()
	base := env(t, "OGEN_EVENTS_URL")
	c, err := api.NewClient(base, token(env(t, "EVENTS_TOKEN")))
	if err != nil {
		t.Fatal(err)
	}
	const device = api.DeviceId("ogen-robot")
	kind := api.EventType("ogen-door")
	var id api.EventId
	var key api.NewApiKeyAnswer

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the local gateway is ready", func(t *testing.T) {
			res, err := c.Health(ctx)
			must(t, err)
			if res.Status != api.HealthOKStatusOk {
				t.Errorf("status = %q, want ok", res.Status)
			}
		}},
		{"the gateway serves the document", func(t *testing.T) {
			must(t, c.Openapi(ctx))
		}},
		{"a native event with a Unix time in a JSON number is stored", func(t *testing.T) {
			ev := api.NativeEvent{
				Type:     kind,
				Time:     api.NewOptRequestTime(api.NewUnixSecondsRequestTime(eventUnix)),
				Severity: api.NewOptSeverity(api.SeverityWarning),
				Text:     api.NewOptString("left open"),
				Data:     api.NewOptData(api.Data{"door": []byte(`"north"`)}),
			}
			body := api.NewPutEventsObjectPutEventsBody(api.NewNativeEventPutEventsObject(ev))
			res, err := c.PutEvents(ctx, &body, api.PutEventsParams{DeviceId: device, IdempotencyKey: api.NewOptIdempotencyKey("ogen-1")})
			created := answer[*api.PutEventsCreated](t, res, err)
			stored := created.Response.Events[0]
			id = stored.ID
			if stored.Time.Type != api.IsoTimeTimestamp {
				t.Fatalf("time is a %s, want an ISO time", stored.Time.Type)
			}
			wantTime(t, time.Time(stored.Time.IsoTime))
			if !strings.HasSuffix(created.Location, "/"+string(id)) {
				t.Errorf("Location = %q, want the event's path", created.Location)
			}
		}},
		{"a batch array labelled text/plain is stored", func(t *testing.T) {
			body := &api.PutEventsReqTextPlain{Data: strings.NewReader(`[{"type":"heartbeat"},{"function":"` + string(kind) + `-report","status":"Failed"}]`)}
			res, err := c.PutEvents(ctx, body, api.PutEventsParams{DeviceId: device})
			created := answer[*api.PutEventsCreated](t, res, err)
			if n := len(created.Response.Events); n != 2 {
				t.Errorf("stored %d events, want 2", n)
			}
		}},
		{"the event reads back with its ETag", func(t *testing.T) {
			res, err := c.GetEvent(ctx, api.GetEventParams{DeviceId: device, EventId: id})
			ev := answer[*api.EventHeaders](t, res, err)
			if ev.ETag != `"1"` || ev.Response.Version != 1 {
				t.Errorf("ETag %s and version %d, want \"1\" and 1", ev.ETag, ev.Response.Version)
			}
		}},
		{"the device's warnings list it", func(t *testing.T) {
			res, err := c.ListDeviceEvents(ctx, api.ListDeviceEventsParams{DeviceId: device, Type: api.TypeList{kind}, Severity: []api.Severity{api.SeverityWarning}})
			list := answer[*api.EventList](t, res, err)
			if n := len(list.Events); n != 1 {
				t.Errorf("listed %d events, want 1", n)
			}
		}},
		{"the fleet's listing of its type lists it", func(t *testing.T) {
			res, err := c.ListEvents(ctx, api.ListEventsParams{Type: api.TypeList{kind}})
			list := answer[*api.EventList](t, res, err)
			if n := len(list.Events); n != 1 {
				t.Errorf("listed %d events, want 1", n)
			}
		}},
		{"the device's daily counts count it", func(t *testing.T) {
			res, err := c.AggregateDeviceEvents(ctx, api.AggregateDeviceEventsParams{DeviceId: device, Type: api.TypeList{kind}, Interval: api.IntervalDay,
				From: api.NewOptQueryTime("2026-11-22T00:00:00Z"), To: api.NewOptQueryTime("2026-11-23T00:00:00Z")})
			agg := answer[*api.Aggregate](t, res, err)
			if agg.Total != 1 {
				t.Errorf("total = %d, want 1", agg.Total)
			}
		}},
		{"the fleet's hourly counts count it", func(t *testing.T) {
			res, err := c.AggregateEvents(ctx, api.AggregateEventsParams{Type: api.TypeList{kind}, Interval: api.IntervalHour,
				From: api.NewOptQueryTime("2026-11-22T10:00:00Z"), To: api.NewOptQueryTime("2026-11-22T11:00:00Z")})
			agg := answer[*api.Aggregate](t, res, err)
			if agg.Total != 1 {
				t.Errorf("total = %d, want 1", agg.Total)
			}
		}},
		{"a merge patch acknowledges it and removes its text with null", func(t *testing.T) {
			patch := api.PatchEventApplicationMergePatchJSON{State: api.NewOptState(api.StateAcknowledged), Comment: api.NewOptString("on my way")}
			patch.Text.SetToNull()
			res, err := c.PatchEvent(ctx, &patch, api.PatchEventParams{DeviceId: device, EventId: id, IfMatch: api.NewOptString(`"1"`)})
			ev := answer[*api.EventHeaders](t, res, err).Response
			if ev.State != api.StateAcknowledged || ev.Text.Set || ev.Version != 2 {
				t.Errorf("patched event has state %s, text %v, version %d; want acknowledged, no text, version 2", ev.State, ev.Text, ev.Version)
			}
		}},
		{"it is deleted", func(t *testing.T) {
			res, err := c.DeleteEvent(ctx, api.DeleteEventParams{DeviceId: device, EventId: id, IfMatch: api.NewOptString(`"2"`)})
			answer[*api.DeleteEventNoContent](t, res, err)
		}},
		{"it is then not found, in the functions' error shape", func(t *testing.T) {
			res, err := c.GetEvent(ctx, api.GetEventParams{DeviceId: device, EventId: id})
			e := answer[*api.GetEventNotFound](t, res, err)
			if e.Error.Value != api.ErrorCodeNotFound || !e.RequestId.Set {
				t.Errorf("404 has error %v and requestId %v, want not_found with a requestId", e.Error, e.RequestId)
			}
		}},
		{"a dry run counts the device's other events", func(t *testing.T) {
			res, err := c.DeleteEvents(ctx, api.DeleteEventsParams{DeviceId: device, All: api.NewOptBool(true), DryRun: api.NewOptBool(true)})
			if n := answer[*api.BulkDeleteResult](t, res, err).Deleted; n != 2 {
				t.Errorf("deleted = %d, want 2", n)
			}
		}},
		{"a bulk delete deletes them", func(t *testing.T) {
			res, err := c.DeleteEvents(ctx, api.DeleteEventsParams{DeviceId: device, All: api.NewOptBool(true)})
			if n := answer[*api.BulkDeleteResult](t, res, err).Deleted; n != 2 {
				t.Errorf("deleted = %d, want 2", n)
			}
		}},
		{"a device API key of the device is made, its secret shown", func(t *testing.T) {
			res, err := c.CreateApiKey(ctx, &api.NewApiKey{Name: "ogen door sensor", Scopes: []api.KeyScope{api.KeyScopeEventsRead}, Devices: []api.DeviceId{device}})
			made := answer[*api.NewApiKeyAnswerHeaders](t, res, err)
			if key = made.Response; !strings.HasPrefix(key.Key, "dek_"+string(key.ID)+"_") || made.CacheControl != api.CreateApiKeyCreatedCacheControlNoStore {
				t.Errorf("key %q of id %s, Cache-Control %q: want dek_<id>_<secret>, no-store", key.Key, key.ID, made.CacheControl)
			}
		}},
		{"the same client, with the key and the key API's URL, lists the device's events", func(t *testing.T) {
			keyed, err := api.NewClient(env(t, "OGEN_KEYS_URL"), deviceKey(key.Key))
			must(t, err)
			res, err := keyed.ListDeviceEvents(ctx, api.ListDeviceEventsParams{DeviceId: device})
			answer[*api.EventList](t, res, err)
		}},
		{"the keys are listed without their secrets", func(t *testing.T) {
			res, err := c.ListApiKeys(ctx, api.ListApiKeysParams{})
			list := answer[*api.ApiKeyList](t, res, err)
			found := false
			for _, k := range list.Keys {
				found = found || k.ID == key.ID
			}
			if !found {
				t.Errorf("the listing lacks key %s", key.ID)
			}
		}},
		{"the key is revoked", func(t *testing.T) {
			res, err := c.DeleteApiKey(ctx, api.DeleteApiKeyParams{KeyId: key.ID})
			answer[*api.DeleteApiKeyNoContent](t, res, err)
		}},
		{"a request with an empty token is API Gateway's 401, in its own shape", func(t *testing.T) {
			anonymous, err := api.NewClient(base, token(""))
			must(t, err)
			res, err := anonymous.GetEvent(ctx, api.GetEventParams{DeviceId: device, EventId: id})
			e := answer[*api.UnauthorizedHeaders](t, res, err).Response
			if e.Message != "Unauthorized" || e.Error.Set {
				t.Errorf("401 has message %q and error %v, want Unauthorized alone", e.Message, e.Error)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return // each step needs the ones before it
		}
	}
}

// answer fails the test unless an ogen client's answer is of type T, the
// type of the status wanted.
func answer[T any](t *testing.T, res any, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := res.(T)
	if !ok {
		var want T
		t.Fatalf("answer = %T %s, want %T", res, fmt.Sprintf("%+v", res), want)
	}
	return got
}

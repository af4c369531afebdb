package clients_test

import (
	"testing"

	registry "example.com/clients/registry/oapicodegen"
	ogenregistry "example.com/clients/registry/ogen"
)

// TestOapiCodegenRegistryClient calls every operation of the DeLaval
// registry's API: no token, as the registry's clients send none.
func TestOapiCodegenRegistryClient(t *testing.T) {
	ctx := t.Context()
	c, err := registry.NewClientWithResponses(env(t, "OAPI_CODEGEN_REGISTRY_URL"))
	must(t, err)
	const device = "oapi-codegen-gw"
	t.Run("the registry's curl example is stored", func(t *testing.T) {
		var body registry.Body
		must(t, body.FromEventObject(registry.EventObject{"deviceid": device, "status": "Failed", "description": "test", "function": "get-greengrass-configurations"}))
		res, err := c.RegistryPutEventsOfBodyWithResponse(ctx, body)
		wantStatus(t, res, err, 200)
	})
	t.Run("a Salt job result in the registry's form is stored", func(t *testing.T) {
		var body registry.Body
		must(t, body.FromEventArray(registry.EventArray{{"function": "test.ping", "state": map[string]any{"jid": "20201104", "success": true, "retcode": 0}}}))
		res, err := c.RegistryPutEventsWithResponse(ctx, device, body)
		wantStatus(t, res, err, 200)
	})
	t.Run("the device's history lists both", func(t *testing.T) {
		res, err := c.RegistryListEventsWithResponse(ctx, device)
		wantStatus(t, res, err, 200)
		if n := len(*res.JSON200); n != 2 {
			t.Errorf("listed %d records, want 2", n)
		}
	})
}

// TestOgenRegistryClient does the same with ogen's client.
func TestOgenRegistryClient(t *testing.T) {
	ctx := t.Context()
	c, err := ogenregistry.NewClient(env(t, "OGEN_REGISTRY_URL"))
	must(t, err)
	const device = "ogen-gw"
	t.Run("the registry's curl example is stored", func(t *testing.T) {
		body := ogenregistry.NewEventObjectBody(ogenregistry.EventObject{"deviceid": []byte(`"` + device + `"`), "status": []byte(`"Failed"`), "function": []byte(`"get-greengrass-configurations"`)})
		res, err := c.RegistryPutEventsOfBody(ctx, body)
		answer[*ogenregistry.Added](t, res, err)
	})
	t.Run("a Salt job result in the registry's form is stored", func(t *testing.T) {
		body := ogenregistry.NewEventArrayBody(ogenregistry.EventArray{{"function": []byte(`"test.ping"`), "state": []byte(`{"jid":"20201104","success":true,"retcode":0}`)}})
		res, err := c.RegistryPutEvents(ctx, body, ogenregistry.RegistryPutEventsParams{Deviceid: device})
		answer[*ogenregistry.Added](t, res, err)
	})
	t.Run("the device's history lists both", func(t *testing.T) {
		res, err := c.RegistryListEvents(ctx, ogenregistry.RegistryListEventsParams{Deviceid: device})
		if n := len(*answer[*ogenregistry.RegistryListEventsOKApplicationJSON](t, res, err)); n != 2 {
			t.Errorf("listed %d records, want 2", n)
		}
	})
}

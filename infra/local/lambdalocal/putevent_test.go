package lambdalocal_test

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/infra/local/lambdalocal"
	"github.com/fleetlog/device-events/pkg/routes"
)

// TestPutEventBootstrapRuns runs the real put-event bootstrap, built as the
// stack builds it, as far as an invoke that needs no storage: a direct
// invoke without a device id, which put-event refuses itself. DynamoDB is
// unreachable, so an answer proves init made no call.
func TestPutEventBootstrapRuns(t *testing.T) {
	ctx := context.Background()
	root, err := bootstrap.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	boot := filepath.Join(t.TempDir(), "bootstrap")
	if err := bootstrap.Build(ctx, root, routes.PutEvent, bootstrap.HostArch, boot); err != nil {
		t.Fatal(err)
	}
	env := routes.Env(routes.PutEvent, routes.Settings{Table: "x", RetentionDays: 90})
	maps.Copy(env, map[string]string{
		"AWS_ACCESS_KEY_ID":         "AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY":     "secret",
		"AWS_SESSION_TOKEN":         "token",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1",
	})
	d := routes.Deployments[routes.PutEvent]
	s := newService(t, lambdalocal.Options{}, lambdalocal.Function{
		Name: routes.PutEvent, Bootstrap: boot, Env: env,
		MemoryMB: d.MemoryMB, Timeout: d.Timeout,
	})
	res, err := s.Invoke(ctx, routes.PutEvent, []byte(`{"type":"door_opened","text":"Barn door left open"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.FunctionError != "Unhandled" {
		t.Fatalf("got FunctionError %q and %s, want Unhandled", res.FunctionError, res.Payload)
	}
	if got := decodeErrorDoc(t, res); got.ErrorType != "invalid_event" || !strings.Contains(got.ErrorMessage, "deviceId") {
		t.Errorf("got %s %q, want invalid_event about deviceId", got.ErrorType, got.ErrorMessage)
	}
}

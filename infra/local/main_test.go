package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// TestMakeInvoke runs `local invoke` as `make invoke` does, against the
// DynamoDB Local DYNAMODB_ENDPOINT names: a good event is stored there and
// exits 0; an event the function refuses prints the function error and
// exits non-zero.
func TestMakeInvoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	client := ddbtest.Client(t)
	table := ddbtest.Table(t, client, stacktest.Table)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bootstraps := os.Getenv("DEVICE_EVENTS_BOOTSTRAPS")
	if bootstraps == "" {
		bootstraps = filepath.Join(t.TempDir(), "bootstraps")
		if out, err := exec.Command("go", "run", "../bootstrap/build", "-arch", runtime.GOARCH, "-o", bootstraps).CombinedOutput(); err != nil {
			t.Fatalf("build bootstraps: %v\n%s", err, out)
		}
	}
	invoke := func(event string) (stdout string, err error) {
		cmd := exec.Command(bin, "invoke", "-fn", "put-event", "-event", event)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+ddbtest.Endpoint(t), "TABLE_NAME="+table, "DEVICE_EVENTS_BOOTSTRAPS="+bootstraps)
		var out bytes.Buffer
		cmd.Stdout = &out
		err = cmd.Run()
		return out.String(), err
	}

	t.Run("a good event is stored in DYNAMODB_ENDPOINT's table and exits 0", func(t *testing.T) {
		out, err := invoke(write("good.json", `{"deviceid":"invoke-1","status":"Failed","description":"missing","function":"get-greengrass-configurations"}`))
		if err != nil {
			t.Fatalf("got %v, want exit 0; stdout %s", err, out)
		}
		if !strings.Contains(out, "Successfully added events for invoke-1") {
			t.Fatalf("stdout = %s, want put-event's answer", out)
		}
		items, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil || items.Count == 0 {
			t.Fatalf("the table holds %v items (%v), want the event", items.Count, err)
		}
	})
	t.Run("an invalid event prints the function error and exits non-zero", func(t *testing.T) {
		out, err := invoke(write("bad.json", `{"status":"Failed"}`))
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("got %v, want a non-zero exit; stdout %s", err, out)
		}
		if !strings.Contains(out, `"errorType":"invalid_event"`) {
			t.Fatalf("stdout = %s, want the function error of type invalid_event", out)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
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

// TestMakeAPIKey runs `local apikey` as `make apikey` does: without a
// running make run it says so and fails; with one (a local stack and the
// endpoints file make run writes) it prints a key that opens the key API
// for its devices and scopes alone.
func TestMakeAPIKey(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, stateDir), 0o700); err != nil {
		t.Fatal(err)
	}
	apikey := func(args ...string) (stdout, stderr string, err error) {
		cmd := exec.Command(bin, append([]string{"apikey"}, args...)...)
		cmd.Dir = dir
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	writeTo := func(e endpoints) {
		b, _ := json.Marshal(e)
		if err := os.WriteFile(filepath.Join(dir, stateDir, endpointsFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("without make run it says so and exits non-zero", func(t *testing.T) {
		_, stderr, err := apikey()
		if err == nil || !strings.Contains(stderr, "make run is not running") {
			t.Fatalf("got %v, stderr %q; want a failure saying make run is not running", err, stderr)
		}
	})
	t.Run("with a stale endpoints file it says so and exits non-zero", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		writeTo(endpoints{API: closed, Keys: closed})
		_, stderr, err := apikey()
		if err == nil || !strings.Contains(stderr, "make run is not running") {
			t.Fatalf("got %v, stderr %q; want a failure saying make run is not running", err, stderr)
		}
	})
	t.Run("with make run it prints a key of the scopes and devices asked for", func(t *testing.T) {
		st := stacktest.New(t)
		// The local secret make run signs its tokens with: stacktest's.
		if err := os.WriteFile(filepath.Join(dir, stateDir, "jwt-secret"), []byte(hex.EncodeToString(bytes.Repeat([]byte{9}, 32))), 0o600); err != nil {
			t.Fatal(err)
		}
		writeTo(endpoints{API: st.URL, Keys: st.KeysURL})
		stdout, stderr, err := apikey("-scopes", "events/read", "-devices", "d1", "-name", "test key")
		if err != nil {
			t.Fatalf("got %v; stderr %s", err, stderr)
		}
		key := strings.TrimSpace(stdout)
		for _, c := range []struct {
			path   string
			status int
		}{{"/devices/d1/events", 200}, {"/devices/d2/events", 403}} {
			req, _ := http.NewRequest("GET", st.KeysURL+c.path, nil)
			req.Header.Set("X-Api-Key", key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Errorf("GET %s with the key: got %d, want %d", c.path, res.StatusCode, c.status)
			}
		}
		if !strings.Contains(stderr, st.KeysURL) {
			t.Errorf("stderr %q: want how to use the key on the key API", stderr)
		}
	})
}

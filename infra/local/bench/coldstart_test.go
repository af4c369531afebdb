package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkColdStart measures the time from exec to the first answered
// invoke of the put-event bootstrap, built here as for Lambda (static,
// stripped, no RPC shim) for this machine's architecture, against the same
// for a hello-world aws-lambda-go function (testdata/hello). Each process
// gets a Lambda Runtime API of its own (runtimeAPI) serving one invoke: an
// HTTP API put of a DeLaval event, which put-event answers with a 201 after
// its one TransactWriteItems call, sent to a stub DynamoDB on loopback.
// Nothing else is reachable, so a function that fetched a secret or
// described its table at start would fail here rather than look fast.
//
// The two alternate, put-event first on even runs; at least minRuns each.
// ratio is the median of put-event over the median of hello world.
func BenchmarkColdStart(b *testing.B) {
	bins := buildOnce(b)
	dynamo := httptest.NewServer(stubDynamoDB())
	defer dynamo.Close()
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=put-event", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_LOG_FORMAT=JSON", "_HANDLER=bootstrap",
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCHMARK", "AWS_SECRET_ACCESS_KEY=benchmark", "AWS_SESSION_TOKEN=benchmark",
		"TABLE_NAME=events", "RETENTION_DAYS=90", "AWS_ENDPOINT_URL_DYNAMODB=" + dynamo.URL,
		"TZ=:UTC", "HOME=" + bins.dir, "LAMBDA_TASK_ROOT=" + bins.dir,
	}
	payload := putPayload(b)
	runs := max(b.N, minRuns)
	var put, hello, sdk []time.Duration
	b.ResetTimer()
	for i := range runs {
		if i%2 == 0 {
			put = append(put, coldStart(b, bins.put, env, payload, true))
			hello = append(hello, coldStart(b, bins.hello, env, payload, false))
			sdk = append(sdk, coldStart(b, bins.sdk, env, payload, false))
		} else {
			sdk = append(sdk, coldStart(b, bins.sdk, env, payload, false))
			hello = append(hello, coldStart(b, bins.hello, env, payload, false))
			put = append(put, coldStart(b, bins.put, env, payload, true))
		}
	}
	b.StopTimer()
	p, h, s := medianDuration(put), medianDuration(hello), medianDuration(sdk)
	b.ReportMetric(float64(p)/1e6, "put-event-ms")
	b.ReportMetric(float64(h)/1e6, "hello-ms")
	b.ReportMetric(float64(s)/1e6, "hello-sdk-ms")
	b.ReportMetric(float64(p)/float64(h), "ratio")
	b.ReportMetric(float64(s)/float64(h), "sdk-ratio")
}

// minRuns is the least number of cold starts of each binary.
const minRuns = 21

type binaries struct{ dir, put, hello, sdk string }

var (
	buildDir  string
	buildBins = sync.OnceValues(func() (binaries, error) {
		dir, err := os.MkdirTemp("", "coldstart-")
		if err != nil {
			return binaries{}, err
		}
		buildDir = dir
		bins := binaries{dir: dir, put: filepath.Join(dir, "put-event"), hello: filepath.Join(dir, "hello"), sdk: filepath.Join(dir, "hellosdk")}
		for out, pkg := range map[string]string{bins.put: "../../../functions/put-event", bins.hello: "./testdata/hello", bins.sdk: "./testdata/hellosdk"} {
			// The flags of `make build`, for this machine.
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
			if msg, err := cmd.CombinedOutput(); err != nil {
				return binaries{}, fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
			}
		}
		return bins, nil
	})
)

func buildOnce(b *testing.B) binaries {
	b.Helper()
	bins, err := buildBins()
	if err != nil {
		b.Fatal(err)
	}
	return bins
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// coldStart runs one process to its first answered invoke and returns the
// time from exec to the answer.
func coldStart(b *testing.B, bin string, env []string, payload []byte, wantPut bool) time.Duration {
	b.Helper()
	api := newRuntimeAPI(payload)
	defer api.close()
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(slices.Clone(env), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.srv.URL, "http://"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case a := <-api.answered:
		if a.err != "" {
			b.Fatalf("%s: %s\n%s", filepath.Base(bin), a.err, logs.String())
		}
		if wantPut && !bytes.Contains(a.body, []byte(`"statusCode":201`)) {
			b.Fatalf("%s answered %s, want a 201\n%s", filepath.Base(bin), a.body, logs.String())
		}
		return a.at.Sub(start)
	case <-time.After(10 * time.Second):
		b.Fatalf("%s did not answer its invoke in 10 s\n%s", filepath.Base(bin), logs.String())
	}
	return 0
}

type answer struct {
	at   time.Time
	body []byte
	err  string
}

// runtimeAPI is the part of the Lambda Runtime API a function uses for one
// invoke: the next invocation, then its response or error.
type runtimeAPI struct {
	srv      *httptest.Server
	answered chan answer
	mu       sync.Mutex
	served   bool
	done     chan struct{}
}

func newRuntimeAPI(payload []byte) *runtimeAPI {
	a := &runtimeAPI{answered: make(chan answer, 1), done: make(chan struct{})}
	const prefix = "/2018-06-01/runtime/"
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == prefix+"invocation/next":
			a.mu.Lock()
			first := !a.served
			a.served = true
			a.mu.Unlock()
			if !first { // the function waits for its next invoke until it is stopped
				select {
				case <-r.Context().Done():
				case <-a.done:
				}
				return
			}
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
			h.Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(10*time.Second).UnixMilli()))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:put-event")
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(payload)
		case r.Method == "POST" && strings.HasPrefix(r.URL.Path, prefix+"invocation/") && strings.HasSuffix(r.URL.Path, "/response"):
			at := time.Now()
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			a.answered <- answer{at: at, body: body}
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/error"):
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			a.answered <- answer{err: r.URL.Path + ": " + string(body)}
		default:
			http.NotFound(w, r)
		}
	}))
	return a
}

func (a *runtimeAPI) close() {
	close(a.done)
	a.srv.Close()
}

// stubDynamoDB answers every DynamoDB call with an empty success, as
// TransactWriteItems does.
func stubDynamoDB() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Requestid", "stub")
		_, _ = w.Write([]byte(`{}`))
	})
}

// putPayload is the HTTP API event of a DeLaval put, as API Gateway sends it.
func putPayload(b *testing.B) []byte {
	const device = "e8613951-216a-4ad7-85e3-dd963d0823c4"
	body, _ := json.Marshal(map[string]string{
		"deviceid": device, "status": "Failed", "function": "get-greengrass-configurations",
		"description": "Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment",
	})
	e := map[string]any{
		"version": "2.0", "routeKey": "POST /devices/{deviceId}/events", "rawPath": "/devices/" + device + "/events",
		"rawQueryString": "", "headers": map[string]string{"content-type": "application/json", "host": "api.example.com"},
		"pathParameters": map[string]string{"deviceId": device}, "isBase64Encoded": false, "body": string(body),
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "a1b2c3d4e5", "requestId": "JKJaXmPLvHcESHA=", "stage": "$default",
			"routeKey": "POST /devices/{deviceId}/events",
			"http":     map[string]string{"method": "POST", "path": "/devices/" + device + "/events", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
			"authorizer": map[string]any{"jwt": map[string]any{
				"claims": map[string]string{"sub": "registry", "scope": "events/write"}, "scopes": nil,
			}},
		},
	}
	payload, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

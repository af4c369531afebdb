package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/pkg/routes"
)

// BenchmarkColdStart measures, for every function, the time from exec to
// its first answered invoke and the peak memory of the process after it,
// side by side with two baselines: hello world (testdata/hello) and hello
// world with the SDK's DynamoDB client making one call (testdata/hellosdk),
// the floor of any function built on that client. Every binary is built as
// for Lambda by package bootstrap, for this machine's architecture.
//
// Each process gets a Lambda Runtime API of its own (runtimeAPI) serving
// one invoke, the function's realistic first request (firstInvokes), with
// the environment the stack gives it (routes.Env) and active tracing (an
// X-Ray daemon's UDP socket, which must receive the subsegment of a
// DynamoDB call). DynamoDB and Secrets Manager are a stub on loopback
// (stubAWS) answering in the services' form; nothing else is reachable.
//
// A third baseline is each function's own: hellosdk making the calls the
// function's first request makes (testdata/hellosdkcalls), recorded by the
// stub on a cold start of the function before the rounds and made again
// with the same request bodies, so that the stub answers the same and the
// SDK decodes the same answers; the stub checks that each of its runs made
// them all. A function's time over it (<fn>/hellosdk-same-calls) is what
// the function adds to the SDK doing its calls: its packages' init, its
// handler's work, tracing. The calls are made one after another, as the
// functions' first requests make them (<fn>-sdk-calls counts them).
//
// The binaries take turns, each starting every round one place later, at
// least minRuns rounds. The figures are medians: a function's time over
// hellosdk's (<fn>/hellosdk, and the largest as max/hellosdk), put-event's
// over hello world's (ratio), hellosdk's over hello world's (sdk-ratio),
// and each process's peak resident memory (VmHWM) after its invoke. For
// telling where the time goes, each binary's time to its request for the
// invoke (<name>-init-ms: package init and main) and its CPU time
// (<name>-cpu-ms, steadier than times on a busy machine) follow.
func BenchmarkColdStart(b *testing.B) {
	bins := buildOnce(b)
	recorder := stubAWS()
	stub := httptest.NewServer(recorder)
	defer stub.Close()
	invokes := firstInvokes()
	names := []string{hello, hellosdk}
	bin := map[string]string{hello: filepath.Join(bins, hello), hellosdk: filepath.Join(bins, hellosdk)}
	env := map[string][]string{hello: functionEnv(hello, stub.URL), hellosdk: functionEnv(hellosdk, stub.URL)}
	calls := map[string][]recordedCall{}
	for _, fn := range routes.Functions {
		if _, ok := invokes[fn]; !ok {
			b.Fatalf("no first invoke for %s in firstInvokes", fn)
		}
		names = append(names, fn)
		bin[fn], env[fn] = filepath.Join(bins, fn), functionEnv(fn, stub.URL)
		recorder.take()
		coldStart(b, bin[fn], env[fn], invokes[fn], true)
		calls[fn] = recorder.take()
		recorded, err := json.Marshal(calls[fn])
		if err != nil {
			b.Fatal(err)
		}
		floor := sameCalls(fn)
		names = append(names, floor)
		bin[floor] = filepath.Join(bins, hellosdkcalls)
		env[floor] = append(functionEnv(hellosdk, stub.URL), "HELLOSDK_CALLS="+string(recorded))
	}
	runs := max(b.N, minRuns)
	times, inits, cpus := map[string][]time.Duration{}, map[string][]time.Duration{}, map[string][]time.Duration{}
	peaks := map[string][]int64{}
	b.ResetTimer()
	for i := range runs {
		for j := range names {
			name := names[(i+j)%len(names)]
			_, traced := invokes[name] // the functions, not the baselines
			recorder.take()
			r := coldStart(b, bin[name], env[name], invokes[name], traced)
			if fn, ok := strings.CutPrefix(name, sameCalls("")); ok {
				made := recorder.take()
				if got, want := targets(made), targets(calls[fn]); !slices.Equal(got, want) {
					for _, c := range made {
						b.Logf("DEBUG %s %s", c.Target, c.Body)
					}
					for _, c := range calls[fn] {
						b.Logf("DEBUG want %s %s", c.Target, c.Body)
					}
					b.Fatalf("%s made the calls %v, want %v", name, got, want)
				}
			}
			times[name] = append(times[name], r.answered)
			inits[name] = append(inits[name], r.init)
			cpus[name] = append(cpus[name], r.cpu)
			peaks[name] = append(peaks[name], r.peakRSS)
		}
	}
	b.StopTimer()
	median := map[string]time.Duration{}
	for _, name := range names {
		median[name] = medianOf(times[name])
		b.ReportMetric(float64(median[name])/1e6, name+"-ms")
		b.ReportMetric(float64(medianOf(inits[name]))/1e6, name+"-init-ms")
		b.ReportMetric(float64(medianOf(cpus[name]))/1e6, name+"-cpu-ms")
		b.ReportMetric(float64(medianOf(peaks[name])), name+"-peak-rss-B")
	}
	var worst, worstSame float64
	var worstPeak int64
	for _, fn := range routes.Functions {
		r := float64(median[fn]) / float64(median[hellosdk])
		b.ReportMetric(r, fn+"/hellosdk")
		worst = max(worst, r)
		same := float64(median[fn]) / float64(median[sameCalls(fn)])
		b.ReportMetric(same, fn+"/hellosdk-same-calls")
		worstSame = max(worstSame, same)
		b.ReportMetric(float64(len(calls[fn])), fn+"-sdk-calls")
		worstPeak = max(worstPeak, medianOf(peaks[fn]))
	}
	b.ReportMetric(worst, "max/hellosdk")
	b.ReportMetric(worstSame, "max/hellosdk-same-calls")
	b.ReportMetric(float64(worstPeak), "max-peak-rss-B")
	b.ReportMetric(float64(median[routes.PutEvent])/float64(median[hello]), "ratio")
	b.ReportMetric(float64(median[hellosdk])/float64(median[hello]), "sdk-ratio")
}

// sameCalls names the baseline of function fn: hellosdkcalls making fn's
// calls.
func sameCalls(fn string) string { return "hellosdk-calls-of-" + fn }

// targets are the operations of calls, sorted: the functions make some
// calls side by side.
func targets(calls []recordedCall) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Target
	}
	slices.Sort(out)
	return out
}

// minRuns is the least number of cold starts of each binary.
const minRuns = 21

// The baselines' names, beside the functions'.
const (
	hello         = "hello"
	hellosdk      = "hellosdk"
	hellosdkcalls = "hellosdkcalls"
)

// functionEnv is the environment Lambda and the stack give function fn
// (the baselines get put-event's), with the AWS endpoints sent to the
// stub.
func functionEnv(fn, stubURL string) []string {
	deployed := fn
	if fn == hello || fn == hellosdk {
		deployed = routes.PutEvent
	}
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + fn, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(routes.Deployments[deployed].MemoryMB),
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn, "_HANDLER=bootstrap",
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCHMARK", "AWS_SECRET_ACCESS_KEY=benchmark", "AWS_SESSION_TOKEN=benchmark",
		"AWS_ENDPOINT_URL_DYNAMODB=" + stubURL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + stubURL,
		"TZ=:UTC", "HOME=/tmp", "LAMBDA_TASK_ROOT=/var/task", "PATH=/usr/local/bin:/usr/bin/:/bin",
	}
	vars := routes.Env(deployed, routes.Settings{
		Table: "events", RetentionDays: 90,
		PageTokenSecretARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:page-token-key-AbCdEf",
		KeyPepperSecretARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-pepper-GhIjKl",
		APIIDs:             map[routes.API]string{routes.Events: benchAPIID, routes.Registry: "f6g7h8i9j0", routes.Keys: benchKeysAPIID},
	})
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// buildBins builds every function's bootstrap and the baselines into one
// folder, each under its name, once per test binary.
var (
	buildDir  string
	buildBins = sync.OnceValues(func() (string, error) {
		root, err := bootstrap.ModuleRoot()
		if err != nil {
			return "", err
		}
		dir, err := os.MkdirTemp("", "coldstart-")
		if err != nil {
			return "", err
		}
		buildDir = dir
		ctx := context.Background()
		for _, fn := range routes.Functions {
			if err := bootstrap.Build(ctx, root, fn, bootstrap.HostArch, filepath.Join(dir, fn)); err != nil {
				return "", err
			}
		}
		for name, pkg := range map[string]string{hello: helloPackage, hellosdk: hellosdkPackage, hellosdkcalls: hellosdkcallsPackage} {
			if err := buildPackage(ctx, root, pkg, bootstrap.HostArch, filepath.Join(dir, name)); err != nil {
				return "", err
			}
		}
		return dir, nil
	})
)

func buildOnce(b *testing.B) string {
	b.Helper()
	dir, err := buildBins()
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// coldStartRun is what one cold start measured.
type coldStartRun struct {
	// answered is the time from exec to the answer, init that to the
	// request for the invoke (package init and main's setup).
	answered, init time.Duration
	// cpu is the process's CPU time (user and system, every thread), which
	// waits on nothing: it varies less than times with what else the
	// machine runs.
	cpu time.Duration
	// peakRSS is the process's peak resident memory (VmHWM) once it has
	// answered, in bytes.
	peakRSS int64
}

// coldStart runs one process to its first answered invoke, checks the
// answer (and, traced, that its DynamoDB call reached the X-Ray daemon),
// and returns what it measured.
func coldStart(b *testing.B, bin string, env []string, in firstInvoke, traced bool) coldStartRun {
	b.Helper()
	name := filepath.Base(bin)
	payload := in.payload
	if payload == nil {
		payload = []byte(`{}`)
	}
	api := newRuntimeAPI(payload)
	defer api.close()
	env = append(slices.Clone(env), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.srv.URL, "http://"))
	var xray *xrayDaemon
	if traced {
		var err error
		if xray, err = listenXRay(); err != nil {
			b.Fatal(err)
		}
		defer xray.close()
		env = append(env, "AWS_XRAY_DAEMON_ADDRESS="+xray.addr())
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := sync.OnceFunc(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	defer stop()
	var a answer
	select {
	case a = <-api.answered:
	case <-time.After(10 * time.Second):
		b.Fatalf("%s did not answer its invoke in 10 s\n%s", name, logs.String())
	}
	if a.err != "" {
		b.Fatalf("%s: %s\n%s", name, a.err, logs.String())
	}
	peak, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	if in.authorizer && !strings.Contains(string(a.body), `"isAuthorized":true`) {
		b.Fatalf("%s answered %s, want the request allowed\n%s", name, a.body, logs.String())
	}
	if in.status != 0 {
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal(a.body, &resp); err != nil || resp.StatusCode != in.status {
			b.Fatalf("%s answered %s, want a %d\n%s", name, a.body, in.status, logs.String())
		}
		for _, w := range in.want {
			if !strings.Contains(resp.Body, w) {
				b.Fatalf("%s answered %s, want it to contain %s", name, resp.Body, w)
			}
		}
	}
	if traced {
		doc, err := xray.subsegment(5 * time.Second)
		if err != nil {
			b.Fatalf("%s: %v\n%s", name, err, logs.String())
		}
		if doc["name"] != "DynamoDB" || doc["namespace"] != "aws" {
			b.Fatalf("%s sent the subsegment %v, want one of a DynamoDB call", name, doc)
		}
	}
	stop()
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return coldStartRun{answered: a.at.Sub(start), init: a.asked.Sub(start), cpu: cpu, peakRSS: peak}
}

// peakRSS is the peak resident set size of a live process (VmHWM), in
// bytes.
func peakRSS(pid int) (int64, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

type answer struct {
	asked, at time.Time // when the function asked for its invoke, when it answered
	body      []byte
	err       string
}

// runtimeAPI is the part of the Lambda Runtime API a function uses for one
// invoke: the next invocation, then its response or error.
type runtimeAPI struct {
	srv      *httptest.Server
	answered chan answer
	mu       sync.Mutex
	served   bool
	asked    time.Time
	done     chan struct{}
}

func newRuntimeAPI(payload []byte) *runtimeAPI {
	a := &runtimeAPI{answered: make(chan answer, 1), done: make(chan struct{})}
	const prefix = "/2018-06-01/runtime/"
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == prefix+"invocation/next":
			asked := time.Now()
			a.mu.Lock()
			first := !a.served
			a.served = true
			a.asked = asked
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
			a.mu.Lock()
			asked := a.asked
			a.mu.Unlock()
			a.answered <- answer{asked: asked, at: at, body: body}
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

// medianOf is the median of xs.
func medianOf[T time.Duration | int64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

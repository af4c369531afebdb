package lambdalocal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetlog/device-events/infra/local/lambdalocal"
)

// testFunctions are the commands under testdata, each a tiny aws-lambda-go
// function.
var testFunctions = []string{"echo", "sleep", "alloc", "big", "fail", "exit", "env", "hold"}

var (
	buildDir  string
	buildBins = sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "lambdalocal-")
		if err != nil {
			return "", err
		}
		buildDir = dir
		// As the stack builds bootstraps, for this machine; one go build
		// for all of them.
		args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", dir + "/"}
		for _, fn := range testFunctions {
			args = append(args, "./testdata/"+fn)
		}
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build: %v\n%s", err, msg)
		}
		return dir, nil
	})
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testFunction is the testdata command cmd as a function named name, with
// 128 MB and 10 s.
func testFunction(t *testing.T, name, cmd string) lambdalocal.Function {
	t.Helper()
	dir, err := buildBins()
	if err != nil {
		t.Fatal(err)
	}
	return lambdalocal.Function{Name: name, Bootstrap: filepath.Join(dir, cmd), MemoryMB: 128, Timeout: 10 * time.Second}
}

func newService(t *testing.T, opts lambdalocal.Options, fns ...lambdalocal.Function) *lambdalocal.Service {
	t.Helper()
	s, err := lambdalocal.New(fns, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// jsonString is a JSON string of exactly n bytes.
func jsonString(n int) []byte {
	b := bytes.Repeat([]byte("a"), n)
	b[0], b[n-1] = '"', '"'
	return b
}

// errorDoc is Lambda's error document.
type errorDoc struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func decodeErrorDoc(t *testing.T, res lambdalocal.Result) errorDoc {
	t.Helper()
	var d errorDoc
	if err := json.Unmarshal(res.Payload, &d); err != nil {
		t.Fatalf("payload %.200q is not an error document: %v", res.Payload, err)
	}
	return d
}

// pidOf is the answer of the sleep, alloc, hold and env functions: their
// process id.
func pidOf(t *testing.T, res lambdalocal.Result) int {
	t.Helper()
	if res.FunctionError != "" {
		t.Fatalf("got function error %s, want an answer", res.Payload)
	}
	var a struct{ PID int }
	if err := json.Unmarshal(res.Payload, &a.PID); err != nil {
		if err := json.Unmarshal(res.Payload, &a); err != nil {
			t.Fatalf("answer %.200q has no pid", res.Payload)
		}
	}
	return a.PID
}

func TestInvokeLimits(t *testing.T) {
	const MiB = 1 << 20
	tests := []struct {
		name        string
		cmd         string
		timeout     time.Duration // 0: 10 s
		initTimeout time.Duration // 0: Lambda's 10 s
		env         map[string]string
		invoke      string // the function invoked; "" is "fn"
		payload     []byte
		// An *InvokeError (status, type); else a function error (errorType,
		// a part of errorMessage); else an answer (payload when set, size).
		status        int
		errorType     string
		message       string
		answer        []byte
		answerSize    int
		minPeakMemory int64
	}{
		{
			name: "a request over 6 MB is refused before anything runs", cmd: "echo",
			payload: jsonString(lambdalocal.MaxRequestPayload + 1),
			status:  413, errorType: "RequestEntityTooLargeException", message: "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
		},
		{
			name: "a request of exactly 6 MB runs", cmd: "echo",
			payload: jsonString(lambdalocal.MaxRequestPayload), answer: jsonString(lambdalocal.MaxRequestPayload),
		},
		{
			name: "a response over 6 MB and 100 bytes is a function error", cmd: "big",
			payload:   []byte(`{"bytes":6291557}`),
			errorType: "Function.ResponseSizeTooLarge", message: "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).",
		},
		{
			name: "a response of exactly 6 MB and 100 bytes is answered", cmd: "big",
			payload: []byte(`{"bytes":6291556}`), answerSize: lambdalocal.MaxResponsePayload,
		},
		{
			name: "a function still running at its timeout is stopped", cmd: "sleep",
			timeout: 300 * time.Millisecond,
			payload: []byte(`{"seconds":30}`), errorType: "Sandbox.Timedout", message: "Error: Task timed out after 0.30 seconds",
		},
		{
			name: "a function going over its memory size is killed", cmd: "alloc",
			payload: []byte(`{"mb":400}`), errorType: "Runtime.OutOfMemory", message: "Error: Runtime exited with error: signal: killed",
			minPeakMemory: 128*MiB + 1,
		},
		{
			name: "a function within its memory size answers", cmd: "alloc",
			payload: []byte(`{"mb":48}`), minPeakMemory: 48 * MiB,
		},
		{
			name: "a function that exits during an invoke is a runtime exit error", cmd: "exit",
			payload: []byte(`{}`), errorType: "Runtime.ExitError", message: "Error: Runtime exited with error: exit status 3",
		},
		{
			name: "a function that exits during init is a runtime exit error", cmd: "exit",
			env:     map[string]string{"EXIT_AT_INIT": "1"},
			payload: []byte(`{}`), errorType: "Runtime.ExitError", message: "Error: Runtime exited with error: exit status 3",
		},
		{
			name: "an init error the runtime reports is the invoke's answer", cmd: "exit",
			env:     map[string]string{"INIT_ERROR": "1"},
			payload: []byte(`{}`), errorType: "Runtime.BadConfig", message: "no configuration",
		},
		{
			name: "an init that does not end in time fails the invoke", cmd: "sleep",
			env: map[string]string{"SLEEP_AT_INIT": "1"}, initTimeout: 300 * time.Millisecond,
			payload: []byte(`{}`), errorType: "Runtime.InitError", message: "Error: Init phase timed out after 0.30 seconds",
		},
		{
			name: "a function error is passed on as the function posted it", cmd: "fail",
			payload: []byte(`{}`), errorType: "invalid_thing", message: "the thing is invalid",
		},
		{
			name: "a function the service does not have is not found", cmd: "echo", invoke: "nope",
			payload: []byte(`{}`), status: 404, errorType: "ResourceNotFoundException", message: "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := testFunction(t, "fn", tt.cmd)
			fn.Env = tt.env
			if tt.timeout != 0 {
				fn.Timeout = tt.timeout
			}
			s := newService(t, lambdalocal.Options{}, fn)
			if tt.initTimeout != 0 {
				lambdalocal.SetInitTimeout(s, tt.initTimeout)
			}
			target := "fn"
			if tt.invoke != "" {
				target = tt.invoke
			}
			res, err := s.Invoke(context.Background(), target, tt.payload)
			if tt.status != 0 {
				var ie *lambdalocal.InvokeError
				if !errors.As(err, &ie) {
					t.Fatalf("got (%.200q, %v), want an *InvokeError", res.Payload, err)
				}
				if ie.Status != tt.status || ie.Type != tt.errorType || ie.Message != tt.message {
					t.Errorf("got %d %s %q, want %d %s %q", ie.Status, ie.Type, ie.Message, tt.status, tt.errorType, tt.message)
				}
				if got := s.PeakMemory("fn"); got != 0 {
					t.Errorf("an instance ran: peak memory %d, want 0", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.errorType != "" {
				if res.FunctionError != "Unhandled" {
					t.Errorf("got FunctionError %q, want Unhandled", res.FunctionError)
				}
				d := decodeErrorDoc(t, res)
				if d.ErrorType != tt.errorType || !strings.Contains(d.ErrorMessage, tt.message) {
					t.Errorf("got %s %q, want %s with %q", d.ErrorType, d.ErrorMessage, tt.errorType, tt.message)
				}
			} else {
				if res.FunctionError != "" {
					t.Fatalf("got function error %.300s, want an answer", res.Payload)
				}
				if tt.answer != nil && !bytes.Equal(res.Payload, tt.answer) {
					t.Errorf("got an answer of %d bytes, want the %d bytes sent back", len(res.Payload), len(tt.answer))
				}
				if tt.answerSize != 0 && len(res.Payload) != tt.answerSize {
					t.Errorf("got an answer of %d bytes, want %d", len(res.Payload), tt.answerSize)
				}
			}
			if res.PeakMemoryBytes < tt.minPeakMemory {
				t.Errorf("got peak memory %d, want at least %d", res.PeakMemoryBytes, tt.minPeakMemory)
			}
			if got := s.PeakMemory("fn"); got < res.PeakMemoryBytes {
				t.Errorf("got PeakMemory %d, want at least the invoke's %d", got, res.PeakMemoryBytes)
			}
		})
	}
}

func TestWarmInstanceServesTheNextInvoke(t *testing.T) {
	s := newService(t, lambdalocal.Options{}, testFunction(t, "env", "env"))
	first, err := s.Invoke(context.Background(), "env", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Invoke(context.Background(), "env", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := pidOf(t, first), pidOf(t, second); a != b {
		t.Errorf("got pids %d then %d, want one warm instance serving both", a, b)
	}
	if first.InitDuration <= 0 || second.InitDuration != 0 {
		t.Errorf("got init durations %s then %s, want a cold start then none", first.InitDuration, second.InitDuration)
	}
	if first.PeakMemoryBytes <= 0 {
		t.Errorf("got peak memory %d, want the instance's VmHWM", first.PeakMemoryBytes)
	}
}

func TestKilledInstanceIsReplaced(t *testing.T) {
	tests := []struct {
		name, cmd, fine, killing, errorType string
		setup                               func(*lambdalocal.Function)
	}{
		{name: "after a timeout", cmd: "sleep", fine: `{"seconds":0}`, killing: `{"seconds":30}`, errorType: "Sandbox.Timedout",
			setup: func(f *lambdalocal.Function) { f.Timeout = 300 * time.Millisecond }},
		{name: "after running out of memory", cmd: "alloc", fine: `{"mb":0}`, killing: `{"mb":400}`, errorType: "Runtime.OutOfMemory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := testFunction(t, "fn", tt.cmd)
			if tt.setup != nil {
				tt.setup(&fn)
			}
			s := newService(t, lambdalocal.Options{}, fn)
			ctx := context.Background()
			before, err := s.Invoke(ctx, "fn", []byte(tt.fine))
			if err != nil {
				t.Fatal(err)
			}
			killed, err := s.Invoke(ctx, "fn", []byte(tt.killing))
			if err != nil {
				t.Fatal(err)
			}
			if d := decodeErrorDoc(t, killed); d.ErrorType != tt.errorType {
				t.Fatalf("got %s %q, want %s", d.ErrorType, d.ErrorMessage, tt.errorType)
			}
			after, err := s.Invoke(ctx, "fn", []byte(tt.fine))
			if err != nil {
				t.Fatal(err)
			}
			if a, b := pidOf(t, before), pidOf(t, after); a == b {
				t.Errorf("got pid %d before and after, want a new instance", a)
			}
			if err := syscall.Kill(pidOf(t, before), 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the killed instance's process: got %v, want ESRCH", err)
			}
		})
	}
}

// holder is where instances of the hold function wait: each connects, and
// answers once it is sent a byte.
type holder struct {
	ln    net.Listener
	conns chan net.Conn
}

func newHolder(t *testing.T) *holder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{ln: ln, conns: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return h
}

func (h *holder) payload() []byte { return []byte(`{"addr":"` + h.ln.Addr().String() + `"}`) }

// arrived waits until an invocation is in the function.
func (h *holder) arrived(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-h.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(30 * time.Second): // a guard against hanging, not a measure
		t.Fatal("no invocation reached the function in 30 s")
		return nil
	}
}

func release(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
}

type invoked struct {
	res lambdalocal.Result
	err error
}

func goInvoke(s *lambdalocal.Service, name string, payload []byte) <-chan invoked {
	ch := make(chan invoked, 1)
	go func() {
		res, err := s.Invoke(context.Background(), name, payload)
		ch <- invoked{res, err}
	}()
	return ch
}

func TestParallelInvokesStartMoreInstances(t *testing.T) {
	s := newService(t, lambdalocal.Options{}, testFunction(t, "hold", "hold"))
	h := newHolder(t)
	a, b := goInvoke(s, "hold", h.payload()), goInvoke(s, "hold", h.payload())
	// Both are in a function at once before either is let go.
	c1, c2 := h.arrived(t), h.arrived(t)
	release(t, c1)
	release(t, c2)
	ra, rb := <-a, <-b
	if ra.err != nil || rb.err != nil {
		t.Fatal(ra.err, rb.err)
	}
	if pa, pb := pidOf(t, ra.res), pidOf(t, rb.res); pa == pb {
		t.Errorf("got pid %d for both, want two instances", pa)
	}
}

func TestInvokesOverMaxConcurrencyAreThrottled(t *testing.T) {
	fn := testFunction(t, "hold", "hold")
	fn.MaxConcurrency = 1
	s := newService(t, lambdalocal.Options{}, fn)
	h := newHolder(t)
	first := goInvoke(s, "hold", h.payload())
	c := h.arrived(t)

	_, err := s.Invoke(context.Background(), "hold", h.payload())
	var ie *lambdalocal.InvokeError
	if !errors.As(err, &ie) || ie.Status != 429 || ie.Type != "TooManyRequestsException" || ie.Message != "Rate Exceeded." {
		t.Errorf("second invoke: got %v, want 429 TooManyRequestsException Rate Exceeded.", err)
	}

	release(t, c)
	if r := <-first; r.err != nil || r.res.FunctionError != "" {
		t.Fatalf("first invoke: got (%s, %v), want an answer", r.res.Payload, r.err)
	}
	// The instance is free again: the next invoke is admitted.
	next := goInvoke(s, "hold", h.payload())
	release(t, h.arrived(t))
	if r := <-next; r.err != nil {
		t.Errorf("an invoke after the first ended: got %v, want it admitted", r.err)
	}
}

func TestInstanceEnvironmentIsLambdas(t *testing.T) {
	t.Setenv("LAMBDALOCAL_PARENT_ONLY", "1") // must not reach the function
	fn := testFunction(t, "env-fn", "env")
	fn.MemoryMB = 256
	fn.Env = map[string]string{
		"TABLE_NAME":                "events",
		"AWS_ACCESS_KEY_ID":         "AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY":     "secret",
		"AWS_SESSION_TOKEN":         "token",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
	}
	s := newService(t, lambdalocal.Options{Region: "eu-west-1", AccountID: "123456789012"}, fn)
	res, err := s.Invoke(context.Background(), "env-fn", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dir string
		Env map[string]string
	}
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("answer %s: %v", res.Payload, err)
	}
	root := filepath.Dir(fn.Bootstrap)
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "env-fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/env-fn",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                root,
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"TZ":                              ":UTC",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG":                            "en_US.UTF-8",
	}
	maps.Copy(want, fn.Env)
	// Set per instance, or per invoke by aws-lambda-go from the trace
	// header: checked by form.
	perInstance := map[string]*regexp.Regexp{
		"_X_AMZN_TRACE_ID":           regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`),
		"AWS_LAMBDA_RUNTIME_API":     regexp.MustCompile(`^127\.0\.0\.1:\d+$`),
		"AWS_LAMBDA_LOG_STREAM_NAME": regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`),
	}
	for k, re := range perInstance {
		if !re.MatchString(got.Env[k]) {
			t.Errorf("%s=%q, want it to match %s", k, got.Env[k], re)
		}
		delete(got.Env, k)
	}
	for _, k := range slices.Sorted(maps.Keys(got.Env)) {
		if w, ok := want[k]; !ok {
			t.Errorf("%s=%q is set, want it unset", k, got.Env[k])
		} else if got.Env[k] != w {
			t.Errorf("%s=%q, want %q", k, got.Env[k], w)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got.Env[k]; !ok {
			t.Errorf("%s is unset, want %q", k, want[k])
		}
	}
	if got.Dir != root {
		t.Errorf("working directory %s, want LAMBDA_TASK_ROOT %s", got.Dir, root)
	}
}

func TestNewRefusesWhatLambdaRefuses(t *testing.T) {
	dir, err := buildBins()
	if err != nil {
		t.Fatal(err)
	}
	good := lambdalocal.Function{Name: "fn", Bootstrap: filepath.Join(dir, "echo"), MemoryMB: 128, Timeout: time.Second}
	tests := []struct {
		name   string
		change func(*lambdalocal.Function)
		want   string
	}{
		{"a memory size under 128 MB", func(f *lambdalocal.Function) { f.MemoryMB = 64 }, "MemoryMB 64"},
		{"a memory size over 10240 MB", func(f *lambdalocal.Function) { f.MemoryMB = 10241 }, "MemoryMB 10241"},
		{"no timeout", func(f *lambdalocal.Function) { f.Timeout = 0 }, "Timeout 0s"},
		{"a timeout over 900 s", func(f *lambdalocal.Function) { f.Timeout = 901 * time.Second }, "Timeout 15m1s"},
		{"a name with a slash", func(f *lambdalocal.Function) { f.Name = "a/b" }, `name "a/b"`},
		{"a variable Lambda sets", func(f *lambdalocal.Function) { f.Env = map[string]string{"AWS_REGION": "eu-west-1"} }, "AWS_REGION is set by Lambda"},
		{"a per-instance variable Lambda sets", func(f *lambdalocal.Function) { f.Env = map[string]string{"AWS_LAMBDA_RUNTIME_API": "x"} }, "AWS_LAMBDA_RUNTIME_API is set by Lambda"},
		{"a bootstrap that does not exist", func(f *lambdalocal.Function) { f.Bootstrap = filepath.Join(dir, "nope") }, "no such file"},
		{"a bootstrap that is a folder", func(f *lambdalocal.Function) { f.Bootstrap = dir }, "not an executable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := good
			tt.change(&fn)
			_, err := lambdalocal.New([]lambdalocal.Function{fn}, lambdalocal.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Run("a function given twice", func(t *testing.T) {
		_, err := lambdalocal.New([]lambdalocal.Function{good, good}, lambdalocal.Options{})
		if err == nil || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("got %v, want an error with %q", err, "given twice")
		}
	})
}

// lineLog records each Write, as Options.Logs.
type lineLog struct {
	mu     sync.Mutex
	writes []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(p))
	return len(p), nil
}

func TestLogsAreTheProcessesLines(t *testing.T) {
	var logs lineLog
	s, err := lambdalocal.New([]lambdalocal.Function{testFunction(t, "env", "env"), testFunction(t, "fail", "fail")}, lambdalocal.Options{Logs: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pids []int
	for range 2 {
		res, err := s.Invoke(context.Background(), "env", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pidOf(t, res))
	}
	if _, err := s.Invoke(context.Background(), "fail", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s.Close() // the processes' output is all written once they are gone

	want := []string{"fail: about to fail\n"}
	for _, pid := range pids {
		want = append(want, fmt.Sprintf("env: stdout of %d\n", pid), fmt.Sprintf("env: stderr of %d\n", pid))
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, w := range want {
		if !slices.Contains(logs.writes, w) {
			t.Errorf("no write of exactly %q in %q", w, logs.writes)
		}
	}
	for _, w := range logs.writes {
		if strings.Count(w, "\n") != 1 || !strings.HasSuffix(w, "\n") {
			t.Errorf("got write %q, want one whole line", w)
		}
	}
}

func TestCloseEndsEveryInstance(t *testing.T) {
	s, err := lambdalocal.New([]lambdalocal.Function{testFunction(t, "env", "env"), testFunction(t, "hold", "hold")}, lambdalocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Invoke(context.Background(), "env", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	idle := pidOf(t, res)
	h := newHolder(t)
	busy := goInvoke(s, "hold", h.payload())
	h.arrived(t)

	s.Close()
	if err := syscall.Kill(idle, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("idle instance after Close: got %v, want ESRCH", err)
	}
	r := <-busy
	if r.err != nil {
		t.Fatal(r.err)
	}
	if d := decodeErrorDoc(t, r.res); d.ErrorType != "Runtime.ExitError" {
		t.Errorf("the invoke running at Close: got %s %q, want Runtime.ExitError", d.ErrorType, d.ErrorMessage)
	}
	if _, err := s.Invoke(context.Background(), "env", []byte(`{}`)); !errors.Is(err, lambdalocal.ErrClosed) {
		t.Errorf("invoke after Close: got %v, want ErrClosed", err)
	}
}

func TestInvocationRunsOnWhenTheCallerGoesAway(t *testing.T) {
	fn := testFunction(t, "hold", "hold")
	fn.MaxConcurrency = 1
	s := newService(t, lambdalocal.Options{}, fn)
	h := newHolder(t)
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := s.Invoke(ctx, "hold", h.payload())
		gone <- err
	}()
	c := h.arrived(t)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// Still running, it still counts against the function's concurrency.
	_, err := s.Invoke(context.Background(), "hold", h.payload())
	var ie *lambdalocal.InvokeError
	if !errors.As(err, &ie) || ie.Status != 429 {
		t.Errorf("an invoke while it runs: got %v, want 429", err)
	}
	release(t, c)
}

package lambdalocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The limits Lambda enforces that the stand-in enforces too
// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
const (
	// MaxRequestPayload is the synchronous invocation payload quota, "6 MB"
	// counted as Lambda counts it: "Request must be smaller than 6291456
	// bytes for the InvokeFunction operation".
	MaxRequestPayload = 6 << 20
	// MaxResponsePayload is the response quota as the Runtime API enforces
	// it: 6 MiB and 100 bytes (MaxPayloadSize in Amazon's
	// aws-lambda-runtime-interface-emulator).
	MaxResponsePayload = 6<<20 + 100
	// InitTimeout is how long an on-demand instance may take from its start
	// to its first request for an invocation.
	InitTimeout = 10 * time.Second
	// DefaultMaxConcurrency caps a function's invocations in flight when
	// Function.MaxConcurrency is 0: Lambda's cap is the account's 1000
	// unreserved, far more than a laptop runs.
	DefaultMaxConcurrency = 32
)

// Lambda's ranges for a function's settings (CreateFunction).
const (
	minMemoryMB = 128
	maxMemoryMB = 10240
	maxTimeout  = 900 * time.Second
)

// memoryPoll is how often a busy instance's memory is read: often enough
// that a runaway allocation is stopped near the limit, not gigabytes past it.
const memoryPoll = 5 * time.Millisecond

// Function is one Lambda function as the stack deploys it.
type Function struct {
	Name      string            // e.g. "put-event"
	Bootstrap string            // path of the executable
	Env       map[string]string // what the stack sets (TABLE_NAME, ...) plus the role's credentials and endpoints
	MemoryMB  int
	// Timeout is the function timeout. Lambda's least is 1 s; shorter ones
	// are taken so that tests reach a timeout quickly.
	Timeout time.Duration
	// MaxConcurrency caps the invocations in flight, and so the busy
	// instances (0: DefaultMaxConcurrency); beyond it an invoke is
	// throttled like Lambda's TooManyRequestsException (reserved
	// concurrency).
	MaxConcurrency int
}

// Options configure a Service.
type Options struct {
	Region, AccountID string    // defaults us-east-1, 000000000000 (ARNs, env)
	Logs              io.Writer // the processes' stdout/stderr (CloudWatch's stand-in); nil discards
}

// Service is the stand-in of the Lambda service for a set of functions. It
// is safe for concurrent use.
type Service struct {
	opts        Options
	fns         map[string]*function
	logs        *logSink // nil discards
	initTimeout time.Duration

	mu     sync.Mutex // guards closed and the start of goroutines
	closed bool
	wg     sync.WaitGroup
}

// ErrClosed is Invoke's error after Close.
var ErrClosed = errors.New("lambdalocal: service closed")

// Result is the answer to an invoke that ran.
type Result struct {
	Payload         []byte        // the function's answer, or the Lambda error document {"errorType","errorMessage"}
	FunctionError   string        // "" on success, "Unhandled" as Lambda's X-Amz-Function-Error says
	PeakMemoryBytes int64         // VmHWM of the instance after this invoke
	Duration        time.Duration // from the runtime taking the invocation to its asking for the next one, as Lambda's REPORT
	InitDuration    time.Duration // the cold start's init phase; 0 on a warm instance
}

// InvokeError is Lambda refusing the invoke itself: nothing ran.
type InvokeError struct {
	Status        int    // HTTP status
	Type, Message string // Lambda's exception name and message
	Reason        string // TooManyRequestsException's reason
}

func (e *InvokeError) Error() string { return "lambdalocal: " + e.Type + ": " + e.Message }

// functionName is what CreateFunction accepts as a name.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// New checks the functions as CreateFunction would and returns the
// service; no process starts before the first invoke.
func New(fns []Function, opts Options) (*Service, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	s := &Service{opts: opts, fns: map[string]*function{}, initTimeout: InitTimeout}
	if opts.Logs != nil {
		s.logs = &logSink{w: opts.Logs}
	}
	for _, fn := range fns {
		f, err := s.newFunction(fn)
		if err != nil {
			return nil, err
		}
		if s.fns[fn.Name] != nil {
			return nil, fmt.Errorf("lambdalocal: function %s given twice", fn.Name)
		}
		s.fns[fn.Name] = f
	}
	return s, nil
}

func (s *Service) newFunction(fn Function) (*function, error) {
	if !functionName.MatchString(fn.Name) {
		return nil, fmt.Errorf("lambdalocal: function name %q: want 1 to 64 letters, digits, - or _", fn.Name)
	}
	if fn.MemoryMB < minMemoryMB || fn.MemoryMB > maxMemoryMB {
		return nil, fmt.Errorf("lambdalocal: %s: MemoryMB %d: Lambda takes %d to %d", fn.Name, fn.MemoryMB, minMemoryMB, maxMemoryMB)
	}
	if fn.Timeout <= 0 || fn.Timeout > maxTimeout {
		return nil, fmt.Errorf("lambdalocal: %s: Timeout %s: Lambda takes up to %s", fn.Name, fn.Timeout, maxTimeout)
	}
	if fn.MaxConcurrency < 0 {
		return nil, fmt.Errorf("lambdalocal: %s: MaxConcurrency %d is negative", fn.Name, fn.MaxConcurrency)
	}
	if fn.MaxConcurrency == 0 {
		fn.MaxConcurrency = DefaultMaxConcurrency
	}
	boot, err := filepath.Abs(fn.Bootstrap)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(boot)
	if err != nil {
		return nil, fmt.Errorf("lambdalocal: %s: bootstrap: %w", fn.Name, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("lambdalocal: %s: bootstrap %s is not an executable file", fn.Name, boot)
	}
	fn.Bootstrap = boot
	env := s.lambdaEnv(fn)
	for k := range fn.Env {
		if _, ok := env[k]; ok || k == envRuntimeAPI || k == envLogStream {
			return nil, fmt.Errorf("lambdalocal: %s: environment variable %s is set by Lambda", fn.Name, k)
		}
	}
	maps.Copy(env, fn.Env)
	f := &function{Function: fn, arn: s.arn(fn.Name), all: map[*instance]struct{}{}}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		f.env = append(f.env, k+"="+env[k])
	}
	return f, nil
}

// Variables Lambda sets per instance.
const (
	envRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"
	envLogStream  = "AWS_LAMBDA_LOG_STREAM_NAME"
)

// lambdaEnv is the environment Lambda gives every instance of fn on the
// provided.al2023 runtime, but the two variables set per instance.
func (s *Service) lambdaEnv(fn Function) map[string]string {
	return map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_FORMAT":           "JSON", // the stack's LoggingFormat
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      s.opts.Region,
		"AWS_DEFAULT_REGION":              s.opts.Region,
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                filepath.Dir(fn.Bootstrap),
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"TZ":                              ":UTC",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG":                            "en_US.UTF-8",
	}
}

func (s *Service) arn(name string) string {
	return "arn:aws:lambda:" + s.opts.Region + ":" + s.opts.AccountID + ":function:" + name
}

// Invoke runs one synchronous (RequestResponse) invocation of the named
// function. A function error is a Result with FunctionError set, not an
// error; an *InvokeError says Lambda refused the invoke. When ctx ends
// first, Invoke returns ctx.Err() and the invocation runs on, as it does
// in Lambda when the caller goes away.
func (s *Service) Invoke(ctx context.Context, name string, payload []byte) (Result, error) {
	f, err := s.admit(name, int64(len(payload)))
	if err != nil {
		return Result{}, err
	}
	if !f.reserve() {
		return Result{}, &InvokeError{Status: 429, Type: "TooManyRequestsException", Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
	}
	done := make(chan Result, 1)
	payload = bytes.Clone(payload) // the caller may reuse it once ctx ends
	if !s.goroutine(func() { done <- s.run(f, payload) }) {
		f.release(nil, false)
		return Result{}, ErrClosed
	}
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// admit is the checks of an invoke before any instance is involved.
func (s *Service) admit(name string, size int64) (*function, error) {
	if size > MaxRequestPayload {
		return nil, &InvokeError{Status: 413, Type: "RequestEntityTooLargeException",
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxRequestPayload)}
	}
	f := s.fns[name]
	if f == nil {
		return nil, &InvokeError{Status: 404, Type: "ResourceNotFoundException", Message: "Function not found: " + s.arn(name)}
	}
	return f, nil
}

// goroutine runs fn unless the service is closed; Close waits for it.
func (s *Service) goroutine(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// run serves one reserved invocation on an idle instance of f, or a new
// one, and releases the reservation.
func (s *Service) run(f *function, payload []byte) Result {
	for {
		inv := newInvocation(payload)
		in := f.idleInstance()
		cold := in == nil
		if cold {
			var err error
			if in, err = s.start(f); err != nil {
				f.release(nil, false)
				if errors.Is(err, ErrClosed) { // as Close ends a running one
					return functionError(inv.id, "Runtime.ExitError", "Runtime exited with error: signal: killed")
				}
				return functionError(inv.id, "Runtime.InvalidEntrypoint", err.Error())
			}
		}
		res, keep, retry := in.serve(inv, cold)
		if retry {
			// An idle instance that died never saw the invocation: Lambda
			// would not have placed it there. The reservation stays.
			continue
		}
		f.release(in, keep)
		return res
	}
}

// Close kills every instance and waits until they are gone.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, f := range s.fns {
		for _, in := range f.instances() {
			in.kill()
		}
	}
	s.wg.Wait()
}

// PeakMemory reports the largest VmHWM any instance of the function
// reached, in bytes.
func (s *Service) PeakMemory(name string) int64 {
	f := s.fns[name]
	if f == nil {
		return 0
	}
	return f.peak.Load()
}

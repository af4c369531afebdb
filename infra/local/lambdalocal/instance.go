package lambdalocal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// function is a Function and its instances.
type function struct {
	Function
	arn  string
	env  []string // Lambda's and the stack's variables, but the per-instance ones
	peak atomic.Int64

	mu   sync.Mutex
	busy int                    // invocations admitted and not released: Lambda's concurrency
	idle []*instance            // waiting at /next, the most recently used last
	all  map[*instance]struct{} // every instance not yet exited
}

// reserve counts an invocation against MaxConcurrency.
func (f *function) reserve() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy >= f.MaxConcurrency {
		return false
	}
	f.busy++
	return true
}

// release ends a reservation, and keeps the instance for the next
// invocation when keep says it is healthy and it has not exited since.
func (f *function) release(in *instance, keep bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy--
	if keep && !in.hasExited() {
		f.idle = append(f.idle, in)
	}
}

// idleInstance takes the most recently used idle instance (warmest), or
// returns nil.
func (f *function) idleInstance() *instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.idle)
	if n == 0 {
		return nil
	}
	in := f.idle[n-1]
	f.idle = f.idle[:n-1]
	return in
}

func (f *function) instances() []*instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Keys(f.all))
}

func (f *function) forget(in *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.all, in)
	f.idle = slices.DeleteFunc(f.idle, func(x *instance) bool { return x == in })
}

func (f *function) notePeak(b int64) {
	for {
		old := f.peak.Load()
		if b <= old || f.peak.CompareAndSwap(old, b) {
			return
		}
	}
}

// instance is one execution environment: a bootstrap process and the
// Runtime API it talks to.
type instance struct {
	fn      *function
	s       *Service
	cmd     *exec.Cmd
	srv     *http.Server
	started time.Time
	peak    atomic.Int64 // the last VmHWM read, in bytes

	ready   chan struct{}    // the runtime asked for an invocation after init or an answer
	next    chan *invocation // what the runtime's next /next gets
	initErr chan outcome     // what it posted to /init/error
	exited  chan struct{}    // closed once the process is reaped; state is then set
	state   *os.ProcessState

	mu          sync.Mutex
	initialized bool        // it has called /next once
	waitingNext bool        // between init or an answer and the following /next
	current     *invocation // taken and not answered
}

// invocation is one invoke as the Runtime API hands it over.
type invocation struct {
	id, trace string
	payload   []byte
	taken     chan time.Time // when the runtime took it
	answered  chan outcome
}

// outcome is what the runtime answered, or what Lambda answers for it.
type outcome struct {
	payload []byte
	failed  bool
}

func newInvocation(payload []byte) *invocation {
	return &invocation{
		id:      uuid.NewString(),
		trace:   fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8)),
		payload: payload,
		taken:   make(chan time.Time, 1),
		// One answer is taken; a second is refused, so this never blocks.
		answered: make(chan outcome, 1),
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start launches a new instance of f: its Runtime API listener, then its
// bootstrap in the environment Lambda gives it.
func (s *Service) start(f *function) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	in := &instance{
		fn: f, s: s,
		ready:       make(chan struct{}, 1),
		next:        make(chan *invocation, 1),
		initErr:     make(chan outcome, 1),
		exited:      make(chan struct{}),
		waitingNext: true,
	}
	in.srv = &http.Server{Handler: in.runtimeAPI(), ReadHeaderTimeout: time.Minute}
	cmd := exec.Command(f.Bootstrap)
	cmd.Dir = filepath.Dir(f.Bootstrap)
	cmd.Env = append(slices.Clip(f.env),
		envRuntimeAPI+"="+ln.Addr().String(),
		envLogStream+"="+time.Now().UTC().Format("2006/01/02")+"/[$LATEST]"+randomHex(16))
	// Its own process group keeps a terminal's Ctrl-C from reaching it
	// (the service decides when it ends); Pdeathsig ends it with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	var outs []*lineWriter
	if s.logs != nil {
		outs = []*lineWriter{{sink: s.logs}, {sink: s.logs}}
		cmd.Stdout, cmd.Stderr = outs[0], outs[1]
	}
	// Something the bootstrap started that still holds its output must not
	// keep the instance from being reaped.
	cmd.WaitDelay = time.Second
	in.cmd = cmd
	in.started = time.Now()
	if err := cmd.Start(); err != nil {
		ln.Close()
		return nil, err
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		f.mu.Lock()
		f.all[in] = struct{}{}
		f.mu.Unlock()
	}
	// start runs inside a goroutine Close waits for, so the count is not
	// zero here even while Close waits.
	s.wg.Add(2)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		_ = in.srv.Serve(ln)
	}()
	go func() {
		defer s.wg.Done()
		_ = cmd.Wait()
		for _, w := range outs {
			w.flush()
		}
		in.state = cmd.ProcessState
		close(in.exited)
		_ = in.srv.Close()
		f.forget(in)
	}()
	if closed {
		in.stop()
		return nil, ErrClosed
	}
	return in, nil
}

func (in *instance) hasExited() bool {
	select {
	case <-in.exited:
		return true
	default:
		return false
	}
}

// kill ends the process as Lambda ends a sandbox it resets.
func (in *instance) kill() { _ = in.cmd.Process.Kill() }

// stop kills the process and waits until it is reaped.
func (in *instance) stop() {
	in.kill()
	<-in.exited
}

// serve runs inv on the instance, cold (just started) or warm (idle at
// /next). keep says the instance may serve again; retry says a warm
// instance had died before taking inv, so that inv never ran.
func (in *instance) serve(inv *invocation, cold bool) (res Result, keep, retry bool) {
	var initDuration time.Duration
	var taken time.Time
	done := func(r Result) Result {
		r.InitDuration = initDuration
		if !taken.IsZero() {
			r.Duration = time.Since(taken)
		}
		r.PeakMemoryBytes = in.peak.Load()
		return r
	}
	poll := time.NewTicker(memoryPoll)
	defer poll.Stop()

	if cold {
		initTimer := time.NewTimer(time.Until(in.started.Add(in.s.initTimeout)))
		defer initTimer.Stop()
	initPhase:
		for {
			select {
			case <-in.ready:
				initDuration = time.Since(in.started)
				break initPhase
			case o := <-in.initErr:
				in.stop()
				return done(Result{Payload: o.payload, FunctionError: unhandled}), false, false
			case <-in.exited:
				return done(in.exitError(inv)), false, false
			case <-initTimer.C:
				in.stop()
				return done(functionError(inv.id, "Runtime.InitError",
					fmt.Sprintf("Init phase timed out after %.2f seconds", in.s.initTimeout.Seconds()))), false, false
			case <-poll.C:
				if in.overMemory() {
					in.stop()
					return done(in.outOfMemory(inv)), false, false
				}
			}
		}
	}

	in.next <- inv // the instance is idle: nothing is waiting there
	for taken.IsZero() {
		select {
		case taken = <-inv.taken:
		case <-in.exited:
			if !cold {
				return Result{}, false, true
			}
			return done(in.exitError(inv)), false, false
		case <-poll.C:
			if in.overMemory() {
				in.stop()
				return done(in.outOfMemory(inv)), false, false
			}
		}
	}

	// The invocation lasts until the runtime asks for the next one, as in
	// Lambda: the function timeout covers that too.
	deadline := time.NewTimer(time.Until(taken.Add(in.fn.Timeout)))
	defer deadline.Stop()
	var answer *outcome
invokePhase:
	for {
		select {
		case o := <-inv.answered:
			answer = &o
		case <-in.ready:
			if answer == nil { // sent before the runtime could ask again
				o := <-inv.answered
				answer = &o
			}
			keep = true
			break invokePhase
		case <-in.exited:
			if answer == nil {
				// An answer sent just before the exit (a response refused
				// as too large, after which the runtime gives up) is the
				// invoke's: select may have seen the exit first.
				select {
				case o := <-inv.answered:
					answer = &o
				default:
					return done(in.exitError(inv)), false, false
				}
			}
			break invokePhase
		case <-deadline.C:
			in.stop()
			if answer == nil {
				return done(functionError(inv.id, "Sandbox.Timedout",
					fmt.Sprintf("Task timed out after %.2f seconds", in.fn.Timeout.Seconds()))), false, false
			}
			break invokePhase
		case <-poll.C:
			if in.overMemory() {
				in.stop()
				return done(in.outOfMemory(inv)), false, false
			}
		}
	}
	// The last read, after the invocation: a peak between two polls is
	// still over the limit, as Lambda's cgroup would have seen it.
	if keep && in.overMemory() {
		in.stop()
		return done(in.outOfMemory(inv)), false, false
	}
	r := Result{Payload: answer.payload}
	if answer.failed {
		r.FunctionError = unhandled
	}
	return done(r), keep, false
}

// unhandled is X-Amz-Function-Error's value for every function error since
// Lambda stopped telling "Handled" apart.
const unhandled = "Unhandled"

// functionError is the error document Lambda answers for an invocation it
// ended itself, worded as Lambda words it.
func functionError(requestID, errorType, message string) Result {
	doc, _ := json.Marshal(errorDocument{Type: errorType, Message: "RequestId: " + requestID + " Error: " + message})
	return Result{Payload: doc, FunctionError: unhandled}
}

type errorDocument struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (in *instance) exitError(inv *invocation) Result {
	if in.state.Success() {
		return functionError(inv.id, "Runtime.ExitError", "Runtime exited without providing a reason")
	}
	return functionError(inv.id, "Runtime.ExitError", "Runtime exited with error: "+in.state.String())
}

// outOfMemory is what Lambda answers when the sandbox's memory limit
// killed the runtime (SIGKILL from the cgroup's OOM killer).
func (in *instance) outOfMemory(inv *invocation) Result {
	return functionError(inv.id, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
}

// overMemory reads the process's VmHWM and says whether it is over the
// function's memory size. VmHWM rather than VmRSS: a peak between two
// reads counts, as it would against Lambda's hard limit.
func (in *instance) overMemory() bool {
	hwm, ok := vmHWM(in.cmd.Process.Pid)
	if !ok {
		return false
	}
	in.peak.Store(hwm)
	in.fn.notePeak(hwm)
	return hwm > int64(in.fn.MemoryMB)<<20
}

// vmHWM is the peak resident set size of a live process, in bytes.
func vmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmHWM:"))
	if !ok { // a zombie has no memory lines
		return 0, false
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if err != nil {
		return 0, false
	}
	return kb << 10, true
}

// runtimeAPI is the Lambda Runtime API of one instance
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
func (in *instance) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", in.nextInvocation)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		in.answer(w, r, false)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		in.answer(w, r, true)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", in.initError)
	return mux
}

// nextInvocation ends the previous invocation (or init) and blocks until
// the instance is given the next.
func (in *instance) nextInvocation(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	ended := in.waitingNext
	in.waitingNext, in.initialized = false, true
	in.mu.Unlock()
	if ended {
		select {
		case in.ready <- struct{}{}:
		default:
		}
	}
	var inv *invocation
	select {
	case inv = <-in.next:
	case <-r.Context().Done():
		return
	case <-in.exited:
		return
	}
	now := time.Now()
	in.mu.Lock()
	in.current = inv
	in.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(now.Add(in.fn.Timeout).UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", in.fn.arn)
	h.Set("Lambda-Runtime-Trace-Id", inv.trace)
	h.Set("Content-Type", "application/json")
	inv.taken <- now
	_, _ = w.Write(inv.payload)
}

// answer takes the runtime's response (or error) to the current
// invocation.
func (in *instance) answer(w http.ResponseWriter, r *http.Request, failed bool) {
	body, size, err := readUpTo(r.Body, MaxResponsePayload)
	if err != nil {
		return // the runtime went away mid-answer; its exit ends the invocation
	}
	if failed {
		body = errorBody(body, r.Header)
	}
	in.mu.Lock()
	inv := in.current
	if inv == nil || inv.id != r.PathValue("id") {
		in.mu.Unlock()
		runtimeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return
	}
	in.current, in.waitingNext = nil, true
	tooLarge := size > MaxResponsePayload
	if tooLarge {
		doc, _ := json.Marshal(errorDocument{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", size, MaxResponsePayload)})
		inv.answered <- outcome{payload: doc, failed: true}
	} else {
		inv.answered <- outcome{payload: body, failed: failed}
	}
	in.mu.Unlock()
	if tooLarge {
		runtimeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponsePayload))
		return
	}
	accepted(w)
}

// initError takes a runtime's report that its init failed; the invoke
// waiting for the instance answers it.
func (in *instance) initError(w http.ResponseWriter, r *http.Request) {
	body, _, err := readUpTo(r.Body, MaxResponsePayload)
	if err != nil {
		return
	}
	in.mu.Lock()
	initialized := in.initialized
	in.mu.Unlock()
	if initialized {
		runtimeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "init/error after init")
		return
	}
	select {
	case in.initErr <- outcome{payload: errorBody(body, r.Header), failed: true}:
	default:
	}
	accepted(w)
}

// errorBody is the error document a runtime posted, passed on as Lambda
// passes it; one without a body gets its Lambda-Runtime-Function-Error-Type.
func errorBody(body []byte, h http.Header) []byte {
	if len(bytes.TrimSpace(body)) > 0 {
		return body
	}
	t := h.Get("Lambda-Runtime-Function-Error-Type")
	if t == "" {
		t = "Runtime.Unknown"
	}
	doc, _ := json.Marshal(errorDocument{Type: t})
	return doc
}

// readUpTo reads a body of up to limit bytes; over it, it returns no body
// and the whole size.
func readUpTo(r io.Reader, limit int64) ([]byte, int64, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) <= limit {
		return b, int64(len(b)), nil
	}
	n, err := io.Copy(io.Discard, r)
	return nil, int64(len(b)) + n, err
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`+"\n")
}

func runtimeAPIError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorDocument{Type: errorType, Message: message})
}

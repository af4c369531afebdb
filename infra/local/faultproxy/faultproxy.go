// Package faultproxy is an HTTP proxy to put between an SDK client and
// DynamoDB Local that misbehaves the way a network and DynamoDB do: it adds
// latency, drops connections before or after the request reached DynamoDB,
// answers late, and answers throttling and internal-server errors in
// DynamoDB's own JSON protocol. `make loadtest FAULTS=1` uses it to check
// that the API answers 429/503 (never 500), never hangs, and never loses or
// duplicates an acknowledged write when the store misbehaves.
//
// A proxy rather than a mock client: the SDK's retryer, timeouts and error
// deserialisation all run exactly as in Lambda.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Faults says how often each fault happens, as a probability per request
// in [0, 1]. The zero value forwards every request untouched.
type Faults struct {
	// Delay holds a request for up to MaxDelay (uniformly) before
	// forwarding it.
	Delay    float64
	MaxDelay time.Duration
	// Stall forwards a request, then holds DynamoDB's answer for
	// StallFor: with StallFor above the client's attempt timeout, the
	// write took effect but the client saw a timeout.
	Stall    float64
	StallFor time.Duration
	// DropBefore closes the client's connection without forwarding: the
	// request never reached DynamoDB.
	DropBefore float64
	// DropAfter forwards the request, reads DynamoDB's answer and closes
	// the client's connection instead of answering: the request took
	// effect, the client cannot know it.
	DropAfter float64
	// Throttle answers a throttling error (alternately ThrottlingException
	// and ProvisionedThroughputExceededException) without forwarding.
	Throttle float64
	// ServerError answers a 500 InternalServerError without forwarding.
	ServerError float64
	// Hang holds a request without forwarding or answering until the
	// client gives up: a DynamoDB that accepts connections and never
	// answers.
	Hang float64
}

// Counts are the faults a proxy injected, and the requests it could not
// forward because DynamoDB was down.
type Counts struct {
	Requests      int64
	Delayed       int64
	Stalled       int64
	DroppedBefore int64
	DroppedAfter  int64
	Throttled     int64
	ServerErrors  int64
	Hung          int64
	// Unreachable counts requests whose connection was closed because
	// DynamoDB could not be reached (it was killed) or the proxy was set
	// down: the consequence of a kill, not counted as injected.
	Unreachable int64
}

// Injected is the number of faults the proxy itself injected.
func (c Counts) Injected() int64 {
	return c.Delayed + c.Stalled + c.DroppedBefore + c.DroppedAfter + c.Throttled + c.ServerErrors + c.Hung
}

// Proxy forwards HTTP requests to one target.
type Proxy struct {
	target    *url.URL
	srv       *http.Server
	ln        net.Listener
	transport *http.Transport

	mu     sync.Mutex
	faults Faults
	down   bool
	rng    *rand.Rand

	requests, delayed, stalled, droppedBefore, droppedAfter, throttled, serverErrors, hung, unreachable atomic.Int64
}

// Start serves a proxy to target (such as http://127.0.0.1:8000) on a free
// loopback port. seed makes the sequence of dice rolls repeatable.
func Start(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not a URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		target: u, ln: ln,
		transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is where the proxy listens.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Set replaces the faults from the next request on.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

// SetDown makes the proxy act as if DynamoDB were down (true): it closes
// every connection without forwarding, as it does when the target does not
// answer. It keeps the handlers away from a DynamoDB Local that was just
// restarted until its data has been checked.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// Counts returns what the proxy did so far.
func (p *Proxy) Counts() Counts {
	return Counts{
		Requests: p.requests.Load(), Delayed: p.delayed.Load(), Stalled: p.stalled.Load(),
		DroppedBefore: p.droppedBefore.Load(), DroppedAfter: p.droppedAfter.Load(),
		Throttled: p.throttled.Load(), ServerErrors: p.serverErrors.Load(), Hung: p.hung.Load(), Unreachable: p.unreachable.Load(),
	}
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.transport.CloseIdleConnections()
	return err
}

// maxHang bounds a hung request, should its client never give up.
const maxHang = time.Minute

// plan is what happens to one request, decided when it arrives.
type plan struct {
	down                bool
	delay               time.Duration
	stall               time.Duration
	dropBefore, dropAft bool
	throttle            string
	serverError         bool
	hang                bool
}

func (p *Proxy) roll() plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	if p.down {
		return plan{down: true}
	}
	hit := func(rate float64) bool { return rate > 0 && p.rng.Float64() < rate }
	var pl plan
	switch {
	case hit(f.Throttle):
		pl.throttle = throttleCodes[p.rng.IntN(len(throttleCodes))]
		return pl
	case hit(f.ServerError):
		pl.serverError = true
		return pl
	case hit(f.DropBefore):
		pl.dropBefore = true
		return pl
	case hit(f.Hang):
		pl.hang = true
		return pl
	}
	if hit(f.Delay) && f.MaxDelay > 0 {
		pl.delay = time.Duration(p.rng.Int64N(int64(f.MaxDelay)) + 1)
	}
	switch {
	case hit(f.DropAfter):
		pl.dropAft = true
	case hit(f.Stall):
		pl.stall = f.StallFor
	}
	return pl
}

// throttleCodes are the two errors DynamoDB throttles with.
var throttleCodes = []string{"ThrottlingException", "ProvisionedThroughputExceededException"}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	pl := p.roll()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		drop(w)
		return
	}
	switch {
	case pl.down:
		p.unreachable.Add(1)
		drop(w)
		return
	case pl.throttle != "":
		p.throttled.Add(1)
		writeError(w, http.StatusBadRequest, pl.throttle, "Throughput exceeds the current capacity for one or more resources (injected by faultproxy).")
		return
	case pl.serverError:
		p.serverErrors.Add(1)
		writeError(w, http.StatusInternalServerError, "InternalServerError", "Internal server error (injected by faultproxy)")
		return
	case pl.dropBefore:
		p.droppedBefore.Add(1)
		drop(w)
		return
	case pl.hang:
		p.hung.Add(1)
		wait(r.Context(), maxHang)
		drop(w)
		return
	}
	if pl.delay > 0 {
		p.delayed.Add(1)
		if !wait(r.Context(), pl.delay) {
			return // the client gave up: nothing was forwarded
		}
	}
	res, err := p.forward(r, body)
	if err != nil {
		// DynamoDB is down: close the connection, as a reset would.
		p.unreachable.Add(1)
		drop(w)
		return
	}
	answer, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		p.unreachable.Add(1)
		drop(w)
		return
	}
	switch {
	case pl.dropAft:
		p.droppedAfter.Add(1)
		drop(w)
		return
	case pl.stall > 0:
		p.stalled.Add(1)
		if !wait(r.Context(), pl.stall) {
			return
		}
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(answer)
}

// forward sends the request on to the target. It does not follow the
// client's context: once forwarded, a request runs to its end on the
// server, as it would in DynamoDB, whoever stops waiting for it.
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	u := *p.target
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	out.Header = r.Header.Clone()
	out.Host = p.target.Host
	res, err := p.transport.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	res.Body = cancelOnClose{res.Body, cancel}
	return res, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// writeError answers in DynamoDB's JSON protocol (awsJson1_0), whose
// errors the SDK reads from the body's __type.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("faultproxy-%d", time.Now().UnixNano()))
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, code, msg)
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, not an orderly close
	}
	_ = conn.Close()
}

// wait sleeps d, or returns false when the client goes away first.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

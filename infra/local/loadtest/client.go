package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// request is one API call, sent as often as its retries take.
type request struct {
	method, path string
	query        url.Values
	header       map[string]string
	body         []byte
	// deliberate are the error statuses this request provokes on purpose:
	// answers with them are expected and not counted as errors.
	deliberate []int
	// timeout of the first attempt when not zero: an impatient client that
	// hangs up before the answer (the server may still carry it out).
	firstTimeout time.Duration
	// goneOnRetry: a 404 after an attempt that may have been carried out is
	// that attempt's doing (a delete whose answer was lost), not an error.
	goneOnRetry bool
}

// answer is what one attempt got.
type answer struct {
	status  int // 0: no answer (transport error or timeout)
	header  http.Header
	body    []byte
	err     error
	latency time.Duration
}

// code is the contract's error code of an error answer.
func (a answer) code() string {
	var b struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(a.body, &b)
	return b.Error
}

// retryable answers: the request was not carried out (429), or may have
// been (503, no answer); the caller decides whether it may repeat it.
func (a answer) retryable() bool {
	return a.status == 0 || a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable
}

// maybeApplied: the request may have taken effect although the answer
// does not say so.
func (a answer) maybeApplied() bool {
	return a.status == 0 || a.status >= 500
}

// retryAfter is the server's Retry-After, or a short backoff.
func (a answer) retryAfter(attempt int) time.Duration {
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Duration(100<<min(attempt, 4)) * time.Millisecond
}

// caller sends requests for one worker and records what it saw.
type caller struct {
	http  *http.Client
	base  string
	token string
	stats *stats
}

// attempt sends req once.
func (c *caller) attempt(ctx context.Context, req request, timeout time.Duration) answer {
	target := c.base + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	start := time.Now()
	hr, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return answer{err: err}
	}
	hr.Header.Set("Authorization", "Bearer "+c.token)
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		return answer{err: err, latency: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, body: b, latency: time.Since(start)}
	if err != nil {
		a.status, a.err = 0, err
	}
	return a
}

// send makes one attempt and records it. impatient attempts (a deliberate
// short timeout) that get no answer are counted apart, not as errors.
func (c *caller) send(ctx context.Context, req request, timeout time.Duration, gone bool) answer {
	a := c.attempt(ctx, req, timeout)
	if ctx.Err() != nil && a.status == 0 {
		return a // the run is being stopped: not an answer of the API
	}
	deliberate := slices.Contains(req.deliberate, a.status) || (gone && a.status == http.StatusNotFound)
	c.stats.record(a, deliberate, timeout > 0 && a.status == 0)
	return a
}

// do sends req, repeating it on 429 and, when repeatable, on 503 and on no
// answer, waiting as Retry-After says, at most attempts times. It returns
// the last answer and whether an attempt before it may have been carried
// out.
func (c *caller) do(ctx context.Context, req request, attempts int, repeatable bool) (a answer, prior bool) {
	for i := 0; ; i++ {
		timeout := time.Duration(0)
		if i == 0 {
			timeout = req.firstTimeout
		}
		a = c.send(ctx, req, timeout, req.goneOnRetry && prior)
		if ctx.Err() != nil || !a.retryable() || (!repeatable && a.status != http.StatusTooManyRequests) || i+1 >= attempts {
			return a, prior
		}
		prior = prior || a.maybeApplied()
		if !pause(ctx, a.retryAfter(i)) {
			return a, prior
		}
	}
}

// pause waits d, or returns false when ctx ends first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

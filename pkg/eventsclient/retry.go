package eventsclient

import (
	"context"
	"crypto/rand"
	"math/big"
	"net/http"
	"time"
)

// RetryPolicy bounds the retries of throttled (429) and unavailable (503)
// answers and of network errors.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 1 never retries.
	MaxAttempts int
	// BaseDelay is the first backoff; it doubles with every attempt.
	BaseDelay time.Duration
	// MaxDelay caps a backoff. A Retry-After longer than this ends the
	// retries: the call returns the *APIError, whose RetryAfter says how
	// long the server wants.
	MaxDelay time.Duration
}

// DefaultRetryPolicy is the policy of a client built without WithRetry.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}

func (p RetryPolicy) orDefault() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetryPolicy.MaxDelay
	}
	return p
}

// delay is the wait before attempt n+1 after attempt n failed: the
// server's Retry-After when it gave one, else an exponential backoff with
// jitter so that clients that failed together do not retry together. ok is
// false when the wait would exceed MaxDelay.
func (p RetryPolicy) delay(attempt int, retryAfter time.Duration) (d time.Duration, ok bool) {
	if retryAfter > 0 {
		return retryAfter, retryAfter <= p.MaxDelay
	}
	d = p.BaseDelay << (attempt - 1)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	if half := int64(d / 2); half > 0 {
		j, err := rand.Int(rand.Reader, big.NewInt(half))
		if err == nil {
			d = time.Duration(half + j.Int64())
		}
	}
	return d, true
}

// retryable says whether an answer is worth another attempt. A 429 means
// the request was not carried out; a 502, 503 or 504 may have been, so only
// a request that cannot take effect twice is retried on those.
func retryable(status int, idempotent bool) bool {
	switch status {
	case http.StatusTooManyRequests:
		return true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return idempotent
	}
	return false
}

// sleepFunc waits d or until ctx ends.
type sleepFunc func(ctx context.Context, d time.Duration) error

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

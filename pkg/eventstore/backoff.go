package eventstore

import (
	"context"
	"crypto/rand"
	"time"
)

// The store's one retry policy. A write that collided with another (a
// transaction conflict, or a condition that failed because another writer
// went first), that DynamoDB left unprocessed, or that found another
// attempt of its own request ahead of it, is tried again after a wait of
// full jitter over 5 ms doubling up to 320 ms, at most maxRetries times.
// (The SDK's retryer, under these loops, retries throttling and transport
// failures of each single call.)
const maxRetries = 8

// backoff counts the attempts of one retry loop and waits between them.
type backoff struct{ attempt, limit int }

// newBackoff allows limit attempts after the first.
func newBackoff(limit int) *backoff { return &backoff{limit: limit} }

// wait waits before another attempt. It returns spent once the attempts
// are used up, and ErrUnavailable when the context ends first.
func (b *backoff) wait(ctx context.Context, spent error) error {
	if b.attempt >= b.limit {
		return spent
	}
	d := time.Duration(1<<min(b.attempt, 6)) * 5 * time.Millisecond
	b.attempt++
	var r [2]byte
	_, _ = rand.Read(r[:])
	d = d * time.Duration(int(r[0])<<8|int(r[1])) / 65536
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return &storeError{ErrUnavailable, ctx.Err()}
	case <-t.C:
		return nil
	}
}

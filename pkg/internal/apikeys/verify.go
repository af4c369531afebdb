package apikeys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

// ErrUnauthorized is a key that does not open the API: unknown, revoked,
// expired, or with the wrong secret. Which of them is never told.
var ErrUnauthorized = errors.New("unauthorized")

// DefaultCacheTTL is how long a Verifier keeps a key it read: a revocation
// takes effect within it. A new key works at once (an id not in the cache
// is read), and an unknown id is never cached.
const DefaultCacheTTL = 30 * time.Second

// UseInterval is how often, at most, a key's last use is recorded.
const UseInterval = time.Hour

// Store is what a Verifier needs of the event store.
type Store interface {
	APIKey(ctx context.Context, id string) (eventstore.APIKey, error)
	TouchAPIKey(ctx context.Context, id string, at time.Time, every time.Duration) error
}

// Pepper returns the pepper of the keys' hashes.
type Pepper func(ctx context.Context) ([]byte, error)

// Verifier checks keys against the store, keeping the keys it read for
// CacheTTL. It is safe for concurrent use.
type Verifier struct {
	store  Store
	pepper Pepper
	now    func() time.Time
	ttl    time.Duration
	// dummy is the hash an unknown id is compared with, so that it costs
	// the work of a wrong secret.
	dummy []byte

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	key  eventstore.APIKey
	read time.Time
}

// VerifierOptions tune a Verifier; the zero value is the defaults.
type VerifierOptions struct {
	// CacheTTL is how long a key read is kept: DefaultCacheTTL when zero,
	// nothing kept when negative.
	CacheTTL time.Duration
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// NewVerifier returns a verifier of keys in store, hashed under pepper.
func NewVerifier(store Store, pepper Pepper, o VerifierOptions) *Verifier {
	v := &Verifier{store: store, pepper: pepper, now: o.Now, ttl: o.CacheTTL,
		dummy: make([]byte, 32), cache: map[string]cached{}}
	_, _ = rand.Read(v.dummy)
	if v.now == nil {
		v.now = time.Now
	}
	if v.ttl == 0 {
		v.ttl = DefaultCacheTTL
	}
	return v
}

// maxCached bounds the cache: past it, the stale entries go.
const maxCached = 4096

// Verify returns the stored key k stands for, or ErrUnauthorized. It reads
// the store at most once, and not at all for a key read within the cache
// time. An unknown id costs what a wrong secret costs: one read, one HMAC
// and a constant-time comparison. Any other error is the store's or the
// pepper's failure.
func (v *Verifier) Verify(ctx context.Context, k Key) (eventstore.APIKey, error) {
	pepper, err := v.pepper(ctx)
	if err != nil {
		return eventstore.APIKey{}, fmt.Errorf("the key pepper: %w", err)
	}
	now := v.now()
	stored, known, err := v.lookup(ctx, k.ID, now)
	if err != nil {
		return eventstore.APIKey{}, err
	}
	want := stored.Hash
	if !known {
		want = v.dummy
	}
	if !hmac.Equal(Hash(pepper, k.Secret), want) || !known {
		return eventstore.APIKey{}, ErrUnauthorized
	}
	if !stored.Expires.IsZero() && !now.Before(stored.Expires) {
		return eventstore.APIKey{}, ErrUnauthorized
	}
	return stored, nil
}

// lookup returns the key of id from the cache, or reads it.
func (v *Verifier) lookup(ctx context.Context, id string, now time.Time) (eventstore.APIKey, bool, error) {
	v.mu.Lock()
	c, ok := v.cache[id]
	v.mu.Unlock()
	if ok && now.Sub(c.read) < v.ttl {
		return c.key, true, nil
	}
	key, err := v.store.APIKey(ctx, id)
	if errors.Is(err, eventstore.ErrNoAPIKey) {
		v.mu.Lock()
		delete(v.cache, id) // revoked
		v.mu.Unlock()
		return eventstore.APIKey{}, false, nil
	}
	if err != nil {
		return eventstore.APIKey{}, false, err
	}
	if v.ttl > 0 {
		v.mu.Lock()
		if len(v.cache) >= maxCached {
			for k, c := range v.cache {
				if now.Sub(c.read) >= v.ttl {
					delete(v.cache, k)
				}
			}
		}
		v.cache[id] = cached{key: key, read: now}
		v.mu.Unlock()
	}
	return key, true, nil
}

// RecordUse records a use of key, a verified key, unless one was recorded
// within UseInterval: at most one write an hour per key (and instance).
func (v *Verifier) RecordUse(ctx context.Context, key eventstore.APIKey) error {
	now := v.now()
	if now.Sub(key.LastUsed) < UseInterval {
		return nil
	}
	if err := v.store.TouchAPIKey(ctx, key.ID, now, UseInterval); err != nil {
		return err
	}
	v.mu.Lock()
	if c, ok := v.cache[key.ID]; ok {
		c.key.LastUsed = now
		v.cache[key.ID] = c
	}
	v.mu.Unlock()
	return nil
}

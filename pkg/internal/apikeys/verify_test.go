package apikeys

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

var t0 = time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)

var testPepper = bytes.Repeat([]byte("pepper-"), 5)

func pepperOf(p []byte) Pepper { return func(context.Context) ([]byte, error) { return p, nil } }

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newTestStore(t *testing.T) *eventstore.Store {
	t.Helper()
	c := ddbtest.Client(t)
	table := ddbtest.Table(t, c, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	return eventstore.New(c, table, eventstore.Options{Retention: -1})
}

// storeKey stores a new key as the api-keys function does, and returns it.
func storeKey(t *testing.T, s *eventstore.Store, at time.Time, scopes, devices []string, expires time.Time) Key {
	t.Helper()
	k := New(at)
	err := s.CreateAPIKey(context.Background(), eventstore.APIKey{ID: k.ID, Name: "test", Scopes: scopes, Devices: devices,
		Created: at, Expires: expires, Hash: Hash(testPepper, k.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// reads is what verifying k read from the store, in read units.
func reads(t *testing.T, v *Verifier, k Key) (float64, error) {
	t.Helper()
	m := &eventstore.Meter{}
	_, err := v.Verify(eventstore.WithMeter(context.Background(), m), k)
	r, _ := m.Units()
	return r, err
}

func TestVerifyingKeys(t *testing.T) {
	s := newTestStore(t)
	clk := &clock{t: t0}
	v := NewVerifier(s, pepperOf(testPepper), VerifierOptions{Now: clk.now})
	rw := []string{"events/read", "events/write"}
	good := storeKey(t, s, t0, rw, []string{"d1"}, time.Time{})
	expiring := storeKey(t, s, t0, rw, nil, t0.Add(time.Hour))
	unknown := New(t0)

	for _, c := range []struct {
		name  string
		key   Key
		at    time.Time
		want  error
		reads float64
	}{
		{"a good key is verified with one read", good, t0, nil, 1},
		{"the same key again is verified from the cache, without a read", good, t0.Add(time.Second), nil, 0},
		{"a wrong secret of a cached key is refused without a read", Key{good.ID, unknown.Secret}, t0.Add(time.Second), ErrUnauthorized, 0},
		{"an unknown id is refused with one read", unknown, t0, ErrUnauthorized, 1},
		{"an unknown id is not cached: it costs its read again", unknown, t0, ErrUnauthorized, 1},
		{"a wrong secret of a key not cached costs one read, as an unknown id", Key{expiring.ID, unknown.Secret}, t0, ErrUnauthorized, 1},
		{"a key before its expiry is verified", expiring, t0.Add(59 * time.Minute), nil, 1},
		{"a key at its expiry is refused", expiring, t0.Add(time.Hour), ErrUnauthorized, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk.set(c.at)
			got, err := reads(t, v, c.key)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if got != c.reads {
				t.Errorf("read %v units, want %v", got, c.reads)
			}
		})
	}

	t.Run("a revoked key works until its cache time ends, and not after", func(t *testing.T) {
		clk.set(t0.Add(2 * time.Hour))
		if _, err := reads(t, v, good); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAPIKey(context.Background(), good.ID); err != nil {
			t.Fatal(err)
		}
		clk.set(t0.Add(2*time.Hour + DefaultCacheTTL - time.Millisecond))
		if _, err := reads(t, v, good); err != nil {
			t.Fatalf("within the cache time: got %v, want the key still verified", err)
		}
		clk.set(t0.Add(2*time.Hour + DefaultCacheTTL))
		if _, err := reads(t, v, good); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("at the end of the cache time: got %v, want ErrUnauthorized", err)
		}
	})
	t.Run("a key made after its id was refused works at once", func(t *testing.T) {
		k := New(t0)
		if _, err := reads(t, v, k); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("before: got %v, want ErrUnauthorized", err)
		}
		if err := s.CreateAPIKey(context.Background(), eventstore.APIKey{ID: k.ID, Name: "late", Scopes: rw, Created: t0, Hash: Hash(testPepper, k.Secret)}); err != nil {
			t.Fatal(err)
		}
		if _, err := reads(t, v, k); err != nil {
			t.Fatalf("after: got %v, want the key verified", err)
		}
	})
	t.Run("without a cache every verification reads", func(t *testing.T) {
		k := storeKey(t, s, t0, rw, nil, time.Time{})
		nocache := NewVerifier(s, pepperOf(testPepper), VerifierOptions{Now: clk.now, CacheTTL: -1})
		for range 2 {
			if r, err := reads(t, nocache, k); err != nil || r != 1 {
				t.Fatalf("got %v units, %v; want 1 unit, verified", r, err)
			}
		}
	})
	t.Run("a key hashed under another pepper is refused", func(t *testing.T) {
		k := storeKey(t, s, t0, rw, nil, time.Time{})
		other := NewVerifier(s, pepperOf([]byte("another pepper, another hash")), VerifierOptions{Now: clk.now})
		if _, err := reads(t, other, k); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v, want ErrUnauthorized", err)
		}
	})
	t.Run("a pepper that cannot be read is a failure, not a refusal", func(t *testing.T) {
		broken := NewVerifier(s, func(context.Context) ([]byte, error) { return nil, errors.New("secrets manager is down") }, VerifierOptions{})
		_, err := broken.Verify(context.Background(), good)
		if err == nil || errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v, want a failure other than ErrUnauthorized", err)
		}
	})
}

func TestAKeysUseIsRecordedOnceAnHour(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	clk := &clock{t: t0}
	v := NewVerifier(s, pepperOf(testPepper), VerifierOptions{Now: clk.now, CacheTTL: 24 * time.Hour})
	k := storeKey(t, s, t0, []string{"events/read"}, nil, time.Time{})
	for i, c := range []struct {
		at     time.Time
		writes float64
		want   time.Time
	}{
		{t0, 1, t0},
		{t0.Add(30 * time.Minute), 0, t0},
		{t0.Add(59 * time.Minute), 0, t0},
		{t0.Add(61 * time.Minute), 1, t0.Add(61 * time.Minute)},
	} {
		clk.set(c.at)
		key, err := v.Verify(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		m := &eventstore.Meter{}
		if err := v.RecordUse(eventstore.WithMeter(ctx, m), key); err != nil {
			t.Fatal(err)
		}
		if _, w := m.Units(); w != c.writes {
			t.Errorf("use %d at +%s: %v write units, want %v", i, c.at.Sub(t0), w, c.writes)
		}
		stored, err := s.APIKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !stored.LastUsed.Equal(c.want) {
			t.Errorf("use %d: last used %s, want %s", i, stored.LastUsed, c.want)
		}
	}
}

package eventsclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// step is what the front server does with one attempt.
type step struct {
	status     int // answer this error instead of passing the request on
	retryAfter int
	// lost passes the request on, then drops the connection without
	// answering: the request was carried out, its answer never arrives.
	lost bool
	// reset drops the connection without passing the request on.
	reset bool
}

var pass = step{}

// front stands between a client and the stack and fails attempts as its
// plan says, recording the Idempotency-Key of each.
type front struct {
	t     *testing.T
	proxy *httputil.ReverseProxy
	plan  []step

	mu   sync.Mutex
	keys []string
}

func newFront(t *testing.T, backend string, plan ...step) (*front, string) {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{t: t, proxy: httputil.NewSingleHostReverseProxy(u), plan: plan}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.keys)
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	f.mu.Unlock()
	s := pass
	if n < len(f.plan) {
		s = f.plan[n]
	}
	switch {
	case s.lost:
		f.proxy.ServeHTTP(httptest.NewRecorder(), r)
		f.drop(w)
	case s.reset:
		f.drop(w)
	case s.status != 0:
		w.Header().Set("Content-Type", "application/json")
		if s.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(s.retryAfter))
		}
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(`{"error":"unavailable","message":"retry later","requestId":"front"}`))
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

func (f *front) drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		f.t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

func (f *front) attempts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...)
}

// noReuse keeps net/http from retrying a request on a fresh connection by
// itself, which it does for requests with an Idempotency-Key when a reused
// connection breaks: the client's own retries are under test.
func noReuse() Option {
	return WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}})
}

func TestPutEventsRetriesWithTheSameIdempotencyKey(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	check, _ := s.client(s.url)
	two := []NewEvent{{Type: "a"}, {Type: "b"}}
	cases := []struct {
		name       string
		events     []NewEvent
		plan       []step
		policy     RetryPolicy
		wantStatus int // of the answer, or of the *APIError
		wantErr    bool
		// wantWaits are the exact waits; nil means any backoff, one per retry.
		wantWaits []time.Duration
		attempts  int
		stored    int
	}{
		{"a 503 is retried after its Retry-After and stores once", two, []step{{status: 503, retryAfter: 1}}, DefaultRetryPolicy, 201, false, []time.Duration{time.Second}, 2, 2},
		{"a 429 is retried after its Retry-After", two[:1], []step{{status: 429, retryAfter: 2}}, DefaultRetryPolicy, 201, false, []time.Duration{2 * time.Second}, 2, 1},
		{"a single event whose answer was lost is answered 200 and stored once", two[:1], []step{{lost: true}}, DefaultRetryPolicy, 200, false, nil, 2, 1},
		{"a batch whose answer was lost is answered 200 and stored once", two, []step{{lost: true}}, DefaultRetryPolicy, 200, false, nil, 2, 2},
		{"a dropped connection is retried", two, []step{{reset: true}}, DefaultRetryPolicy, 201, false, nil, 2, 2},
		{"a Retry-After longer than MaxDelay ends the retries", two, []step{{status: 503, retryAfter: 120}}, DefaultRetryPolicy, 503, true, []time.Duration{}, 1, 0},
		{"attempts stop at MaxAttempts", two, []step{{status: 503, retryAfter: 1}, {status: 503, retryAfter: 1}, {status: 503, retryAfter: 1}}, RetryPolicy{MaxAttempts: 3, MaxDelay: time.Minute}, 503, true, []time.Duration{time.Second, time.Second}, 3, 0},
		{"an invalid event is not retried", []NewEvent{{Type: ""}}, nil, DefaultRetryPolicy, 400, true, []time.Duration{}, 1, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			device := "retry-" + strconv.Itoa(i)
			f, url := newFront(t, s.url, tc.plan...)
			c, z := s.client(url, noReuse(), WithRetry(tc.policy))
			res, err := c.PutEvents(ctx, device, tc.events)
			var ae *APIError
			switch {
			case tc.wantErr && (!errors.As(err, &ae) || ae.Status != tc.wantStatus):
				t.Fatalf("PutEvents error = %v, want an *APIError %d", err, tc.wantStatus)
			case !tc.wantErr && err != nil:
				t.Fatalf("PutEvents: %v", err)
			case !tc.wantErr && res.Status != tc.wantStatus:
				t.Errorf("Status = %d, want %d", res.Status, tc.wantStatus)
			}
			keys := f.attempts()
			if len(keys) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(keys), tc.attempts)
			}
			if keys[0] == "" || slices.ContainsFunc(keys, func(k string) bool { return k != keys[0] }) {
				t.Errorf("Idempotency-Key of each attempt = %q, want one key, the same on every attempt", keys)
			}
			waits := z.waits()
			if tc.wantWaits != nil && !slices.Equal(waits, tc.wantWaits) {
				t.Errorf("waits = %v, want %v", waits, tc.wantWaits)
			}
			if len(waits) != tc.attempts-1 {
				t.Errorf("%d waits, want %d (one before each retry)", len(waits), tc.attempts-1)
			}
			p, err := check.ListPage(ctx, ListQuery{DeviceID: device})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != tc.stored {
				t.Errorf("%d events stored, want %d", len(p.Events), tc.stored)
			}
		})
	}
}

func TestDeleteEventIsDoneWhenItsRetryFindsTheEventGone(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	check, _ := s.client(s.url)
	cases := []struct {
		name     string
		first    step
		exists   bool
		wantCode string // "" for success
	}{
		{"a delete whose answer was lost is done", step{lost: true}, true, ""},
		{"a delete after a 503 that finds the event gone is done", step{status: 503, retryAfter: 1}, false, ""},
		{"a delete after a 429 that finds no event is 404", step{status: 429, retryAfter: 1}, false, CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"
			if tc.exists {
				res, err := check.PutEvents(ctx, "robot-7", []NewEvent{{Type: "t"}})
				if err != nil {
					t.Fatal(err)
				}
				id = res.Events[0].ID
			}
			f, url := newFront(t, s.url, tc.first)
			c, _ := s.client(url, noReuse())
			err := c.DeleteEvent(ctx, "robot-7", id, 0)
			var ae *APIError
			switch {
			case tc.wantCode == "" && err != nil:
				t.Fatalf("DeleteEvent = %v, want nil", err)
			case tc.wantCode != "" && (!errors.As(err, &ae) || ae.Code != tc.wantCode):
				t.Fatalf("DeleteEvent = %v, want an *APIError %s", err, tc.wantCode)
			}
			if n := len(f.attempts()); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
			if _, err := check.GetEvent(ctx, "robot-7", id); !errors.As(err, &ae) || ae.Status != 404 {
				t.Errorf("GetEvent after the delete = %v, want 404", err)
			}
		})
	}
}

func TestPatchIsRetriedOnlyWhereItCannotApplyTwice(t *testing.T) {
	cases := []struct {
		name         string
		ifMatch      int64
		first        step
		wantAttempts int
		wantErr      bool
	}{
		{"an unconditional patch is not retried on 503", 0, step{status: 503, retryAfter: 1}, 1, true},
		{"an unconditional patch is retried on 429", 0, step{status: 429, retryAfter: 1}, 2, false},
		{"a conditional patch is retried on 503", 3, step{status: 503, retryAfter: 1}, 2, false},
		{"an unconditional patch is not retried after a dropped connection", 0, step{reset: true}, 1, true},
		{"a conditional patch is retried after a dropped connection", 3, step{reset: true}, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, answer{status: 200, body: eventJSON})
			f, url := newFront(t, rec.url, tc.first)
			c, _ := newTestClient(t, url, StaticToken("t"), noReuse())
			_, err := c.PatchEvent(context.Background(), "robot-7", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", Patch{State: StateAcknowledged}, tc.ifMatch)
			if (err != nil) != tc.wantErr {
				t.Fatalf("PatchEvent error = %v, want an error: %v", err, tc.wantErr)
			}
			if n := len(f.attempts()); n != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
			}
		})
	}
}

func TestAWaitEndsWithTheContext(t *testing.T) {
	_, url := newFront(t, "http://127.0.0.1:1", step{status: 503, retryAfter: 1})
	c, err := New(url, StaticToken("t"), noReuse())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel() // the caller gives up while the client waits
		return sleep(ctx, d)
	}
	_, err = c.GetEvent(ctx, "d", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
	var ae *APIError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ae) || ae.Status != 503 {
		t.Errorf("error = %v, want the 503 and context.Canceled", err)
	}
}

// Package eventsclient is the Go client of the device events API, for
// services and Lambda functions that store and read device events.
//
// Client calls the API over HTTPS with a bearer token and covers every
// route; or, with a device API key (APIKey), the key API, which serves the
// same routes to keys. Direct stores events by invoking the put-event function through
// the Lambda API, as other functions of the same account do; it needs
// lambda:InvokeFunction rather than a token.
//
// Both retry throttled and unavailable answers and network errors, waiting
// as Retry-After says, and both make every PutEvents call idempotent: a
// call without an idempotency key gets one of its own, so that its retries
// never store an event twice.
//
// Errors from the API are *APIError; use errors.As to read the status and
// the error code.
package eventsclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TokenSource gives the bearer token for a request. It is asked before
// every attempt, so it may refresh an expiring token.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc is a function that is a TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// StaticToken is a TokenSource of one token, for tests and scripts.
func StaticToken(token string) TokenSource {
	return TokenFunc(func(context.Context) (string, error) { return token, nil })
}

// APIKey is the credential of a device API key (dek_<id>_<secret>, made
// with POST /apikeys), sent as the X-Api-Key header rather than as a
// bearer token. Keys are taken by the key API only: give New its base URL
// (the stack output KeysApiUrl; locally http://127.0.0.1:3002). The events
// API answers a key 401.
func APIKey(key string) TokenSource { return apiKey(key) }

type apiKey string

func (k apiKey) Token(context.Context) (string, error) { return string(k), nil }

// Option configures a Client or a Direct.
type Option func(*settings)

type settings struct {
	http  *http.Client
	retry RetryPolicy
}

// WithHTTPClient sends the requests of a Client with c (http.DefaultClient
// otherwise). Direct ignores it.
func WithHTTPClient(c *http.Client) Option { return func(s *settings) { s.http = c } }

// WithRetry replaces DefaultRetryPolicy.
func WithRetry(p RetryPolicy) Option { return func(s *settings) { s.retry = p } }

func newSettings(opts []Option) settings {
	s := settings{http: http.DefaultClient, retry: DefaultRetryPolicy}
	for _, o := range opts {
		o(&s)
	}
	s.retry = s.retry.orDefault()
	return s
}

// Client calls the device events API over HTTPS. It is safe for concurrent
// use.
type Client struct {
	base   *url.URL
	tokens TokenSource
	http   *http.Client
	retry  RetryPolicy
	sleep  sleepFunc
}

// New returns a client of the API at baseURL (the stage's URL, such as
// https://abc123.execute-api.eu-west-1.amazonaws.com). Plain http is
// accepted for a loopback host only, so that tokens never cross a network
// in the clear.
func New(baseURL string, tokens TokenSource, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("eventsclient: base URL: %w", err)
	}
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("eventsclient: base URL %q has no host", baseURL)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return nil, fmt.Errorf("eventsclient: base URL %q: http is for loopback hosts only; use https", baseURL)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("eventsclient: base URL %q: scheme must be https", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("eventsclient: base URL %q has a query or fragment", baseURL)
	}
	if tokens == nil {
		return nil, errors.New("eventsclient: no token source")
	}
	s := newSettings(opts)
	return &Client{base: u, tokens: tokens, http: s.http, retry: s.retry, sleep: sleep}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PutOption configures a PutEvents call.
type PutOption func(*putOptions)

type putOptions struct {
	key string
}

// WithIdempotencyKey makes the call idempotent across calls: repeating it
// with the same key and events answers the events stored the first time
// (PutResult.Status 200) instead of storing them again. Without it, a call
// is idempotent across its own retries only.
//
// Over HTTPS the key is sent as the Idempotency-Key header: for one event
// it is that event's key, for a batch the key of the batch as a whole, whose
// events may then have no IdempotencyKey of their own. Through Direct,
// which has no header, a batch's events get the keys key.0, key.1, ...
func WithIdempotencyKey(key string) PutOption { return func(o *putOptions) { o.key = key } }

// MaxBatch is the most events one PutEvents call takes.
const MaxBatch = 100

// PutEvents stores events of one device: all of them, or none if one is
// invalid.
func (c *Client) PutEvents(ctx context.Context, deviceID string, events []NewEvent, opts ...PutOption) (*PutResult, error) {
	o := putOptions{}
	for _, f := range opts {
		f(&o)
	}
	body, key, err := httpPutBody(events, o.key)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	r, err := c.do(ctx, call{method: http.MethodPost, path: devicePath(deviceID, "events"), header: h, body: body,
		contentType: "application/json", idempotent: true})
	if err != nil {
		return nil, err
	}
	var ans putAnswer
	if err := r.decode(&ans); err != nil {
		return nil, err
	}
	return &PutResult{Message: ans.Message, Events: ans.Events, Abridged: ans.Abridged, Status: r.status, Location: r.header.Get("Location")}, nil
}

// httpPutBody writes a put-event body and picks the Idempotency-Key header
// that makes its retries safe.
func httpPutBody(events []NewEvent, key string) (body []byte, header string, err error) {
	if err := checkBatch(events); err != nil {
		return nil, "", err
	}
	if len(events) == 1 {
		ev := events[0]
		switch {
		case key == "":
			key = ev.IdempotencyKey
		case ev.IdempotencyKey != "" && ev.IdempotencyKey != key:
			return nil, "", errors.New("eventsclient: the event's IdempotencyKey differs from WithIdempotencyKey")
		}
		if key == "" {
			key = newKey()
		}
		body, err = json.Marshal(ev.wire("", ev.IdempotencyKey))
		return body, key, err
	}
	own := 0
	for _, ev := range events {
		if ev.IdempotencyKey != "" {
			own++
		}
	}
	if key != "" && own > 0 {
		return nil, "", errors.New("eventsclient: WithIdempotencyKey keys a batch as a whole; its events may not have keys of their own")
	}
	// A batch is keyed as a whole, unless its events bring keys: the
	// server takes one or the other, so then the events without a key get
	// keys derived from one made for this call.
	var base string
	switch {
	case own > 0:
		base = newKey()
	case key != "":
		header = key
	default:
		header = newKey()
	}
	wire := struct {
		Events []newEventJSON `json:"events"`
	}{make([]newEventJSON, len(events))}
	for i, ev := range events {
		k := ev.IdempotencyKey
		if k == "" && base != "" {
			k = base + "." + strconv.Itoa(i)
		}
		wire.Events[i] = ev.wire("", k)
	}
	body, err = json.Marshal(wire)
	return body, header, err
}

func checkBatch(events []NewEvent) error {
	if len(events) == 0 || len(events) > MaxBatch {
		return fmt.Errorf("eventsclient: PutEvents takes 1 to %d events, not %d", MaxBatch, len(events))
	}
	return nil
}

// newKey is an idempotency key for one call: 26 random base32 characters.
func newKey() string { return rand.Text() }

// GetEvent returns one event.
func (c *Client) GetEvent(ctx context.Context, deviceID, eventID string) (Event, error) {
	var ev Event
	r, err := c.do(ctx, call{method: http.MethodGet, path: devicePath(deviceID, "events", eventID), idempotent: true})
	if err == nil {
		err = r.decode(&ev)
	}
	return ev, err
}

// ListPage returns one page of events; q.PageToken picks the page.
func (c *Client) ListPage(ctx context.Context, q ListQuery) (Page, error) {
	var p Page
	path := "/events"
	if q.DeviceID != "" {
		path = devicePath(q.DeviceID, "events")
	}
	v := url.Values{}
	setList(v, "type", q.Types)
	setTime(v, "from", q.From)
	setTime(v, "to", q.To)
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	setList(v, "severity", q.Severities)
	setList(v, "state", q.States)
	if q.Ascending {
		v.Set("order", "asc")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.PageToken != "" {
		v.Set("pageToken", q.PageToken)
	}
	r, err := c.do(ctx, call{method: http.MethodGet, path: path, query: v, idempotent: true})
	if err == nil {
		err = r.decode(&p)
	}
	return p, err
}

// ListEvents returns the events q selects, fetching the pages as the loop
// consumes them, partial and empty ones included, until a page has no
// token. An error ends the sequence:
//
//	for ev, err := range c.ListEvents(ctx, q) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (c *Client) ListEvents(ctx context.Context, q ListQuery) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			p, err := c.ListPage(ctx, q)
			if err != nil {
				yield(Event{}, err)
				return
			}
			for _, ev := range p.Events {
				if !yield(ev, nil) {
					return
				}
			}
			if p.NextPageToken == "" {
				return
			}
			q.PageToken = p.NextPageToken
		}
	}
}

// Aggregate counts events per hour or day.
func (c *Client) Aggregate(ctx context.Context, q AggregateQuery) (Aggregate, error) {
	var a Aggregate
	path := "/aggregates"
	if q.DeviceID != "" {
		path = devicePath(q.DeviceID, "aggregates")
	}
	v := url.Values{}
	setList(v, "type", q.Types)
	v.Set("interval", string(q.Interval))
	setTime(v, "from", q.From)
	setTime(v, "to", q.To)
	if q.TZ != "" {
		v.Set("tz", q.TZ)
	}
	r, err := c.do(ctx, call{method: http.MethodGet, path: path, query: v, idempotent: true})
	if err == nil {
		err = r.decode(&a)
	}
	return a, err
}

// PatchEvent changes an event and returns it as it is after the change.
// ifMatch, when not 0, is the version the change is conditional on: another
// version is a 412 precondition_failed.
//
// Only a conditional patch is retried on 502/503/504 or a network error,
// where the first attempt may have been carried out: a second attempt of
// it cannot apply twice (it fails with 412 instead).
func (c *Client) PatchEvent(ctx context.Context, deviceID, eventID string, p Patch, ifMatch int64) (Event, error) {
	var ev Event
	body, err := json.Marshal(p)
	if err != nil {
		return ev, fmt.Errorf("eventsclient: patch: %w", err)
	}
	r, err := c.do(ctx, call{method: http.MethodPatch, path: devicePath(deviceID, "events", eventID), header: ifMatchHeader(ifMatch),
		body: body, contentType: "application/merge-patch+json", idempotent: ifMatch > 0})
	if err == nil {
		err = r.decode(&ev)
	}
	return ev, err
}

// DeleteEvent deletes an event; ifMatch as for PatchEvent. When a retry
// finds the event gone after an attempt that may have been carried out (its
// answer was lost, or was a 502, 503 or 504), that attempt deleted it, and
// DeleteEvent returns nil.
func (c *Client) DeleteEvent(ctx context.Context, deviceID, eventID string, ifMatch int64) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: devicePath(deviceID, "events", eventID), header: ifMatchHeader(ifMatch),
		idempotent: true, goneOnRetryIsDone: true})
	return err
}

// DeleteEvents deletes the events of a device that q selects, calling the
// API as many times as it takes (it deletes at most 1000 per call), and
// returns how many went (with q.DryRun, how many would). On an error it
// returns the count so far with the error.
func (c *Client) DeleteEvents(ctx context.Context, deviceID string, q BulkDeleteQuery) (int64, error) {
	v := url.Values{}
	setList(v, "type", q.Types)
	setTime(v, "from", q.From)
	setTime(v, "to", q.To)
	if q.All {
		v.Set("all", "true")
	}
	if q.DryRun {
		v.Set("dryRun", "true")
	}
	var total int64
	for {
		r, err := c.do(ctx, call{method: http.MethodDelete, path: devicePath(deviceID, "events"), query: v, idempotent: true})
		if err != nil {
			return total, err
		}
		var ans struct {
			Deleted       int64  `json:"deleted"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := r.decode(&ans); err != nil {
			return total, err
		}
		total += ans.Deleted
		if ans.NextPageToken == "" {
			return total, nil
		}
		v.Set("pageToken", ans.NextPageToken)
	}
}

func ifMatchHeader(version int64) http.Header {
	h := http.Header{}
	if version > 0 {
		h.Set("If-Match", `"`+strconv.FormatInt(version, 10)+`"`)
	}
	return h
}

// devicePath is /devices/<device>/<rest...>, each segment escaped.
func devicePath(deviceID string, rest ...string) string {
	var b strings.Builder
	b.WriteString("/devices/" + url.PathEscape(deviceID))
	for _, s := range rest {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}

func setList[T ~string](v url.Values, name string, items []T) {
	if len(items) == 0 {
		return
	}
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = string(it)
	}
	v.Set(name, strings.Join(s, ","))
}

func setTime(v url.Values, name string, t time.Time) {
	if !t.IsZero() {
		v.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

// call is one API request, attempted as often as the retry policy allows.
type call struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
	contentType  string
	// idempotent requests are retried on answers that may come after the
	// request was carried out, and on network errors.
	idempotent bool
	// goneOnRetryIsDone makes a 404 a success after an attempt that may
	// have been carried out: a delete whose answer was lost.
	goneOnRetryIsDone bool
}

// reply is a successful answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) decode(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("eventsclient: reading the %d answer: %w", r.status, err)
	}
	return nil
}

// maxAnswer bounds what is read of an answer: Lambda's answers are at most
// 6 MB.
const maxAnswer = 16 << 20

func (c *Client) do(ctx context.Context, k call) (reply, error) {
	target := c.base.String() + k.path
	if len(k.query) > 0 {
		target += "?" + k.query.Encode()
	}
	// carriedOut: an earlier attempt may have been carried out although
	// its answer said otherwise or never came.
	carriedOut := false
	for attempt := 1; ; attempt++ {
		r, err := c.attempt(ctx, target, k)
		if err == nil {
			return r, nil
		}
		var ae *APIError
		switch {
		case errors.As(err, &ae):
			if ae.Status == http.StatusNotFound && k.goneOnRetryIsDone && carriedOut {
				return reply{status: http.StatusNoContent, header: http.Header{}}, nil
			}
			if !retryable(ae.Status, k.idempotent) {
				return reply{}, err
			}
			carriedOut = carriedOut || ae.Status != http.StatusTooManyRequests
		case ctx.Err() != nil:
			return reply{}, err
		case !k.idempotent, errors.Is(err, errNoToken):
			return reply{}, err
		default:
			carriedOut = true
		}
		if attempt >= c.retry.MaxAttempts {
			return reply{}, err
		}
		var after time.Duration
		if ae != nil {
			after = ae.RetryAfter
		}
		d, ok := c.retry.delay(attempt, after)
		if !ok {
			return reply{}, err
		}
		if werr := c.sleep(ctx, d); werr != nil {
			return reply{}, fmt.Errorf("%w (gave up waiting to retry: %w)", err, werr)
		}
	}
}

var errNoToken = errors.New("eventsclient: no token")

func (c *Client) attempt(ctx context.Context, target string, k call) (reply, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return reply{}, fmt.Errorf("%w: %w", errNoToken, err)
	}
	var body io.Reader
	if k.body != nil {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, target, body)
	if err != nil {
		return reply{}, fmt.Errorf("eventsclient: %w", err)
	}
	for name, vs := range k.header {
		req.Header[name] = vs
	}
	if _, isKey := c.tokens.(apiKey); isKey {
		req.Header.Set("X-Api-Key", tok)
	} else {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	if k.contentType != "" {
		req.Header.Set("Content-Type", k.contentType)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("eventsclient: %s %s: %w", k.method, k.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return reply{}, fmt.Errorf("eventsclient: %s %s: reading the answer: %w", k.method, k.path, err)
	}
	if res.StatusCode >= 400 {
		return reply{}, apiError(res.StatusCode, res.Header, b)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}, nil
}

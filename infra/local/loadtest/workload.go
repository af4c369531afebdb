package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
)

// The mix: devices, types (one hot), and what a worker does how often.
var (
	devices = []string{"lt-dev-0", "lt-dev-1", "lt-dev-2", "lt-dev-3", "lt-dev-4", "lt-dev-5", "lt-dev-6", "lt-dev-7"}
	types   = []string{hotType, "temp_high", "battery_low", "fw_update", "reboot"}
)

const (
	hotType = "door_opened"
	// window is how far back event times go: several hourly buckets.
	window = 6 * time.Hour
)

type op int

const (
	opPut op = iota
	opBatch
	opRetry
	opReuseKey
	opList
	opListFleet
	opGet
	opGetMissing
	opAggregate
	opPatch
	opDelete
)

// weights of the ops, out of their sum.
var weights = []struct {
	op op
	w  int
}{
	{opPut, 22}, {opBatch, 12}, {opRetry, 8}, {opReuseKey, 2},
	{opList, 11}, {opListFleet, 3}, {opGet, 7}, {opGetMissing, 1},
	{opAggregate, 8}, {opPatch, 19}, {opDelete, 7},
}

// Put attempts: the first and up to five retries (Retry-After is 1-2 s).
const (
	putAttempts  = 6
	readAttempts = 4
)

type worker struct {
	id    int
	c     *caller
	h     *history
	rng   *rand.Rand
	start time.Time // event times are before it
	seq   int
}

// run does operations until over says the run is over.
func (w *worker) run(ctx context.Context, over func() bool) {
	total := 0
	for _, x := range weights {
		total += x.w
	}
	for !over() && ctx.Err() == nil {
		n := w.rng.IntN(total)
		var pick op
		for _, x := range weights {
			if n < x.w {
				pick = x.op
				break
			}
			n -= x.w
		}
		w.do(ctx, pick)
	}
}

func (w *worker) do(ctx context.Context, o op) {
	switch o {
	case opPut:
		w.put(ctx, 1)
	case opBatch:
		w.put(ctx, 2+w.rng.IntN(9))
	case opRetry:
		w.retry(ctx)
	case opReuseKey:
		w.reuseKey(ctx)
	case opList:
		w.list(ctx)
	case opListFleet:
		w.listFleet(ctx)
	case opGet:
		w.get(ctx)
	case opGetMissing:
		w.getMissing(ctx)
	case opAggregate:
		w.aggregate(ctx)
	case opPatch:
		w.patch(ctx)
	case opDelete:
		w.delete(ctx)
	}
}

func (w *worker) device() string { return devices[w.rng.IntN(len(devices))] }

// newEvent is a native event body with its marker in data.lt.
func (w *worker) newEvent() (map[string]any, string) {
	w.seq++
	marker := fmt.Sprintf("w%d-%d", w.id, w.seq)
	typ := hotType
	if w.rng.IntN(2) == 0 {
		typ = types[1+w.rng.IntN(len(types)-1)]
	}
	ev := map[string]any{
		"type":     typ,
		"severity": []string{"info", "warning", "error", "critical"}[w.rng.IntN(4)],
		"status":   []string{"Succeeded", "Failed"}[w.rng.IntN(2)],
		"text":     "load test event " + marker,
		"data":     map[string]any{"lt": marker, "n": w.seq, "reading": w.rng.Float64()},
	}
	// Most events happened at some time in the last hours; the others at
	// the time they are stored.
	if w.rng.IntN(5) > 0 {
		t := w.start.Add(-time.Duration(w.rng.Int64N(int64(window)))).UTC().Truncate(time.Millisecond)
		ev["time"] = t.Format("2006-01-02T15:04:05.000Z")
	}
	return ev, marker
}

// put stores n events of one device: one event with an Idempotency-Key,
// or a batch keyed as a whole or event by event. Answers it never got are
// retried with the same key and body.
func (w *worker) put(ctx context.Context, n int) {
	p := &putRec{device: w.device(), header: map[string]string{}}
	evs := make([]map[string]any, n)
	for i := range evs {
		var m string
		evs[i], m = w.newEvent()
		p.markers = append(p.markers, m)
	}
	var body any
	switch {
	case n == 1:
		body = evs[0]
		p.header["Idempotency-Key"] = "k-" + p.markers[0]
	case w.rng.IntN(2) == 0:
		body = map[string]any{"events": evs}
		p.header["Idempotency-Key"] = "b-" + p.markers[0]
	default:
		for i, ev := range evs {
			ev["idempotencyKey"] = "k-" + p.markers[i]
		}
		body = evs
	}
	p.body, _ = json.Marshal(body)
	req := putRequest(p)
	// Some clients hang up before the answer: the server may have stored
	// the events, and the retry with the same key must find them.
	if w.rng.IntN(20) == 0 {
		req.firstTimeout = time.Duration(5+w.rng.IntN(95)) * time.Millisecond
	}
	a, prior := w.c.do(ctx, req, putAttempts, true)
	w.h.settlePut(p, a, prior)
}

func putRequest(p *putRec) request {
	return request{method: http.MethodPost, path: "/devices/" + p.device + "/events", header: p.header, body: p.body}
}

// retry repeats an acknowledged put, byte for byte: it must answer 200
// with the same ids and store nothing.
func (w *worker) retry(ctx context.Context) {
	p := w.h.pickPutForRetry(w.rng)
	if p == nil {
		w.put(ctx, 1)
		return
	}
	a, _ := w.c.do(ctx, putRequest(p), putAttempts, true)
	w.h.settleRetry(p, a)
}

// reuseKey sends another body with the key of an acknowledged put: 409,
// and the body is never stored.
func (w *worker) reuseKey(ctx context.Context) {
	p := w.h.pickSingle(w.rng)
	if p == nil {
		w.put(ctx, 1)
		return
	}
	ev, marker := w.newEvent()
	w.h.forbid(marker)
	body, _ := json.Marshal(ev)
	req := request{method: http.MethodPost, path: "/devices/" + p.device + "/events", header: p.header, body: body,
		deliberate: []int{http.StatusConflict}}
	a, _ := w.c.do(ctx, req, putAttempts, true)
	if a.status >= 200 && a.status < 300 {
		w.h.violation("a key reused with another body was accepted")
	}
}

// list pages through a device's events, checking each page continues the
// last: ids strictly in order, none twice, all of the device and filter.
func (w *worker) list(ctx context.Context) {
	device := w.device()
	q := url.Values{"limit": {strconv.Itoa(5 + w.rng.IntN(21))}}
	asc := w.rng.IntN(2) == 0
	if asc {
		q.Set("order", "asc")
	}
	typ := ""
	if w.rng.IntN(3) == 0 {
		typ = types[w.rng.IntN(len(types))]
		q.Set("type", typ)
	}
	w.pages(ctx, "/devices/"+device+"/events", q, asc, device, typ, 3)
}

// listFleet pages through the hot type across devices (the type index).
func (w *worker) listFleet(ctx context.Context) {
	q := url.Values{"type": {hotType}, "limit": {"20"}}
	w.pages(ctx, "/events", q, false, "", hotType, 2)
}

func (w *worker) pages(ctx context.Context, path string, q url.Values, asc bool, device, typ string, maxPages int) {
	seen := map[string]bool{}
	last := ""
	for range maxPages {
		a, _ := w.c.do(ctx, request{method: http.MethodGet, path: path, query: q}, readAttempts, true)
		if a.status != http.StatusOK {
			return
		}
		var page struct {
			Events        []apiEvent `json:"events"`
			NextPageToken string     `json:"nextPageToken"`
		}
		if json.Unmarshal(a.body, &page) != nil {
			w.h.violation("a listing is not JSON")
			return
		}
		for _, ev := range page.Events {
			switch {
			case seen[ev.ID]:
				w.h.violation("paging returned an event twice")
			case last != "" && asc && ev.ID <= last, last != "" && !asc && ev.ID >= last:
				w.h.violation("paging returned events out of order")
			case device != "" && ev.DeviceID != device, typ != "" && ev.Type != typ:
				w.h.violation("a listing returned an event its filter excludes")
			}
			seen[ev.ID] = true
			last = ev.ID
		}
		if page.NextPageToken == "" {
			return
		}
		q.Set("pageToken", page.NextPageToken)
	}
}

func (w *worker) get(ctx context.Context) {
	e := w.h.pickLive(w.rng, 0.1)
	if e == nil {
		return
	}
	defer w.h.done(e)
	a, _ := w.c.do(ctx, request{method: http.MethodGet, path: "/devices/" + e.device + "/events/" + e.id}, readAttempts, true)
	switch a.status {
	case http.StatusOK:
		var ev apiEvent
		if json.Unmarshal(a.body, &ev) != nil || ev.ID != e.id || ev.marker() != e.marker {
			w.h.violation("a get answered another event")
		}
	case http.StatusNotFound:
		if w.h.stateOf(e) == lostByDDB {
			w.h.note("gets of an event DynamoDB Local had lost (404)", 1)
		} else {
			w.h.violation("a get of an acknowledged event answered 404")
		}
	}
}

// getMissing asks for an id that was never stored: 404.
func (w *worker) getMissing(ctx context.Context) {
	id := ulid.Make().String()
	w.c.do(ctx, request{method: http.MethodGet, path: "/devices/" + w.device() + "/events/" + id, deliberate: []int{http.StatusNotFound}}, readAttempts, true)
}

// aggregate reads hourly counts of a device and type, or of a type across
// devices; exactness is checked at the end, the sum here.
func (w *worker) aggregate(ctx context.Context) {
	q := url.Values{"interval": {"hour"}, "type": {types[w.rng.IntN(len(types))]},
		"from": {aggFrom(w.start)}, "to": {aggTo()}}
	path := "/aggregates"
	if w.rng.IntN(4) > 0 {
		path = "/devices/" + w.device() + "/aggregates"
	}
	a, _ := w.c.do(ctx, request{method: http.MethodGet, path: path, query: q}, readAttempts, true)
	if a.status != http.StatusOK {
		return
	}
	agg, err := decodeAggregate(a.body)
	if err != nil {
		w.h.violation("an aggregate is not JSON")
		return
	}
	var sum int64
	for _, b := range agg.Buckets {
		sum += b.Count
	}
	if sum != agg.Total {
		w.h.violation("an aggregate's total is not the sum of its buckets")
	}
}

func aggFrom(start time.Time) string {
	return start.Add(-window - time.Hour).UTC().Truncate(time.Hour).Format(time.RFC3339)
}

func aggTo() string {
	return time.Now().Add(2 * time.Hour).UTC().Truncate(time.Hour).Format(time.RFC3339)
}

type aggregateAnswer struct {
	Buckets []struct {
		Start string `json:"start"`
		Count int64  `json:"count"`
	} `json:"buckets"`
	Total int64 `json:"total"`
}

func decodeAggregate(b []byte) (aggregateAnswer, error) {
	var a aggregateAnswer
	err := json.Unmarshal(b, &a)
	return a, err
}

// patch adds a comment and sets this worker's own data key; a few carry an
// If-Match that cannot match and must change nothing. A patch is not
// idempotent: it is retried on 429 only (not carried out); after a 503 or
// no answer its outcome stays unknown.
func (w *worker) patch(ctx context.Context) {
	e := w.h.pickLive(w.rng, 0.3)
	if e == nil {
		return
	}
	defer w.h.done(e)
	w.seq++
	p := &patchRec{comment: fmt.Sprintf("c-w%d-%d", w.id, w.seq), worker: w.id, value: w.seq, stale: w.rng.IntN(10) == 0}
	body := map[string]any{"comment": p.comment, "data": map[string]any{fmt.Sprintf("w%d", w.id): p.value}}
	if w.rng.IntN(3) == 0 {
		body["state"] = []string{"acknowledged", "resolved"}[w.rng.IntN(2)]
	}
	b, _ := json.Marshal(body)
	req := request{method: http.MethodPatch, path: "/devices/" + e.device + "/events/" + e.id, body: b,
		header: map[string]string{"Content-Type": "application/merge-patch+json"}}
	if p.stale {
		req.header["If-Match"] = `"999999"`
		req.deliberate = []int{http.StatusPreconditionFailed}
	}
	w.h.addPatch(e, p)
	a, _ := w.c.do(ctx, req, putAttempts, false)
	switch {
	case a.status == http.StatusOK:
		var ev apiEvent
		found := false
		if json.Unmarshal(a.body, &ev) == nil {
			for _, u := range ev.Updates {
				found = found || u.Changes["comment"] == p.comment
			}
		}
		if !found {
			w.h.violation("a patch's answer lacks its comment")
		}
		if p.stale {
			w.h.violation("a patch with a stale If-Match was applied")
		}
		w.h.settlePatch(p, patchAcked)
	case a.status == 0 || a.status >= 500:
		w.h.settlePatch(p, patchUnknown)
	default:
		if a.status == http.StatusNotFound && w.h.stateOf(e) != lostByDDB {
			w.h.violation("a patch of an acknowledged event answered 404")
		}
		w.h.settlePatch(p, patchRejected)
	}
}

// delete removes an event no one else is using; a retry that finds it
// gone after an unanswered attempt is that attempt's doing.
func (w *worker) delete(ctx context.Context) {
	e := w.h.pickForDelete(w.rng)
	if e == nil {
		return
	}
	req := request{method: http.MethodDelete, path: "/devices/" + e.device + "/events/" + e.id, goneOnRetry: true}
	a, prior := w.c.do(ctx, req, putAttempts, true)
	w.h.settleDelete(e, a, prior)
}

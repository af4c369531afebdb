package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// The history of the run: what the API acknowledged, what it refused and
// what stayed unknown, kept so that the store can be checked against it
// afterwards. Every event carries a marker of its own in data.lt, so that a
// stored event is traced back to the request that wrote it whatever id it
// got: two stored events with one marker are a duplicate.

type evState int

const (
	live          evState = iota
	deleting              // a delete is in flight
	deleted               // a delete was acknowledged
	deleteUnknown         // a delete got no clear answer; healed at the end
	// DynamoDB Local lost the event (lostByDDB) or brought a deleted one
	// back (undeletedByDDB) when it was killed: found by reading it right
	// after its restart, before the handlers could reach it. Its
	// transactions are not durable across a SIGKILL; DynamoDB's are.
	lostByDDB
	undeletedByDDB
)

type eventRec struct {
	marker, device, typ string
	id                  string
	put                 *putRec
	hot                 bool
	state               evState
	// inUse counts the gets and patches in flight; a delete waits for none.
	inUse   int
	patches []*patchRec
	// acked and deletedAt are when the put and the delete were acknowledged.
	ackedAt, deletedAt time.Time
}

type patchOutcome int

const (
	patchPending  patchOutcome = iota
	patchAcked                 // 200
	patchUnknown               // 5xx or no answer: may or may not be applied
	patchRejected              // 4xx or 429 to the end: not applied
)

type patchRec struct {
	comment string
	worker  int
	value   int
	stale   bool // sent with an If-Match that cannot match: must not apply
	outcome patchOutcome
}

// putRec is one put request, resent byte for byte on every retry.
type putRec struct {
	device  string
	header  map[string]string
	body    []byte
	markers []string
	ids     []string
	acked   bool
	unknown bool
	// busy: a deliberate retry of this request is in flight.
	busy bool
}

type history struct {
	mu     sync.Mutex
	events map[string]*eventRec // by marker
	acked  []*eventRec          // in the order acknowledged
	hot    []*eventRec          // events that take many concurrent patches
	puts   []*putRec            // acknowledged puts
	// pending puts got no clear answer: the heal phase resends them.
	pending []*putRec
	// forbidden markers must never be stored: bodies sent with a key
	// already used for another body. refused markers are those of puts
	// answered with a 4xx: they must not be stored either.
	forbidden map[string]bool
	refused   map[string]bool
	// notes count things worth knowing that are not failures by
	// themselves; violations are failures seen while the run goes on.
	notes      map[string]int
	violations map[string]int
}

func newHistory() *history {
	return &history{events: map[string]*eventRec{}, forbidden: map[string]bool{}, refused: map[string]bool{},
		notes: map[string]int{}, violations: map[string]int{}}
}

func (h *history) note(what string, n int) {
	h.mu.Lock()
	h.notes[what] += n
	h.mu.Unlock()
}

func (h *history) violation(what string) {
	h.mu.Lock()
	h.violations[what]++
	h.mu.Unlock()
}

// apiEvent is an event as the API answers it.
type apiEvent struct {
	ID       string         `json:"id"`
	DeviceID string         `json:"deviceId"`
	Type     string         `json:"type"`
	Time     string         `json:"time"`
	Data     map[string]any `json:"data"`
	Updates  []struct {
		Changes map[string]any `json:"changes"`
	} `json:"updates"`
	Version int64 `json:"version"`
}

func (e apiEvent) marker() string {
	m, _ := e.Data["lt"].(string)
	return m
}

// settlePut records the outcome of a put: a is its last answer, prior
// whether an earlier attempt may have been carried out.
func (h *history) settlePut(p *putRec, a answer, prior bool) {
	switch {
	case a.status == http.StatusOK || a.status == http.StatusCreated:
		var ans struct {
			Events []apiEvent `json:"events"`
		}
		if err := json.Unmarshal(a.body, &ans); err != nil || len(ans.Events) != len(p.markers) {
			h.mu.Lock()
			h.violations["a put's answer does not list its events"]++
			if !p.unknown {
				p.unknown = true
				h.pending = append(h.pending, p)
			}
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, ev := range ans.Events {
			if ev.marker() != p.markers[i] || ev.DeviceID != p.device {
				h.violations["a put's answer lists other events than it was sent"]++
			}
		}
		if p.unknown {
			h.notes["puts healed by a retry with the same key"]++
			p.unknown = false
		}
		switch {
		case a.status == http.StatusOK && prior:
			h.notes["puts answered 200 on a retry after an unanswered attempt (it had been stored)"]++
		case a.status == http.StatusOK:
			h.notes["puts answered 200 on their first attempt (stored by a retry inside the SDK)"]++
		}
		p.acked = true
		p.ids = make([]string, len(ans.Events))
		for i, ev := range ans.Events {
			p.ids[i] = ev.ID
			e := &eventRec{marker: p.markers[i], device: ev.DeviceID, typ: ev.Type, id: ev.ID, put: p, ackedAt: time.Now()}
			h.events[e.marker] = e
			h.acked = append(h.acked, e)
			if len(h.hot) < hotEvents && e.typ == hotType {
				e.hot = true
				h.hot = append(h.hot, e)
			}
		}
		h.puts = append(h.puts, p)
	case a.retryable() || a.status >= 500:
		h.mu.Lock()
		if !p.unknown {
			p.unknown = true
			h.pending = append(h.pending, p)
		}
		h.mu.Unlock()
	default:
		h.mu.Lock()
		h.notes[fmt.Sprintf("puts refused with %d %s", a.status, a.code())]++
		for _, m := range p.markers {
			h.refused[m] = true
		}
		h.mu.Unlock()
	}
}

const hotEvents = 6

// pickLive returns an acknowledged event that is not being deleted, marked
// in use; release it with done.
func (h *history) pickLive(rng *rand.Rand, hotShare float64) *eventRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.hot) > 0 && rng.Float64() < hotShare {
		e := h.hot[rng.IntN(len(h.hot))]
		if len(e.patches) < maxPatchesPerEvent {
			e.inUse++
			return e
		}
	}
	for range 8 {
		if len(h.acked) == 0 {
			return nil
		}
		e := h.acked[rng.IntN(len(h.acked))]
		if e.state == live && len(e.patches) < maxPatchesPerEvent {
			e.inUse++
			return e
		}
	}
	return nil
}

// maxPatchesPerEvent keeps every patch of an event in its history, which
// holds the last 100.
const maxPatchesPerEvent = 80

func (h *history) stateOf(e *eventRec) evState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return e.state
}

func (h *history) done(e *eventRec) {
	h.mu.Lock()
	e.inUse--
	h.mu.Unlock()
}

// pickForDelete returns an event nobody else is using, marked deleting.
func (h *history) pickForDelete(rng *rand.Rand) *eventRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range 8 {
		if len(h.acked) == 0 {
			return nil
		}
		e := h.acked[rng.IntN(len(h.acked))]
		if e.state == live && !e.hot && e.inUse == 0 && !e.put.busy {
			e.state = deleting
			return e
		}
	}
	return nil
}

func (h *history) settleDelete(e *eventRec, a answer, prior bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case a.status == http.StatusNoContent:
		e.state, e.deletedAt = deleted, time.Now()
	case a.status == http.StatusNotFound && prior:
		e.state, e.deletedAt = deleted, time.Now()
		h.notes["deletes answered 404 on a retry after an unanswered attempt (it had deleted)"]++
	case a.status == http.StatusNotFound:
		// Nobody else deletes this event: a 404 to the first attempt means
		// this request deleted it and answered as if it had not.
		e.state, e.deletedAt = deleted, time.Now()
		h.violations["a delete's own first attempt answered 404"]++
	case a.retryable() || a.status >= 500:
		e.state = deleteUnknown
	default:
		e.state = live
	}
}

// pickPutForRetry returns an acknowledged put none of whose events is
// being deleted or gone, marked busy.
func (h *history) pickPutForRetry(rng *rand.Rand) *putRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range 8 {
		if len(h.puts) == 0 {
			return nil
		}
		p := h.puts[rng.IntN(len(h.puts))]
		if p.busy {
			continue
		}
		ok := true
		for _, m := range p.markers {
			if h.events[m].state != live {
				ok = false
			}
		}
		if ok {
			p.busy = true
			return p
		}
	}
	return nil
}

// settleRetry checks a deliberate retry: 200 with the ids of the first
// answer, never 201.
func (h *history) settleRetry(p *putRec, a answer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p.busy = false
	switch a.status {
	case http.StatusOK:
		var ans struct {
			Events []apiEvent `json:"events"`
		}
		_ = json.Unmarshal(a.body, &ans)
		ids := make([]string, len(ans.Events))
		for i, ev := range ans.Events {
			ids[i] = ev.ID
		}
		if !slices.Equal(ids, p.ids) {
			h.violations["a retry with the same key answered other ids"]++
		}
		h.notes["deliberate retries answered 200 with the same ids"]++
	case http.StatusCreated:
		restored := false
		for _, m := range p.markers {
			restored = restored || h.events[m].state == lostByDDB
		}
		if restored {
			h.notes["deliberate retries that stored again an event DynamoDB Local had lost (201)"]++
		} else {
			h.violations["a retry with the same key answered 201 (stored again)"]++
		}
	}
}

// pickSingle returns an acknowledged single-event put with a key header.
func (h *history) pickSingle(rng *rand.Rand) *putRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range 8 {
		if len(h.puts) == 0 {
			return nil
		}
		p := h.puts[rng.IntN(len(h.puts))]
		if len(p.markers) == 1 && p.header["Idempotency-Key"] != "" {
			return p
		}
	}
	return nil
}

func (h *history) forbid(marker string) {
	h.mu.Lock()
	h.forbidden[marker] = true
	h.mu.Unlock()
}

func (h *history) addPatch(e *eventRec, p *patchRec) {
	h.mu.Lock()
	e.patches = append(e.patches, p)
	h.mu.Unlock()
}

func (h *history) settlePatch(p *patchRec, o patchOutcome) {
	h.mu.Lock()
	p.outcome = o
	h.mu.Unlock()
}

// counts of the history for the report.
func (h *history) counts() (ackedEvents, deletedEvents, pendingPuts, unknownDeletes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.acked {
		ackedEvents++
		switch e.state {
		case deleted:
			deletedEvents++
		case deleteUnknown:
			unknownDeletes++
		}
	}
	for _, p := range h.pending {
		if p.unknown {
			pendingPuts++
		}
	}
	return
}

func sortedLines(m map[string]int) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(out)
	return out
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

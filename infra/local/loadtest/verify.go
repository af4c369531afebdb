package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

// heal resends, with the same key and body, every put whose answer never
// came or was a 5xx, and repeats every delete in the same state: with the
// faults over, each ends acknowledged (or refused) and the history has no
// unknowns left but patches.
func heal(ctx context.Context, c *caller, h *history) {
	h.mu.Lock()
	pending := slices.Clone(h.pending)
	var deletes []*eventRec
	for _, e := range h.acked {
		if e.state == deleteUnknown {
			deletes = append(deletes, e)
		}
	}
	h.mu.Unlock()
	for _, p := range pending {
		if !p.unknown {
			continue
		}
		a, _ := c.do(ctx, putRequest(p), 8, true)
		h.settlePut(p, a, true)
	}
	for _, e := range deletes {
		a, _ := c.do(ctx, request{method: http.MethodDelete, path: "/devices/" + e.device + "/events/" + e.id, goneOnRetry: true}, 8, true)
		h.settleDelete(e, a, true)
		if h.stateOf(e) == deleted {
			h.note("deletes healed by a retry", 1)
		}
	}
}

// result is what the checks found.
type result struct {
	acknowledged, stored, lost, duplicated, aggMismatches int
	// failures are the other checks that failed, by name.
	failures map[string]int
	notes    map[string]int
}

func (r *result) fail(what string, n int) {
	if n > 0 {
		r.failures[what] += n
	}
}

// verify checks the store against the history.
func verify(ctx context.Context, st *stack, c *caller, h *history, start time.Time) (*result, error) {
	r := &result{failures: map[string]int{}, notes: map[string]int{}}
	// The store as it is, read past the API and the proxy.
	stored := map[string][]eventstore.Event{}
	for _, d := range devices {
		evs, err := storeEvents(ctx, st.store, d)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the store: %w", d, err)
		}
		stored[d] = evs
	}
	byMarker := map[string][]eventstore.Event{}
	for _, evs := range stored {
		for _, ev := range evs {
			m, _ := ev.Data["lt"].(string)
			byMarker[m] = append(byMarker[m], ev)
		}
	}

	h.mu.Lock()
	for _, e := range h.acked {
		copies := byMarker[e.marker]
		switch e.state {
		case deleted:
			r.fail("acknowledged deletes whose event is still stored", len(copies))
			continue
		case deleteUnknown:
			r.notes["deletes still unknown after healing"]++
			continue
		case lostByDDB:
			// Gone, or stored again by a retry with its key: never twice.
			r.duplicated += max(len(copies)-1, 0)
			continue
		case undeletedByDDB:
			continue
		}
		r.acknowledged++
		if len(copies) == 0 {
			r.lost++
			continue
		}
		r.stored++
		r.duplicated += len(copies) - 1
		if copies[0].ID != e.id {
			r.fail("acknowledged events stored under another id", 1)
		}
		checkPatches(r, e, copies[0])
	}
	for m, copies := range byMarker {
		_, known := h.events[m]
		switch {
		case h.forbidden[m]:
			r.duplicated += len(copies) // a key stored with a second body
		case h.refused[m] && !known:
			r.fail("events stored by a put that was answered with a 4xx", len(copies))
		case !known:
			r.notes["events stored whose put was never acknowledged"] += len(copies)
		}
	}
	for k, v := range h.notes {
		r.notes[k] += v
	}
	for k, v := range h.violations {
		r.fail(k, v)
	}
	h.mu.Unlock()

	if err := checkAggregates(ctx, c, r, stored, start); err != nil {
		return nil, err
	}
	if err := checkPaging(ctx, c, r, stored); err != nil {
		return nil, err
	}
	return r, nil
}

// checkPatches: every acknowledged patch is in the history once; every
// patch refused is not; each worker's data key holds its last value.
func checkPatches(r *result, e *eventRec, ev eventstore.Event) {
	comments := map[string]int{}
	for _, u := range ev.Updates {
		if c, ok := u.Changes["comment"].(string); ok {
			comments[c]++
		}
	}
	last := map[int][]*patchRec{}
	for _, p := range e.patches {
		n := comments[p.comment]
		switch p.outcome {
		case patchAcked:
			if n == 0 {
				r.fail("acknowledged patches missing from updates", 1)
			}
		case patchRejected:
			if n > 0 {
				r.fail("refused patches applied", 1)
			}
		}
		if n > 1 {
			// Clients repeat a patch only after a 429, which was not
			// carried out: a second copy is one request applied twice.
			r.fail("patches applied twice by one request", 1)
		}
		last[p.worker] = append(last[p.worker], p)
	}
	for wid, ps := range last {
		// The value must be the last acknowledged patch's, or that of a
		// later one whose outcome is unknown.
		allowed := map[string]bool{}
		anyAcked := false
		for _, p := range ps {
			switch p.outcome {
			case patchAcked:
				clear(allowed)
				allowed[strconv.Itoa(p.value)] = true
				anyAcked = true
			case patchUnknown:
				allowed[strconv.Itoa(p.value)] = true
			}
		}
		got, has := ev.Data[fmt.Sprintf("w%d", wid)]
		switch {
		case !has && anyAcked:
			r.fail("acknowledged patches whose data is missing", 1)
		case has && !allowed[fmt.Sprint(got)]:
			r.fail("patched data keys holding a value no patch left there", 1)
		}
	}
}

// storeEvents reads every event of a device, oldest first.
func storeEvents(ctx context.Context, s *eventstore.Store, device string) ([]eventstore.Event, error) {
	var out []eventstore.Event
	q := eventstore.Query{DeviceID: device, Ascending: true, Limit: eventstore.MaxLimit}
	for {
		p, err := s.List(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			return out, nil
		}
		q.After = p.Next
	}
}

// checkAggregates compares the API's hourly counts, per device and type
// and per type across devices, with the events stored.
func checkAggregates(ctx context.Context, c *caller, r *result, stored map[string][]eventstore.Event, start time.Time) error {
	fleet := map[string]map[time.Time]int64{}
	for _, typ := range types {
		fleet[typ] = map[time.Time]int64{}
	}
	from, to := aggFrom(start), aggTo()
	for _, d := range devices {
		want := map[string]map[time.Time]int64{}
		for _, typ := range types {
			want[typ] = map[time.Time]int64{}
		}
		for _, ev := range stored[d] {
			hour := ev.Time.UTC().Truncate(time.Hour)
			if want[ev.Type] == nil {
				return fmt.Errorf("stored event %s has type %q, which the load test never sent", ev.ID, ev.Type)
			}
			want[ev.Type][hour]++
			fleet[ev.Type][hour]++
		}
		for _, typ := range types {
			got, err := aggregate(ctx, c, "/devices/"+d+"/aggregates", typ, from, to)
			if err != nil {
				return err
			}
			r.aggMismatches += bucketDiff(got, want[typ])
		}
	}
	for _, typ := range types {
		got, err := aggregate(ctx, c, "/aggregates", typ, from, to)
		if err != nil {
			return err
		}
		r.aggMismatches += bucketDiff(got, fleet[typ])
	}
	return nil
}

func aggregate(ctx context.Context, c *caller, path, typ, from, to string) (map[time.Time]int64, error) {
	q := url.Values{"interval": {"hour"}, "type": {typ}, "from": {from}, "to": {to}}
	a, _ := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, 8, true)
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s?%s: %d %s", path, q.Encode(), a.status, a.body)
	}
	agg, err := decodeAggregate(a.body)
	if err != nil {
		return nil, err
	}
	out := map[time.Time]int64{}
	for _, b := range agg.Buckets {
		out[parseTime(b.Start).UTC()] += b.Count
	}
	return out, nil
}

// bucketDiff counts the buckets whose counts differ.
func bucketDiff(got, want map[time.Time]int64) int {
	n := 0
	for k, v := range want {
		if got[k] != v {
			n++
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			n++
		}
	}
	return n
}

// checkPaging pages through every device with a small page size, in both
// orders, and compares with the events stored: each once, in order.
func checkPaging(ctx context.Context, c *caller, r *result, stored map[string][]eventstore.Event) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(devices))
	for i, d := range devices {
		wg.Go(func() {
			asc := i%2 == 0
			ids, err := pageAll(ctx, c, d, asc)
			want := make([]string, len(stored[d]))
			for j, ev := range stored[d] {
				want[j] = ev.ID
			}
			if !asc {
				slices.Reverse(want)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[i] = err
				return
			}
			if !slices.Equal(ids, want) {
				r.fail("devices whose paging missed, repeated or misordered events", 1)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

const pageSize = 20

func pageAll(ctx context.Context, c *caller, device string, asc bool) ([]string, error) {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if asc {
		q.Set("order", "asc")
	}
	var ids []string
	for pages := 0; pages < 100000; pages++ {
		a, _ := c.do(ctx, request{method: http.MethodGet, path: "/devices/" + device + "/events", query: q}, 8, true)
		if a.status != http.StatusOK {
			return nil, fmt.Errorf("paging %s: %d %s", device, a.status, a.body)
		}
		var page struct {
			Events        []apiEvent `json:"events"`
			NextPageToken string     `json:"nextPageToken"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			return nil, err
		}
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
		}
		if page.NextPageToken == "" {
			return ids, nil
		}
		q.Set("pageToken", page.NextPageToken)
	}
	return nil, fmt.Errorf("paging %s: no end", device)
}

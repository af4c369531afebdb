package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

// lambdaPayloadLimit is Lambda's synchronous payload limit, request and
// answer.
const lambdaPayloadLimit = 6 << 20

// TestTheWorstRequestsFitLambdasLimits drives the requests whose work is
// largest through the bootstraps under the Lambda stand-in, which fails an
// invoke over 6 MB either way, over its timeout or over the function's
// memory size as Lambda does (API Gateway's 500 here): a listing of the
// largest page of the largest events, a batch of the most events the body
// limit lets through, and a bulk delete of them. Each must answer, and its
// function's peak memory stays within its memory size.
func TestTheWorstRequestsFitLambdasLimits(t *testing.T) {
	s := newStack(t)
	const device = "big-1"
	base := "/devices/" + device + "/events"
	// 30 events of about 250 KB: 7.5 MB, more than one answer may hold.
	blob := strings.Repeat("x", 250<<10)
	for i := 0; i < 30; i++ {
		s.do("POST", base, map[string]any{"type": "big", "data": map[string]any{"blob": blob, "i": i}}).want(t, 201)
	}

	t.Run("the largest page of the largest events answers within 6 MB, and pages on", func(t *testing.T) {
		seen, pages := 0, 0
		path := base + "?limit=1000"
		for path != "" {
			r := s.do("GET", path, nil).want(t, 200)
			if len(r.raw) > lambdaPayloadLimit {
				t.Fatalf("page %d is %d bytes, over Lambda's %d", pages, len(r.raw), lambdaPayloadLimit)
			}
			seen += len(r.events(t))
			pages++
			path = ""
			if tok, ok := r.body["nextPageToken"].(string); ok {
				path = base + "?limit=1000&pageToken=" + url.QueryEscape(tok)
			}
		}
		if seen != 30 || pages < 2 {
			t.Fatalf("got %d events in %d pages, want 30 in two pages or more", seen, pages)
		}
	})

	t.Run("a batch of 100 events just under the body limit is stored", func(t *testing.T) {
		batch := make([]any, 100)
		chunk := strings.Repeat("y", 58<<10)
		for i := range batch {
			batch[i] = map[string]any{"type": "batch", "data": map[string]any{"blob": chunk}}
		}
		r := s.do("POST", "/devices/batch-1/events", batch).want(t, 201)
		if len(r.events(t)) != 100 || r.body["abridged"] != true {
			t.Fatalf("got %d events, abridged %v; want 100, abridged", len(r.events(t)), r.body["abridged"])
		}
	})

	t.Run("a bulk delete of the large events answers", func(t *testing.T) {
		s.do("DELETE", base+"?all=true", nil).want(t, 200)
	})

	for _, fn := range routes.Functions {
		peak := s.Lambda.PeakMemory(fn)
		limit := int64(routes.Deployments[fn].MemoryMB) << 20
		t.Logf("%s: peak memory %d MB of %d MB", fn, peak>>20, limit>>20)
		if peak > limit {
			t.Errorf("%s peaked at %d bytes, over its %d", fn, peak, limit)
		}
	}

}

package main

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleetlog/device-events/pkg/eventsclient"
)

// lambdaTimeout is the functions' timeout, which the local gateway
// enforces as the function's context. An answer at or after it would have
// been cut off in AWS: API Gateway answers a 500 for a function that times
// out, so a slow DynamoDB must be answered 503 before it.
const lambdaTimeout = 10 * time.Second

// stats are what one worker's attempts got.
type stats struct {
	mu         sync.Mutex
	requests   int
	latencies  []time.Duration
	byStatus   map[int]int
	byCode     map[string]int // "503 unavailable": error answers by status and code
	noAnswer   int            // transport errors and timeouts, impatient ones aside
	impatient  int            // deliberate client timeouts that got no answer
	deliberate int            // the 404/409/412 the mix provokes
	errors     int
	badRetry   int // 429/503 without Retry-After or with another code
	late       int // answers at or past lambdaTimeout
	maxLatency time.Duration
}

func newStats() *stats { return &stats{byStatus: map[int]int{}, byCode: map[string]int{}} }

// record counts one attempt. errors are the attempts that got neither a
// 2xx nor an answer the mix provokes on purpose: any 5xx, 429, other 4xx,
// and no answer at all (unless the client hung up on purpose).
func (s *stats) record(a answer, deliberate, impatient bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.latencies = append(s.latencies, a.latency)
	s.maxLatency = max(s.maxLatency, a.latency)
	if a.latency >= lambdaTimeout {
		s.late++
	}
	switch {
	case a.status == 0 && impatient:
		s.impatient++
		return
	case a.status == 0:
		s.noAnswer++
		s.errors++
		return
	}
	s.byStatus[a.status]++
	if a.status < 300 {
		return
	}
	if deliberate {
		s.deliberate++
		return
	}
	s.errors++
	code := a.code()
	s.byCode[fmt.Sprintf("%d %s", a.status, code)]++
	want := map[int]string{http.StatusTooManyRequests: eventsclient.CodeThrottled, http.StatusServiceUnavailable: eventsclient.CodeUnavailable}[a.status]
	if want != "" && (code != want || a.header.Get("Retry-After") == "") {
		s.badRetry++
	}
}

func (s *stats) snapshot() (requests, errors int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.errors
}

// merge adds the stats of every worker.
func merge(all []*stats) *stats {
	out := newStats()
	for _, s := range all {
		s.mu.Lock()
		out.requests += s.requests
		out.latencies = append(out.latencies, s.latencies...)
		for k, v := range s.byStatus {
			out.byStatus[k] += v
		}
		for k, v := range s.byCode {
			out.byCode[k] += v
		}
		out.noAnswer += s.noAnswer
		out.impatient += s.impatient
		out.deliberate += s.deliberate
		out.errors += s.errors
		out.badRetry += s.badRetry
		out.late += s.late
		out.maxLatency = max(out.maxLatency, s.maxLatency)
		s.mu.Unlock()
	}
	sort.Slice(out.latencies, func(i, j int) bool { return out.latencies[i] < out.latencies[j] })
	return out
}

// percentile of sorted latencies, in milliseconds.
func (s *stats) percentile(p int) float64 {
	if len(s.latencies) == 0 {
		return 0
	}
	i := min(len(s.latencies)*p/100, len(s.latencies)-1)
	return float64(s.latencies[i].Microseconds()) / 1000
}

func (s *stats) statusLine() string {
	keys := make([]int, 0, len(s.byStatus))
	for k := range s.byStatus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", k, s.byStatus[k]))
	}
	if s.noAnswer > 0 {
		parts = append(parts, fmt.Sprintf("no answer×%d", s.noAnswer))
	}
	if s.impatient > 0 {
		parts = append(parts, fmt.Sprintf("hung up on purpose×%d", s.impatient))
	}
	return strings.Join(parts, ", ")
}

func (s *stats) errorLine() string {
	keys := make([]string, 0, len(s.byCode))
	for k := range s.byCode {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s.byCode[k]))
	}
	if s.noAnswer > 0 {
		parts = append(parts, fmt.Sprintf("no answer×%d", s.noAnswer))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

package main

import (
	"net/http"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	retryAfter := http.Header{"Retry-After": {"2"}}
	tests := []struct {
		name                   string
		a                      answer
		deliberate, impatient  bool
		errors, badRetry, late int
	}{
		{name: "a 2xx is not an error", a: answer{status: 201}},
		{name: "a 409 the mix provokes is not an error", a: answer{status: 409, body: []byte(`{"error":"conflict"}`)}, deliberate: true},
		{name: "a 409 nobody provoked is an error", a: answer{status: 409, body: []byte(`{"error":"conflict"}`)}, errors: 1},
		{name: "a 503 with Retry-After and its code is an error, but a well-formed one",
			a: answer{status: 503, header: retryAfter, body: []byte(`{"error":"unavailable"}`)}, errors: 1},
		{name: "a 429 without Retry-After is an error and a malformed one",
			a: answer{status: 429, header: http.Header{}, body: []byte(`{"error":"throttled"}`)}, errors: 1, badRetry: 1},
		{name: "a 503 with another code is an error and a malformed one",
			a: answer{status: 503, header: retryAfter, body: []byte(`{"error":"internal"}`)}, errors: 1, badRetry: 1},
		{name: "a 500 is an error", a: answer{status: 500, header: http.Header{}, body: []byte(`{"error":"internal"}`)}, errors: 1},
		{name: "no answer at all is an error", a: answer{}, errors: 1},
		{name: "no answer after hanging up on purpose is not an error", a: answer{}, impatient: true},
		{name: "an answer at the Lambda timeout is late", a: answer{status: 200, latency: lambdaTimeout}, late: 1},
		{name: "an answer just before the Lambda timeout is not late", a: answer{status: 503, header: retryAfter,
			body: []byte(`{"error":"unavailable"}`), latency: lambdaTimeout - time.Millisecond}, errors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStats()
			s.record(tt.a, tt.deliberate, tt.impatient)
			if s.requests != 1 || s.errors != tt.errors || s.badRetry != tt.badRetry || s.late != tt.late {
				t.Errorf("got requests %d, errors %d, malformed %d, late %d; want 1, %d, %d, %d",
					s.requests, s.errors, s.badRetry, s.late, tt.errors, tt.badRetry, tt.late)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var all []*stats
	for _, ms := range []int{5, 1, 4, 2, 3, 100, 6, 7, 8, 9} {
		s := newStats()
		s.record(answer{status: 200, latency: time.Duration(ms) * time.Millisecond}, false, false)
		all = append(all, s)
	}
	m := merge(all)
	for _, tt := range []struct {
		name string
		p    int
		want float64
	}{
		{"the median of ten latencies is the sixth smallest", 50, 6},
		{"the 99th percentile of ten latencies is the largest", 99, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.percentile(tt.p); got != tt.want {
				t.Errorf("p%d: got %v ms, want %v ms", tt.p, got, tt.want)
			}
		})
	}
}

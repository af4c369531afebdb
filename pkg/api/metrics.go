package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

// Metrics are CloudWatch Embedded Metric Format (EMF) fields on the one log
// line each request writes: CloudWatch Logs turns them into metrics with no
// API call. There is no AWS EMF library for Go; the format is a JSON object
// under "_aws" naming the metrics that sit next to it.
//
// Namespace DeviceEvents, dimensions Function and (Function, Outcome), where
// Outcome is "ok" or the error code (rejected requests by reason).
const metricsNamespace = "DeviceEvents"

// emfDirective is the static part of "_aws": the metrics and their
// dimensions. Only the timestamp changes from line to line.
var emfDirective = func() string {
	b, _ := json.Marshal([]map[string]any{{
		"Namespace":  metricsNamespace,
		"Dimensions": [][]string{{"Function"}, {"Function", "Outcome"}},
		"Metrics": []map[string]string{
			{"Name": "Requests", "Unit": "Count"},
			{"Name": "EventsWritten", "Unit": "Count"},
			{"Name": "DuplicatesAbsorbed", "Unit": "Count"},
			{"Name": "Rejected", "Unit": "Count"},
			{"Name": "Throttled", "Unit": "Count"},
			{"Name": "ReadCapacityUnits", "Unit": "Count"},
			{"Name": "WriteCapacityUnits", "Unit": "Count"},
			{"Name": "Latency", "Unit": "Milliseconds"},
		},
	}})
	return string(b)
}()

// withMetrics starts the metrics of one request: the store meters what it
// does into the context.
func withMetrics(ctx context.Context) (context.Context, *eventstore.Meter) {
	m := &eventstore.Meter{}
	return eventstore.WithMeter(ctx, m), m
}

// appendEMF appends the EMF attributes of a request that answered status
// with code ("" on success).
func appendEMF(attrs []slog.Attr, m *eventstore.Meter, function string, status int, code string, took time.Duration) []slog.Attr {
	outcome := code
	if outcome == "" {
		outcome = "ok"
	}
	rejected, throttled := 0, 0
	if status >= 400 && status < 500 {
		rejected = 1
	}
	if code == CodeThrottled {
		throttled = 1
	}
	read, write := m.Units()
	written, duplicates := m.Events()
	directive := make([]byte, 0, len(emfDirective)+64)
	directive = append(directive, `{"Timestamp":`...)
	directive = strconv.AppendInt(directive, time.Now().UnixMilli(), 10)
	directive = append(directive, `,"CloudWatchMetrics":`...)
	directive = append(directive, emfDirective...)
	directive = append(directive, '}')
	return append(attrs,
		slog.Any("_aws", json.RawMessage(directive)),
		slog.String("Function", function),
		slog.String("Outcome", outcome),
		slog.Int("Requests", 1),
		slog.Int("EventsWritten", written),
		slog.Int("DuplicatesAbsorbed", duplicates),
		slog.Int("Rejected", rejected),
		slog.Int("Throttled", throttled),
		slog.Float64("ReadCapacityUnits", read),
		slog.Float64("WriteCapacityUnits", write),
		slog.Float64("Latency", float64(took.Microseconds())/1000),
	)
}

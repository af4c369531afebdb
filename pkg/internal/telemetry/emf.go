package telemetry

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
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
// dimensions. Only the timestamp changes from line to line. A literal, not
// marshalled at init: a cold start pays every init.
const emfDirective = `[{"Namespace":"` + metricsNamespace + `",` +
	`"Dimensions":[["Function"],["Function","Outcome"]],` +
	`"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"EventsWritten","Unit":"Count"},` +
	`{"Name":"DuplicatesAbsorbed","Unit":"Count"},{"Name":"Rejected","Unit":"Count"},{"Name":"Throttled","Unit":"Count"},` +
	`{"Name":"ReadCapacityUnits","Unit":"Count"},{"Name":"WriteCapacityUnits","Unit":"Count"},` +
	`{"Name":"Latency","Unit":"Milliseconds"}]}]`

// Request is what one request did, for its metrics.
type Request struct {
	Function string
	Status   int
	// Code is the error code answered; "" on success.
	Code string
	Took time.Duration
	// ReadUnits and WriteUnits are the capacity units DynamoDB reported.
	ReadUnits, WriteUnits float64
	// EventsWritten are the events stored; Duplicates those a retry
	// found stored already.
	EventsWritten, Duplicates int
}

// AppendEMF appends the request's EMF fields to the attributes of its log
// line.
func (m Request) AppendEMF(attrs []slog.Attr) []slog.Attr {
	outcome := m.Code
	if outcome == "" {
		outcome = "ok"
	}
	rejected, throttled := 0, 0
	if m.Status >= 400 && m.Status < 500 {
		rejected = 1
	}
	if m.Code == apierror.Throttled {
		throttled = 1
	}
	directive := make([]byte, 0, len(emfDirective)+64)
	directive = append(directive, `{"Timestamp":`...)
	directive = strconv.AppendInt(directive, time.Now().UnixMilli(), 10)
	directive = append(directive, `,"CloudWatchMetrics":`...)
	directive = append(directive, emfDirective...)
	directive = append(directive, '}')
	return append(attrs,
		slog.Any("_aws", json.RawMessage(directive)),
		slog.String("Function", m.Function),
		slog.String("Outcome", outcome),
		slog.Int("Requests", 1),
		slog.Int("EventsWritten", m.EventsWritten),
		slog.Int("DuplicatesAbsorbed", m.Duplicates),
		slog.Int("Rejected", rejected),
		slog.Int("Throttled", throttled),
		slog.Float64("ReadCapacityUnits", m.ReadUnits),
		slog.Float64("WriteCapacityUnits", m.WriteUnits),
		slog.Float64("Latency", float64(m.Took.Microseconds())/1000),
	)
}

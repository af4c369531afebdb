package handlers

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// TestEachRequestLineIsAnEMFDocument checks the metrics CloudWatch would
// extract from the request lines: writes, duplicates absorbed, rejections
// by reason, capacity units.
func TestEachRequestLineIsAnEMFDocument(t *testing.T) {
	client := ddbtest.Client(t)
	table := ddbtest.Table(t, client, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	var logs bytes.Buffer
	put, err := New(routes.PutEvent, Deps{Store: eventstore.New(client, table, eventstore.Options{Retention: -1}),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	batch := httpReq{route: "POST /devices/{deviceId}/events", path: "/devices/d1/events",
		headers: map[string]string{"idempotency-key": "emf-1"}, body: `[{"type":"a"},{"type":"b"}]`}
	cases := []struct {
		name    string
		req     httpReq
		outcome string
		want    map[string]float64
	}{
		{"a batch of two new events", batch, "ok", map[string]float64{"Requests": 1, "EventsWritten": 2, "DuplicatesAbsorbed": 0, "Rejected": 0}},
		{"its retry", batch, "ok", map[string]float64{"EventsWritten": 0, "DuplicatesAbsorbed": 2, "Rejected": 0}},
		{"an invalid event", httpReq{route: batch.route, path: batch.path, body: `{"type":""}`}, apierror.InvalidEvent,
			map[string]float64{"EventsWritten": 0, "Rejected": 1, "WriteCapacityUnits": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			if _, err := apigw.Invoke(t.Context(), put, tc.req.event(t, "emf")); err != nil {
				t.Fatal(err)
			}
			var line struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
				Function, Outcome string
			}
			var values map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil || json.Unmarshal(logs.Bytes(), &values) != nil {
				t.Fatalf("log %s: %v", logs.Bytes(), err)
			}
			cw := line.AWS.CloudWatchMetrics
			if line.AWS.Timestamp == 0 || len(cw) != 1 || cw[0].Namespace != "DeviceEvents" || !slices.EqualFunc(cw[0].Dimensions, [][]string{{"Function"}, {"Function", "Outcome"}}, slices.Equal) {
				t.Fatalf("_aws = %+v", line.AWS)
			}
			for _, m := range cw[0].Metrics {
				if _, ok := values[m.Name].(float64); !ok {
					t.Errorf("metric %s declared but its value is %v", m.Name, values[m.Name])
				}
			}
			if line.Function != routes.PutEvent || line.Outcome != tc.outcome {
				t.Errorf("Function %q Outcome %q, want %q %q", line.Function, line.Outcome, routes.PutEvent, tc.outcome)
			}
			for name, want := range tc.want {
				if got := values[name]; got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			if tc.outcome == "ok" && tc.want["EventsWritten"] > 0 && values["WriteCapacityUnits"].(float64) <= 0 {
				t.Errorf("WriteCapacityUnits = %v for a write", values["WriteCapacityUnits"])
			}
		})
	}
}

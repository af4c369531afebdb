package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

// TestTheSampleEventsRunAsMakeInvokeRunsThem invokes every file of events/
// on its function, as `make invoke` and `sam local invoke` do, so the
// samples cannot rot.
func TestTheSampleEventsRunAsMakeInvokeRunsThem(t *testing.T) {
	s := newStack(t)
	cases := []struct {
		file, fn string
		status   int // for API Gateway events; 0 for a direct invoke
	}{
		{"put-event.json", routes.PutEvent, 201},
		{"put-event-delaval.json", routes.PutEvent, 201},
		{"put-event-direct.json", routes.PutEvent, 0},
		{"put-event-salt.json", routes.PutEvent, 0},
		{"put-event-batch-direct.json", routes.PutEvent, 0},
		{"list-events.json", routes.ListEvents, 200},
		{"list-fleet-events.json", routes.ListEvents, 200},
		{"get-event.json", routes.ListEvents, 404},
		{"aggregate-device.json", routes.AggregateEvents, 200},
		{"aggregate-fleet.json", routes.AggregateEvents, 200},
		{"patch-event.json", routes.PatchEvent, 404},
		{"delete-event.json", routes.DeleteEvent, 404},
		{"delete-events-bulk.json", routes.DeleteEvent, 200},
	}
	files, _ := filepath.Glob("../../../events/*.json")
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.file] = true
		t.Run(tc.file+" on "+tc.fn, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join("../../../events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(payload, &v); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			out, err := s.invoke(tc.fn, v)
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			var answer struct {
				StatusCode int              `json:"statusCode"`
				Body       string           `json:"body"`
				Events     []map[string]any `json:"events"`
			}
			if err := json.Unmarshal(out, &answer); err != nil {
				t.Fatalf("answer %s: %v", out, err)
			}
			if tc.status == 0 {
				if len(answer.Events) == 0 {
					t.Fatalf("direct invoke answered %s, want stored events", out)
				}
				return
			}
			if answer.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", answer.StatusCode, tc.status, answer.Body)
			}
		})
	}
	for _, f := range files {
		if name := filepath.Base(f); !covered[name] && !strings.HasPrefix(name, ".") {
			t.Errorf("events/%s is not exercised by this test", name)
		}
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/infra/local/samples"
	"github.com/fleetlog/device-events/pkg/routes"
)

// TestTheSampleEventsRunAsMakeInvokeRunsThem invokes every file of events/
// on its function, as `make invoke` and `sam local invoke` do, so the
// samples cannot rot: the files of one event's life in sequence on a fresh
// store, as `make invoke-lifecycle` plays them, and every other file on its
// own.
func TestTheSampleEventsRunAsMakeInvokeRunsThem(t *testing.T) {
	s := newStack(t)
	covered := map[string]bool{}
	t.Run("an event's life: stored, read, patched, deleted", func(t *testing.T) {
		var answered []int
		err := samples.PlayLifecycle("../../../events", func(fn string, payload []byte) ([]byte, error) {
			out, err := s.Invoke(t, fn, payload)
			if err == nil && out.FunctionError != "" {
				err = fmt.Errorf("function error %s", out.Payload)
			}
			if a, err := samples.ReadAnswer(out.Payload); err == nil {
				answered = append(answered, a.Status)
			}
			return out.Payload, err
		})
		if want := []int{201, 200, 200, 204}; err != nil || !slices.Equal(answered, want) {
			t.Errorf("the lifecycle answered %v (%v), want %v", answered, err, want)
		}
		for _, step := range samples.Lifecycle {
			covered[step.File] = true
		}
	})

	cases := []struct {
		file, fn string
		status   int // for API Gateway events; 0 for a direct invoke
	}{
		{"put-event-delaval.json", routes.PutEvent, 201},
		{"put-event-direct.json", routes.PutEvent, 0},
		{"put-event-salt.json", routes.PutEvent, 0},
		{"put-event-batch-direct.json", routes.PutEvent, 0},
		{"list-events.json", routes.ListEvents, 200},
		{"list-fleet-events.json", routes.ListEvents, 200},
		{"aggregate-device.json", routes.AggregateEvents, 200},
		{"aggregate-fleet.json", routes.AggregateEvents, 200},
		{"delete-events-bulk.json", routes.DeleteEvent, 200},
	}
	for _, tc := range cases {
		covered[tc.file] = true
		t.Run(tc.file+" on "+tc.fn, func(t *testing.T) {
			var v any
			if err := json.Unmarshal(readSample(t, tc.file), &v); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			out, err := s.invoke(tc.fn, v)
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			if tc.status == 0 {
				var answer struct {
					Events []map[string]any `json:"events"`
				}
				if err := json.Unmarshal(out, &answer); err != nil || len(answer.Events) == 0 {
					t.Fatalf("direct invoke answered %s, want stored events", out)
				}
				return
			}
			a, err := samples.ReadAnswer(out)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != tc.status {
				t.Fatalf("status = %d, want %d; answer %s", a.Status, tc.status, out)
			}
		})
	}
	files, _ := filepath.Glob("../../../events/*")
	for _, f := range files {
		if name := filepath.Base(f); !covered[name] && !strings.HasPrefix(name, ".") {
			t.Errorf("events/%s is not exercised by this test", name)
		}
	}
}

func readSample(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../events", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

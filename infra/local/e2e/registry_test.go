package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// registryDoc holds the DeLaval device registry's document, whose examples
// are these tests' fixtures (a copy of spec/reference's).
const registryDoc = "testdata/delaval-device-registry-events.md"

// registryExamples are the literal examples of the registry's document.
type registryExamples struct {
	curlBody   map[string]any // the body of the CURL example (POST /devices)
	postBody   map[string]any // the example JSON body of POST /devices/{deviceid}/events
	postAnswer map[string]any // its return format
	records    []any          // GET's return format
}

func readRegistryExamples(t *testing.T) registryExamples {
	t.Helper()
	raw, err := os.ReadFile(registryDoc)
	if err != nil {
		t.Fatal(err)
	}
	// The document quotes its examples: strip the "> " and read each
	// fenced block as JSON.
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), ">")
		lines = append(lines, strings.TrimSpace(l))
	}
	text := strings.Join(lines, "\n")
	var blocks []string
	for i, part := range strings.Split(text, "```") {
		if i%2 == 1 {
			blocks = append(blocks, part)
		}
	}
	var ex registryExamples
	decode := func(s string, v any) {
		t.Helper()
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if err := d.Decode(v); err != nil {
			t.Fatalf("an example of %s is not JSON: %v\n%s", registryDoc, err, s)
		}
	}
	if len(blocks) != 3 {
		t.Fatalf("%s: got %d examples, want 3 (the POST body, its answer, the GET answer)", registryDoc, len(blocks))
	}
	decode(blocks[0], &ex.postBody)
	decode(blocks[1], &ex.postAnswer)
	decode(blocks[2], &ex.records)
	curl := regexp.MustCompile(`--data '([^']*)'`).FindStringSubmatch(text)
	if curl == nil {
		t.Fatalf("%s: no CURL body", registryDoc)
	}
	decode(curl[1], &ex.curlBody)
	return ex
}

// registry calls the registry's API as its clients do: no token.
func (s *stack) registry(method, path string, body any) reply {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.RegistryURL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return send(s.t, openapi.Registry, req, true)
}

// TestTheRegistrysClientsWorkUnchanged posts the registry document's bodies
// to the registry's API as its examples do (POST /devices from the CURL
// example, POST /devices/{deviceid}/events, and a Salt job in the
// registry's form), then reads them back with GET and compares each record
// with the document's, field by field and by JSON type.
func TestTheRegistrysClientsWorkUnchanged(t *testing.T) {
	s := newStack(t)
	ex := readRegistryExamples(t)

	t.Run("the CURL example's POST /devices answers the document's message", func(t *testing.T) {
		r := s.registry("POST", "/devices", ex.curlBody)
		device := ex.curlBody["deviceid"].(string)
		want := map[string]any{"message": "Successfully added events for " + device}
		if r.status != 200 || !jsonEqual(r.raw, want) {
			t.Fatalf("got %d %s, want 200 %v", r.status, r.raw, want)
		}
	})
	t.Run("the example body's POST answers the document's return format", func(t *testing.T) {
		device := ex.postBody["deviceid"].(string)
		r := s.registry("POST", "/devices/"+device+"/events", ex.postBody)
		if r.status != 200 || !jsonEqual(r.raw, ex.postAnswer) {
			t.Fatalf("got %d %s, want 200 %v", r.status, r.raw, ex.postAnswer)
		}
	})

	// The GET example's device: a Salt job in the registry's form, then a
	// function's report, as its records were written.
	salt := ex.records[0].(map[string]any)
	report := ex.records[1].(map[string]any)
	device := salt["device_id"].(string)
	r := s.registry("POST", "/devices/"+device+"/events", map[string]any{"deviceid": device, "function": salt["function"], "state": salt["state"]})
	if r.status != 200 {
		t.Fatalf("the Salt job in the registry's form: %d %s, want 200", r.status, r.raw)
	}
	r = s.registry("POST", "/devices/"+device+"/events", map[string]any{"deviceid": device, "function": report["function"],
		"status": report["deployment_status"], "description": report["description"]})
	if r.status != 200 {
		t.Fatalf("the function's report: %d %s, want 200", r.status, r.raw)
	}

	t.Run("GET answers the document's records, oldest first, field by field and type by type", func(t *testing.T) {
		r := s.registry("GET", "/devices/"+device+"/events", nil)
		var got []any
		d := json.NewDecoder(bytes.NewReader(r.raw))
		d.UseNumber()
		if r.status != 200 || d.Decode(&got) != nil {
			t.Fatalf("got %d %s, want 200 and a JSON array", r.status, r.raw)
		}
		if len(got) != len(ex.records) {
			t.Fatalf("got %d records, want %d: %s", len(got), len(ex.records), r.raw)
		}
		sortKey := regexp.MustCompile(`^event_\d{4}-\d{2}-\d{2}-\d{2}:\d{2}:\d{2}$`)
		for i, want := range ex.records {
			g, w := got[i].(map[string]any), want.(map[string]any)
			for k, wv := range w {
				gv, ok := g[k]
				switch {
				case !ok:
					t.Errorf("record %d: no %q, want %v", i, k, wv)
				case reflect.TypeOf(gv) != reflect.TypeOf(wv):
					t.Errorf("record %d: %q is a %T, want a %T", i, k, gv, wv)
				case k == "sort_key":
					if !sortKey.MatchString(gv.(string)) {
						t.Errorf("record %d: sort_key %q, want event_YYYY-MM-DD-HH:MM:SS", i, gv)
					}
				case !reflect.DeepEqual(gv, wv):
					t.Errorf("record %d: %q = %v, want %v", i, k, gv, wv)
				}
			}
			for k := range g {
				if _, ok := w[k]; !ok {
					t.Errorf("record %d: %q, which the registry's record does not have", i, k)
				}
			}
		}
	})

	t.Run("the events API lists the same events with the same information", func(t *testing.T) {
		evs := s.do("GET", "/devices/"+device+"/events?order=asc", nil).want(t, 200).events(t)
		if len(evs) != 2 {
			t.Fatalf("got %d events, want 2", len(evs))
		}
		job := evs[0]["data"].(map[string]any)
		if evs[0]["type"] != salt["function"] || !reflect.DeepEqual(job["job"], salt["state"]) ||
			job["succeeded"] != salt["succeeded"] || job["failed"] != salt["failed"] || evs[0]["status"] != "Succeeded" {
			t.Errorf("the Salt job natively: %v, want type %v, data.job the state, its counts, Succeeded", evs[0], salt["function"])
		}
		if evs[1]["type"] != report["function"] || evs[1]["status"] != report["deployment_status"] || evs[1]["text"] != report["description"] {
			t.Errorf("the report natively: %v, want type, status and text of %v", evs[1], report)
		}
	})

	t.Run("an event put through the events API is in the registry's GET", func(t *testing.T) {
		s.put("native-1", map[string]any{"type": "door_opened", "status": "Open", "text": "north door"})
		r := s.registry("GET", "/devices/native-1/events", nil)
		want := []any{map[string]any{"function": "door_opened", "deployment_status": "Open", "description": "north door", "device_id": "native-1"}}
		var got []map[string]any
		if err := json.Unmarshal(r.raw, &got); err != nil || len(got) != 1 {
			t.Fatalf("got %s, want one record", r.raw)
		}
		delete(got[0], "sort_key")
		if !jsonEqual(mustJSON(t, got), want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("a direct invoke of the Salt job in the registry's form is stored and counted", func(t *testing.T) {
		out, err := s.invoke(routes.PutEvent, map[string]any{"deviceid": "salt-direct", "function": salt["function"], "state": salt["state"]})
		if err != nil {
			t.Fatalf("direct invoke: %v", err)
		}
		var ans struct {
			Events []struct {
				Data map[string]any `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(out, &ans); err != nil || len(ans.Events) != 1 || ans.Events[0].Data["succeeded"] != float64(1) {
			t.Fatalf("answer %s (%v), want one event with succeeded 1", out, err)
		}
	})

	t.Run("the registry's API refuses what the events API refuses", func(t *testing.T) {
		cases := []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"a Salt form without a function is 400", "POST", "/devices/d1/events", map[string]any{"deviceid": "d1", "state": map[string]any{"jid": "1"}}, 400, "invalid_event"},
			{"POST /devices without a device is 400", "POST", "/devices", map[string]any{"function": "f", "status": "Failed"}, 400, "invalid_event"},
			{"a body's device other than the path's is 400", "POST", "/devices/d1/events", map[string]any{"deviceid": "d2", "function": "f"}, 400, "invalid_event"},
			{"a bad device id is 400", "GET", "/devices/bad%20id/events", nil, 400, "invalid_parameter"},
			{"a route the registry never had is API Gateway's 403", "GET", "/devices/d1/aggregates", nil, 403, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := s.registry(tc.method, tc.path, tc.body)
				var body map[string]any
				_ = json.Unmarshal(r.raw, &body)
				if r.status != tc.status || (tc.code != "" && body["error"] != tc.code) {
					t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
				}
				if tc.code == "" && body["message"] != "Missing Authentication Token" {
					t.Fatalf("got %s, want the REST API's Missing Authentication Token", r.raw)
				}
			})
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonEqual reports whether raw holds the same JSON value as want.
func jsonEqual(raw []byte, want any) bool {
	var a, b any
	wb, err := json.Marshal(want)
	if err != nil || json.Unmarshal(raw, &a) != nil || json.Unmarshal(wb, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

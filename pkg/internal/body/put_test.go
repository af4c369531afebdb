package body

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

func TestDecodeReadsEachShape(t *testing.T) {
	cases := []struct {
		name, body, device string
		batch              bool
		want               []eventstore.NewEvent
	}{
		{"a native event", `{"type":"door","severity":"warning","status":"Open","text":"t","idempotencyKey":"k"}`, "d", false,
			[]eventstore.NewEvent{{DeviceID: "d", Type: "door", Severity: "warning", Status: "Open", Text: "t", IdempotencyKey: "k"}}},
		{"a native event with Unix seconds", `{"type":"door","time":1795342530.5}`, "d", false,
			[]eventstore.NewEvent{{DeviceID: "d", Type: "door", Time: time.Unix(1795342530, 5e8).UTC()}}},
		{"null fields count as absent", `{"type":"door","status":null,"data":null,"time":null}`, "d", false,
			[]eventstore.NewEvent{{DeviceID: "d", Type: "door"}}},
		{"the DeLaval body", `{"deviceid":"d","status":"Failed","description":"missing","function":"get-greengrass-configurations"}`, "d", false,
			[]eventstore.NewEvent{{DeviceID: "d", Type: "get-greengrass-configurations", Status: "Failed", Text: "missing"}}},
		{"an array batch", `[{"type":"a"},{"function":"b"}]`, "d", true,
			[]eventstore.NewEvent{{DeviceID: "d", Type: "a"}, {DeviceID: "d", Type: "b"}}},
		{"an events batch", `{"events":[{"type":"a"}]}`, "d", true,
			[]eventstore.NewEvent{{DeviceID: "d", Type: "a"}}},
		{"a direct invoke naming its device", `{"deviceId":"x","type":"a"}`, "", false,
			[]eventstore.NewEvent{{DeviceID: "x", Type: "a"}}},
		{"a direct batch naming the device once", `{"deviceid":"x","events":[{"type":"a"},{"type":"b","deviceId":"x"}]}`, "", true,
			[]eventstore.NewEvent{{DeviceID: "x", Type: "a"}, {DeviceID: "x", Type: "b"}}},
		{"a direct batch over two devices", `[{"deviceId":"x","type":"a"},{"deviceid":"y","function":"b"}]`, "", true,
			[]eventstore.NewEvent{{DeviceID: "x", Type: "a"}, {DeviceID: "y", Type: "b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePut([]byte(tc.body), tc.device, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got.Batch != tc.batch || len(got.Events) != len(tc.want) {
				t.Fatalf("batch %v with %d events, want %v with %d", got.Batch, len(got.Events), tc.batch, len(tc.want))
			}
			for i := range tc.want {
				g, w := got.Events[i], tc.want[i]
				if g.DeviceID != w.DeviceID || g.Type != w.Type || g.Status != w.Status || g.Text != w.Text || g.Severity != w.Severity ||
					g.IdempotencyKey != w.IdempotencyKey || !g.Time.Equal(w.Time) || (g.Data == nil) != (w.Data == nil) {
					t.Errorf("event %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestASaltReturnIsSummarised(t *testing.T) {
	body := `{"fun":"state.apply","jid":"1","id":"m1","retcode":0,"success":true,"_stamp":"2026-11-22T10:15:30.123456",
		"deviceId":"gw","return":{"a":{"result":true},"b":{"result":true},"c":{"result":null}}}`
	got, err := DecodePut([]byte(body), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ev := got.Events[0]
	job := ev.Data["job"].(map[string]any)
	if ev.Type != "state.apply" || ev.Status != "Succeeded" || ev.DeviceID != "gw" || ev.Data["succeeded"] != json.Number("2") || ev.Data["failed"] != json.Number("0") {
		t.Fatalf("event %+v", ev)
	}
	if _, leaked := job["deviceId"]; leaked || job["jid"] != "1" {
		t.Fatalf("data.job = %v: want the return without the invoker's deviceId", job)
	}
	if want := time.Date(2026, 11, 22, 10, 15, 30, 123456000, time.UTC); !ev.Time.Equal(want) {
		t.Fatalf("time = %v, want the _stamp %v", ev.Time, want)
	}
	if !strings.Contains(ev.Text, "2 succeeded, 0 failed") {
		t.Fatalf("text = %q", ev.Text)
	}
	for _, failing := range []string{
		`{"fun":"f","jid":"1","retcode":1,"success":true,"deviceId":"gw"}`,
		`{"fun":"f","jid":"1","retcode":0,"success":false,"deviceId":"gw"}`,
		`{"fun":"f","jid":"1","retcode":0,"success":true,"deviceId":"gw","return":{"x":{"result":false}}}`,
	} {
		got, err := DecodePut([]byte(failing), "", time.Now())
		if err != nil || got.Events[0].Status != "Failed" {
			t.Errorf("%s: status %v (%v), want Failed", failing, got.Events[0].Status, err)
		}
	}
}

func TestDecodeNamesTheWrongField(t *testing.T) {
	cases := []struct {
		name, body, device, field string
	}{
		{"a missing type", `{"status":"x"}`, "d", "type"},
		{"a type that is a number", `{"type":5}`, "d", "type"},
		{"an unknown field", `{"type":"a","colour":"red"}`, "d", "colour"},
		{"data that is a list", `{"type":"a","data":[1]}`, "d", "data"},
		{"a bad time", `{"type":"a","time":"noon"}`, "d", "time"},
		{"a negative time", `{"type":"a","time":-5}`, "d", "time"},
		{"a DeLaval body for another device", `{"deviceid":"e","function":"f"}`, "d", "deviceid"},
		{"a DeLaval body without function", `{"deviceid":"d","description":"x"}`, "d", "function"},
		{"deviceId and deviceid that disagree", `{"deviceId":"a","deviceid":"b","type":"t"}`, "", "deviceid"},
		{"a direct invoke without device", `{"type":"a"}`, "", "deviceId"},
		{"the second event of a batch", `[{"type":"a"},{"type":""}]`, "d", "events[1].type"},
		{"a nested batch", `[{"events":[]}]`, "d", "events[0].events"},
		{"an empty batch", `[]`, "d", "events"},
		{"a batch of 101", "[" + strings.Repeat(`{"type":"a"},`, 100) + `{"type":"a"}]`, "d", "events"},
		{"a batch element that is not an object", `[1]`, "d", "events[0]"},
		{"a body that is a string", `"hello"`, "d", "body"},
		{"something next to events", `{"events":[{"type":"a"}],"type":"b"}`, "d", "type"},
		{"a Salt return without fun", `{"fun":"","jid":"1","deviceId":"d"}`, "", "fun"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePut([]byte(tc.body), tc.device, time.Now())
			var fe *eventstore.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}

func TestDecodeSortsNotJSONFromTooLarge(t *testing.T) {
	var je *jsonbody.Error
	if _, err := DecodePut([]byte(`{"type":"a","type":"b"}`), "d", time.Now()); !errors.As(err, &je) {
		t.Errorf("duplicate keys: %v, want *jsonbody.Error", err)
	}
	big := `{"type":"a","data":{"x":"` + strings.Repeat("x", eventstore.MaxEventBytes) + `"}}`
	var tl *TooLargeError
	if _, err := DecodePut([]byte(big), "d", time.Now()); !errors.As(err, &tl) {
		t.Errorf("an event over 256 KiB: %v, want *TooLargeError", err)
	}
}

// A body is measured before it is decoded: an event certainly over 256 KiB,
// or a batch of more than 100, is refused after one reading of its bytes,
// without the allocations of decoding it (one or more per value).
func TestOversizedBodiesAreRefusedBeforeDecoding(t *testing.T) {
	numbers := strings.Repeat("1,", 3_000_000) + "1" // 6 MB of small values
	cases := []struct {
		name, body string
		field      string
		tooLarge   bool
	}{
		{"an event of 6 MB of numbers", `{"type":"a","data":{"n":[` + numbers + `]}}`, "body", true},
		{"an event of 6 MB of objects", `{"type":"a","data":{"o":[` + strings.Repeat(`{"a":1},`, 750_000) + `1]}}`, "body", true},
		{"the third event of an array batch", `[{"type":"a"},{"type":"b"},{"type":"c","data":{"n":[` + numbers + `]}}]`, "events[2]", true},
		{"the first event of an events batch", `{"deviceId":"d","events":[{"type":"c","data":{"n":[` + numbers + `]}}]}`, "events[0]", true},
		{"an array batch of 300 000 events", "[" + strings.Repeat(`{"type":"a"},`, 300_000) + `{"type":"a"}]`, "events", false},
		{"an events batch of 300 000 events", `{"events":[` + strings.Repeat(`{"type":"a"},`, 300_000) + `{"type":"a"}]}`, "events", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(1, func() { _, err = DecodePut([]byte(tc.body), "d", time.Now()) })
			var tl *TooLargeError
			var fe *eventstore.FieldError
			switch {
			case tc.tooLarge && (!errors.As(err, &tl) || tl.Field != tc.field):
				t.Fatalf("error = %v, want a TooLargeError on %s", err, tc.field)
			case !tc.tooLarge && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("error = %v, want a FieldError on %s", err, tc.field)
			}
			// []byte(tc.body) is one; the error and its message a few more.
			if allocs > 10 {
				t.Fatalf("%v allocations, want at most 10: the body was decoded", allocs)
			}
		})
	}
}

// The early refusal never refuses what the decoding would accept: an event
// as large as allowed, whose body also carries every field eventSize does
// not count, at their longest.
func TestTheEarlyRefusalLeavesEventsAtTheLimitAlone(t *testing.T) {
	key := strings.Repeat("k", eventstore.MaxKeyLength)
	device := strings.Repeat("d", eventstore.MaxIDLength)
	fill := func(n int) string {
		return `{"deviceId":"` + device + `","idempotencyKey":"` + key + `","time":"2026-11-22T10:15:30.123456789+01:00","severity":"critical",` +
			`"type":"t","data":{"x":"` + strings.Repeat("<", n) + `"}}`
	}
	// eventSize counts {"T":"t","S":"","X":"","D":{"x":"…"}} and 400.
	atLimit := eventstore.MaxEventBytes - 400 - len(`{"T":"t","S":"","X":"","D":{"x":""}}`)
	if _, err := DecodePut([]byte(fill(atLimit)), "", time.Now()); err != nil {
		t.Fatalf("an event of exactly %d bytes: %v, want it accepted", eventstore.MaxEventBytes, err)
	}
	var tl *TooLargeError
	if _, err := DecodePut([]byte(fill(atLimit+1)), "", time.Now()); !errors.As(err, &tl) {
		t.Fatalf("an event one byte over: %v, want a TooLargeError", err)
	}
	// Sizes are honest: 60 KB of '<' is 60 KB, not 360 KB of \u003c.
	if _, err := DecodePut([]byte(`{"type":"t","text":"<","data":{"x":"`+strings.Repeat("<", 60<<10)+`"}}`), "d", time.Now()); err != nil {
		t.Fatalf("60 KB of '<': %v, want it accepted", err)
	}
}

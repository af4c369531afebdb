package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type dynamoClient = dynamodb.Client

var t0 = time.Date(2026, 11, 22, 10, 15, 30, 123_000_000, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustPut(t *testing.T, s *Store, evs ...NewEvent) PutResult {
	t.Helper()
	res, err := s.Put(context.Background(), PutRequest{Events: evs})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return res
}

func deltaRef(device, eventType string, t time.Time) counterRef {
	return counterRef{hashedPK(deltaPrefix, device), deltaSK(t, eventType)}
}

// counts reads the raw counter attributes of an item, for checking what a
// write did to them.
func counts(t *testing.T, c *dynamoClient, table string, ref counterRef) map[string]int {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(ref.pk, ref.sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem counter: %v", err)
	}
	m := map[string]int{}
	for k, v := range out.Item {
		if k == PartitionKey || k == SortKey || k == versionAttr {
			continue
		}
		var n int
		if err := attributevalue.Unmarshal(v, &n); err != nil {
			t.Fatalf("counter %s: %v", k, err)
		}
		if n != 0 {
			m[k] = n
		}
	}
	return m
}

func TestPutThenGetReturnsTheEventWithDefaults(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	data := map[string]any{"big": json.Number("123456789012345678901234567890123456789012"), "": "empty key", "nested": map[string]any{"ok": true, "list": []any{json.Number("1.5"), "x", nil}}}
	res := mustPut(t, s, NewEvent{DeviceID: "dev-1", Type: "door_opened", Text: "hello", Data: data})
	if !res.Created[0] {
		t.Fatalf("Created = false, want true")
	}
	got, err := s.Get(context.Background(), "dev-1", res.Events[0].ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := Event{
		ID: res.Events[0].ID, DeviceID: "dev-1", Type: "door_opened", Time: t0, CreationTime: t0, LastUpdated: t0,
		Severity: SeverityInfo, State: StateNew, Text: "hello", Data: data, Updates: []Update{}, Version: 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Get:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(res.Events[0], want) {
		t.Fatalf("Put result:\n got %+v\nwant %+v", res.Events[0], want)
	}
}

func TestIDsSortByEventTime(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	res := mustPut(t, s,
		NewEvent{DeviceID: "d", Type: "t", Time: t0.Add(-time.Hour)},
		NewEvent{DeviceID: "d", Type: "t", Time: t0.Add(-2 * time.Hour)},
		NewEvent{DeviceID: "d", Type: "t"},
	)
	if !(res.Events[1].ID < res.Events[0].ID && res.Events[0].ID < res.Events[2].ID) {
		t.Fatalf("ids not in time order: %v", []string{res.Events[0].ID, res.Events[1].ID, res.Events[2].ID})
	}
	if got := idTime(res.Events[1].ID); !got.Equal(t0.Add(-2 * time.Hour)) {
		t.Fatalf("id time = %v, want %v", got, t0.Add(-2*time.Hour))
	}
}

func TestGetOfAMissingEventIsNotFound(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	for _, id := range []string{"01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", "not-an-id", ""} {
		if _, err := s.Get(context.Background(), "dev", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func TestWritesRaiseTheCountersOfTheirDay(t *testing.T) {
	at := time.Date(2026, 11, 22, 18, 10, 0, 0, time.UTC) // before 18:15 and 18:30
	twoEvents := map[string]int{"s": 2, "S1": 1, "S2": 2}
	oneLeft := map[string]int{"s": 1, "S2": 1}
	cases := []struct {
		name  string
		now   time.Time
		items func() []counterRef // the items that must hold the counts
		fleet bool                // the fleet's count is spread over the shards
	}{
		{"an event of today raises its delta and a fleet shard", at.Add(time.Hour), func() []counterRef {
			return []counterRef{deltaRef("dev", "door", at)}
		}, true},
		{"an event of yesterday raises its delta and a fleet shard", at.Add(24 * time.Hour), func() []counterRef {
			return []counterRef{deltaRef("dev", "door", at)}
		}, true},
		{"an event of two days ago raises its per-type, device and roll-up items", at.Add(48 * time.Hour), func() []counterRef {
			return []counterRef{
				{hashedPK(perTypePrefix, "dev"), perTypeSK("door", at)},
				{hashedPK(devicePrefix, "dev"), dayKey(at)},
				{hashedPK(rollupPrefix, "door"), dayKey(at)},
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newTestStore(t, Options{Now: fixedClock(tc.now)})
			res := mustPut(t, s, NewEvent{DeviceID: "dev", Type: "door", Time: at}, NewEvent{DeviceID: "dev", Type: "door", Time: at.Add(10 * time.Minute)})
			check := func(when string, want map[string]int) {
				t.Helper()
				for _, ref := range tc.items() {
					if got := counts(t, c, s.table, ref); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: %s/%s = %v, want %v", when, ref.pk, ref.sk, got, want)
					}
				}
				if tc.fleet {
					total := map[string]int{}
					for shard := range Shards {
						for a, n := range counts(t, c, s.table, counterRef{fleetPK(shard, "door"), dayKey(at)}) {
							total[a] += n
						}
					}
					for a, n := range total {
						if n == 0 {
							delete(total, a)
						}
					}
					if !reflect.DeepEqual(total, want) {
						t.Fatalf("%s: fleet shards sum to %v, want %v", when, total, want)
					}
				}
			}
			check("after the put", twoEvents)
			if err := s.Delete(context.Background(), "dev", res.Events[0].ID, 0); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			check("after a delete", oneLeft)
		})
	}
}

func TestARetryWithTheSameKeyStoresAndCountsOnce(t *testing.T) {
	s, c := newTestStore(t, Options{Now: fixedClock(t0)})
	ev := NewEvent{DeviceID: "dev", Type: "door", IdempotencyKey: "k-1", Text: "x"}
	first := mustPut(t, s, ev)
	s.now = fixedClock(t0.Add(time.Minute)) // the retry comes later
	again := mustPut(t, s, ev)
	if again.Created[0] {
		t.Fatalf("retry Created = true, want false")
	}
	if !reflect.DeepEqual(again.Events[0], first.Events[0]) {
		t.Fatalf("retry returned %+v, want the stored %+v", again.Events[0], first.Events[0])
	}
	if got := counts(t, c, s.table, deltaRef("dev", "door", t0))["k"]; got != 1 {
		t.Fatalf("hour count = %d, want 1", got)
	}
	ev.Text = "changed"
	if _, err := s.Put(context.Background(), PutRequest{Events: []NewEvent{ev}}); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("same key, other body: error = %v, want ErrIdempotencyConflict", err)
	}
	page, err := s.List(context.Background(), Query{DeviceID: "dev", Limit: 10})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("List = %d events, %v; want 1", len(page.Events), err)
	}
}

func TestABatchWithARequestKeyIsStoredOnce(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	req := PutRequest{RequestKey: "batch-1", Events: []NewEvent{{DeviceID: "d", Type: "a"}, {DeviceID: "d", Type: "b"}}}
	first, err := s.Put(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range req.Events {
		if again.Created[i] || again.Events[i].ID != first.Events[i].ID {
			t.Fatalf("event %d: retry created=%v id=%s, want not created, id %s", i, again.Created[i], again.Events[i].ID, first.Events[i].ID)
		}
	}
	req.Events = req.Events[:1]
	if _, err := s.Put(context.Background(), req); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("same request key, fewer events: %v, want ErrIdempotencyConflict", err)
	}
}

func TestPutRejectsInvalidEventsAndWritesNothing(t *testing.T) {
	s, c := newTestStore(t, Options{Now: fixedClock(t0)})
	deep := map[string]any{}
	cur := deep
	for i := 0; i < MaxDataDepth; i++ {
		next := map[string]any{}
		cur["k"] = next
		cur = next
	}
	cases := []struct {
		name  string
		ev    NewEvent
		field string
	}{
		{"a missing type", NewEvent{DeviceID: "d"}, "events[1].type"},
		{"a type of 129 characters", NewEvent{DeviceID: "d", Type: strings.Repeat("é", 129)}, "events[1].type"},
		{"a bad device id", NewEvent{DeviceID: "a/b", Type: "t"}, "events[1].deviceId"},
		{"a device id of dots", NewEvent{DeviceID: "..", Type: "t"}, "events[1].deviceId"},
		{"a time 25 hours ahead", NewEvent{DeviceID: "d", Type: "t", Time: t0.Add(25 * time.Hour)}, "events[1].time"},
		{"an unknown severity", NewEvent{DeviceID: "d", Type: "t", Severity: "fatal"}, "events[1].severity"},
		{"a status of 65 characters", NewEvent{DeviceID: "d", Type: "t", Status: strings.Repeat("s", 65)}, "events[1].status"},
		{"a text over 8 KiB", NewEvent{DeviceID: "d", Type: "t", Text: strings.Repeat("x", 8<<10+1)}, "events[1].text"},
		{"data nested 33 levels", NewEvent{DeviceID: "d", Type: "t", Data: map[string]any{"top": deep}}, "events[1].data.top"},
		{"a number no float64 holds", NewEvent{DeviceID: "d", Type: "t", Data: map[string]any{"n": json.Number("1e400")}}, "events[1].data.n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(context.Background(), PutRequest{Events: []NewEvent{{DeviceID: "d", Type: "ok"}, tc.ev}})
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, tc.field) {
				t.Fatalf("error = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
	out, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.table), Select: types.SelectCount})
	if err != nil || out.Count != 0 {
		t.Fatalf("table holds %d items (%v), want 0", out.Count, err)
	}
}

func TestDataNested32LevelsIsStored(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	data := map[string]any{}
	cur := data
	for i := 1; i < MaxDataDepth; i++ {
		next := map[string]any{}
		cur["k"] = next
		cur = next
	}
	cur["leaf"] = "x" // cur is the 32nd object: data itself is the 1st
	res, err := s.Put(context.Background(), PutRequest{Events: []NewEvent{{DeviceID: "d", Type: "t", Data: data}}})
	if err != nil {
		t.Fatalf("Put of data nested %d levels: %v", MaxDataDepth, err)
	}
	got, err := s.Get(context.Background(), "d", res.Events[0].ID)
	if err != nil || !reflect.DeepEqual(got.Data, data) {
		t.Fatalf("Get = %v, %v; want the data back", got.Data, err)
	}
}

func TestDeleteHonoursVersionAndReportsMissingEvents(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "t"}).Events[0].ID
	ctx := context.Background()
	if err := s.Delete(ctx, "d", id, 7); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("Delete with version 7: %v, want ErrVersionMismatch", err)
	}
	if err := s.Delete(ctx, "d", id, 1); err != nil {
		t.Fatalf("Delete with version 1: %v", err)
	}
	if err := s.Delete(ctx, "d", id, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
}

func TestAnEventExpiresRetentionAfterItsTime(t *testing.T) {
	for _, tc := range []struct {
		retention time.Duration
		want      int64
	}{{DefaultRetention, t0.Add(90 * 24 * time.Hour).Unix()}, {48 * time.Hour, t0.Add(48 * time.Hour).Unix()}, {-1, 0}} {
		t.Run(fmt.Sprint(tc.retention), func(t *testing.T) {
			s, c := newTestStore(t, Options{Now: fixedClock(t0), Retention: tc.retention})
			id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "t"}).Events[0].ID
			out, _ := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(eventPK("d"), id)})
			var it eventItem
			_ = attributevalue.UnmarshalMap(out.Item, &it)
			if it.Expires != tc.want {
				t.Fatalf("expiresAt = %d, want %d", it.Expires, tc.want)
			}
		})
	}
}

// Stored data is its JSON as a JSON reader would write it: no HTML escapes,
// which wrote six bytes for each <, > and &.
func TestDataIsStoredWithoutHTMLEscapes(t *testing.T) {
	s, c := newTestStore(t, Options{Now: fixedClock(t0)})
	lt := strings.Repeat("<", 43<<10)
	data := map[string]any{"html": lt, "amp": "a&b>c"}
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "t", Data: data}).Events[0].ID
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(eventPK("d"), id)})
	if err != nil {
		t.Fatal(err)
	}
	stored := out.Item["data"].(*types.AttributeValueMemberS).Value
	if want := `{"amp":"a&b>c","html":"` + lt + `"}`; stored != want {
		t.Fatalf("stored data is %d bytes beginning %.40q, want the %d bytes of %.40q", len(stored), stored, len(want), want)
	}
	if got, _ := s.Get(context.Background(), "d", id); !reflect.DeepEqual(got.Data, data) {
		t.Fatalf("data read back differs from data written")
	}
}

package eventstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func comment(i int) Patch {
	c := fmt.Sprint("note ", i)
	return Patch{Comment: c, By: "op", Changes: map[string]any{"comment": c}}
}

func mustPatch(t *testing.T, s *Store, device, id string, p Patch) Event {
	t.Helper()
	ev, err := s.Patch(context.Background(), device, id, p)
	if err != nil {
		t.Fatalf("Patch: %v", err)
	}
	return ev
}

// commentsOf lists the comments of an event's updates, oldest first.
func commentsOf(ev Event) []string {
	var out []string
	for _, u := range ev.Updates {
		c, _ := u.Changes["comment"].(string)
		out = append(out, c)
	}
	return out
}

// historyItems counts the history items of a device's events.
func historyItems(t *testing.T, c *dynamoClient, table, device string) int {
	t.Helper()
	out, err := c.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"), Select: types.SelectCount, ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: historyPK(device)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// writes records the write calls a store makes.
type writes struct {
	*dynamodb.Client
	puts    atomic.Int64
	updates []*dynamodb.UpdateItemInput
	// failUpdates makes that many UpdateItems fail before they are sent,
	// as a Lambda stopped between a patch's two writes.
	failUpdates int
}

func (w *writes) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	w.puts.Add(1)
	return w.Client.PutItem(ctx, in, opts...)
}

func (w *writes) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if w.failUpdates > 0 {
		w.failUpdates--
		return nil, errors.New("the function stopped")
	}
	w.updates = append(w.updates, in)
	return w.Client.UpdateItem(ctx, in, opts...)
}

// TestAPatchWritesWhatChanged: whatever the history, a patch is one put of
// the previous update into the history and one update of the attributes
// that changed (with the version, the time, the newest update and the
// write token), and the event item holds no history.
func TestAPatchWritesWhatChanged(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	w := &writes{Client: c}
	var ticks atomic.Int64 // a clock that moves: every patch has its own time
	clock := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Second) }
	s := New(w, base.table, keepForever(Options{Now: clock}))
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm", Text: "hot", Status: "Open", Data: map[string]any{"temp": 81.0}}).Events[0].ID
	for i := 0; i < 30; i++ {
		mustPatch(t, s, "d", id, comment(i))
	}
	cases := []struct {
		name        string
		patch       Patch
		set, remove []string
	}{
		{"a state", Patch{State: ptrTo(StateAcknowledged)}, []string{"state"}, nil},
		{"a comment", comment(99), nil, nil},
		// An error is an alarm: the event joins the alarm indexes.
		{"a severity and a status", Patch{Severity: ptrTo(SeverityError), Status: ptrTo("Closed")}, []string{"dapk", "fapk", "severity", "status"}, nil},
		{"data", Patch{Data: map[string]any{"temp": nil, "ok": true}}, []string{"data"}, nil},
		{"text and status removed", Patch{Text: ptrTo(""), Status: ptrTo("")}, nil, []string{"status", "text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.puts.Store(0)
			w.updates = nil
			before, _ := s.Get(context.Background(), "d", id)
			tc.patch.Changes = map[string]any{"x": 1}
			ev := mustPatch(t, s, "d", id, tc.patch)
			if len(w.updates) != 1 || w.puts.Load() != 1 {
				t.Fatalf("%d updates and %d puts, want one of each", len(w.updates), w.puts.Load())
			}
			in := w.updates[0]
			var set, remove []string
			for _, clause := range strings.Split(*in.UpdateExpression, "\n") {
				verb, list, found := strings.Cut(strings.TrimSpace(clause), " ")
				if !found {
					continue
				}
				for _, item := range strings.Split(list, ", ") {
					ref, _, _ := strings.Cut(item, " = ")
					if verb == "REMOVE" {
						remove = append(remove, in.ExpressionAttributeNames[ref])
					} else {
						set = append(set, in.ExpressionAttributeNames[ref])
					}
				}
			}
			slices.Sort(set)
			slices.Sort(remove)
			want := append([]string{"updated", "upd", "version", "wt"}, tc.set...)
			slices.Sort(want)
			if !slices.Equal(set, want) || !slices.Equal(remove, tc.remove) {
				t.Fatalf("%s: sets %v and removes %v; want sets %v and removes %v", *in.UpdateExpression, set, remove, want, tc.remove)
			}
			if ev.Version != before.Version+1 || len(ev.Updates) != len(before.Updates)+1 {
				t.Fatalf("version %d with %d updates, want %d with %d", ev.Version, len(ev.Updates), before.Version+1, len(before.Updates)+1)
			}
		})
	}
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(eventPK("d"), id)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Item["updates"]; ok || itemSize(out.Item) > 1024 {
		t.Fatalf("the event item is %d bytes (attributes %v): want it under 1 KB, without the history", itemSize(out.Item), sortedKeys(out.Item))
	}
}

// An operator can always change an event's state: the history never makes
// a patch too large, even on an event near the limit after 40 comments of
// 8 KiB (which once made every later patch 413).
func TestAnOperatorCanAlwaysChangeTheState(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm", Data: map[string]any{"blob": strings.Repeat("x", 240<<10)}}).Events[0].ID
	long := strings.Repeat("c", MaxTextBytes)
	for i := 0; i < 40; i++ {
		mustPatch(t, s, "d", id, Patch{Comment: long, Changes: map[string]any{"comment": long}})
	}
	ev := mustPatch(t, s, "d", id, Patch{State: ptrTo(StateResolved), Changes: map[string]any{"state": "resolved"}})
	if ev.State != StateResolved || ev.Version != 42 || len(ev.Updates) < 2 {
		t.Fatalf("state %s, version %d, %d updates; want resolved, version 42", ev.State, ev.Version, len(ev.Updates))
	}
	// What is refused is a patch that is itself too large for the event:
	// 200 KB more data on an event of 240 KB.
	big := strings.Repeat("y", 200<<10)
	if _, err := s.Patch(context.Background(), "d", id, Patch{Data: map[string]any{"more": big}, Changes: map[string]any{"data": map[string]any{"more": big}}}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a 200 KB data patch on a 240 KB event: %v, want ErrTooLarge", err)
	}
}

// The history read for an answer stops at maxHistoryBytes of changes,
// keeping the newest: five updates of 100 KB each come back as the newest
// three (the event's own and two from its history).
func TestTheHistoryReadKeepsTheNewestWithinItsBudget(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm"}).Events[0].ID
	for i := 1; i <= 5; i++ {
		blob := strings.Repeat(fmt.Sprint(i), 100<<10)
		c := fmt.Sprint("note ", i)
		mustPatch(t, s, "d", id, Patch{Comment: c, Data: map[string]any{"blob": blob}, Changes: map[string]any{"comment": c, "data": map[string]any{"blob": blob}}})
	}
	ev, err := s.Get(context.Background(), "d", id)
	if got, want := commentsOf(ev), []string{"note 3", "note 4", "note 5"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("updates %v (%v), want %v", got, err, want)
	}
}

// A patch stopped between its two writes (the history put done, the event
// not updated) loses nothing and doubles nothing: the event reads as
// before, and the next patch completes the history.
func TestAPatchStoppedBetweenItsWritesLosesNothing(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	w := &writes{Client: c}
	s := New(w, base.table, keepForever(Options{Now: fixedClock(t0)}))
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm"}).Events[0].ID
	for i := 1; i <= 3; i++ {
		mustPatch(t, s, "d", id, comment(i))
	}
	w.failUpdates = 1
	if _, err := s.Patch(context.Background(), "d", id, comment(4)); err == nil {
		t.Fatal("the interrupted patch succeeded")
	}
	ev, _ := s.Get(context.Background(), "d", id)
	if got, want := commentsOf(ev), []string{"note 1", "note 2", "note 3"}; ev.Version != 4 || !slices.Equal(got, want) {
		t.Fatalf("after the interruption: version %d, updates %v; want 4, %v", ev.Version, got, want)
	}
	ev = mustPatch(t, s, "d", id, comment(5))
	if got, want := commentsOf(ev), []string{"note 1", "note 2", "note 3", "note 5"}; ev.Version != 5 || !slices.Equal(got, want) {
		t.Fatalf("after the next patch: version %d, updates %v; want 5, %v", ev.Version, got, want)
	}
}

// Listings carry each event's history, and deletes remove it.
func TestListingsCarryTheHistoryAndDeletesRemoveIt(t *testing.T) {
	s, c := newTestStore(t, Options{Now: fixedClock(t0)})
	ctx := context.Background()
	res := mustPut(t, s, NewEvent{DeviceID: "d", Type: "a"}, NewEvent{DeviceID: "d", Type: "b"}, NewEvent{DeviceID: "d", Type: "c"}, NewEvent{DeviceID: "d", Type: "c"})
	want := map[string][]string{}
	for i, ev := range res.Events {
		for j := 1; j <= i+i; j++ { // 0, 2, 4 and 6 updates
			mustPatch(t, s, "d", ev.ID, comment(j))
			want[ev.ID] = append(want[ev.ID], fmt.Sprint("note ", j))
		}
	}
	page, err := s.List(ctx, Query{DeviceID: "d", Limit: 10})
	if err != nil || len(page.Events) != 4 {
		t.Fatalf("List: %d events, %v", len(page.Events), err)
	}
	for _, ev := range page.Events {
		if got := commentsOf(ev); !slices.Equal(got, want[ev.ID]) {
			t.Fatalf("event of type %s lists updates %v, want %v", ev.Type, got, want[ev.ID])
		}
	}
	if err := s.Delete(ctx, "d", res.Events[1].ID, 0); err != nil {
		t.Fatal(err)
	}
	// Updates 2 to n-1 are history items: 1, 3 and 5 of them.
	if n := historyItems(t, c, s.table, "d"); n != 3+5 {
		t.Fatalf("%d history items after deleting the event with one, want 8", n)
	}
	bulk, err := s.DeleteMatching(ctx, Query{DeviceID: "d", Types: []string{"c"}}, false)
	if err != nil || bulk.Deleted != 2 {
		t.Fatalf("DeleteMatching: %d, %v", bulk.Deleted, err)
	}
	if n := historyItems(t, c, s.table, "d"); n != 0 {
		t.Fatalf("%d history items after deleting their events, want none", n)
	}
	got, err := s.Get(ctx, "d", res.Events[0].ID)
	if err != nil || !reflect.DeepEqual(got.Updates, []Update{}) {
		t.Fatalf("the event never patched: %v, %v", got.Updates, err)
	}
}

package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func ptrTo[T any](v T) *T { return &v }

func TestPatchChangesTheLifecycleAndRecordsWhoDidIt(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm", Text: "hot", Data: map[string]any{"temp": json.Number("81")}}).Events[0].ID
	later := t0.Add(time.Minute)
	s.now = fixedClock(later)
	changes := map[string]any{"state": "acknowledged", "comment": "on my way"}
	ev, err := s.Patch(context.Background(), "d", id, Patch{State: ptrTo(StateAcknowledged), Comment: "on my way", By: "alice", Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	want := []Update{{Time: later, By: "alice", Changes: changes}}
	if ev.State != StateAcknowledged || ev.Version != 2 || !ev.LastUpdated.Equal(later) || !reflect.DeepEqual(ev.Updates, want) {
		t.Fatalf("after patch: state %s version %d lastUpdated %v updates %+v", ev.State, ev.Version, ev.LastUpdated, ev.Updates)
	}
	got, _ := s.Get(context.Background(), "d", id)
	if !reflect.DeepEqual(got, ev) {
		t.Fatalf("stored %+v\nwant %+v", got, ev)
	}
}

func TestAPatchThatChangesNothingKeepsTheVersion(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm"}).Events[0].ID
	ev, err := s.Patch(context.Background(), "d", id, Patch{State: ptrTo(StateNew), Severity: ptrTo(SeverityInfo)})
	if err != nil || ev.Version != 1 || len(ev.Updates) != 0 {
		t.Fatalf("no-op patch: version %d, %d updates, %v; want version 1, no update", ev.Version, len(ev.Updates), err)
	}
	// After some updates, the answer still carries the whole history.
	for i := 1; i <= 3; i++ {
		mustPatch(t, s, "d", id, comment(i))
	}
	ev, err = s.Patch(context.Background(), "d", id, Patch{State: ptrTo(StateNew)})
	if got := commentsOf(ev); err != nil || ev.Version != 4 || !slices.Equal(got, []string{"note 1", "note 2", "note 3"}) {
		t.Fatalf("no-op patch: version %d, updates %v, %v; want version 4 and notes 1 to 3", ev.Version, got, err)
	}
}

func TestDataIsMergePatched(t *testing.T) {
	// The examples of RFC 7396, appendix A, that start from an object.
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tc := range cases {
		var target, patch, want map[string]any
		_ = json.Unmarshal([]byte(tc.target), &target)
		_ = json.Unmarshal([]byte(tc.patch), &patch)
		_ = json.Unmarshal([]byte(tc.want), &want)
		if got := mergePatch(target, patch); !reflect.DeepEqual(got, want) {
			t.Errorf("mergePatch(%s, %s) = %v, want %s", tc.target, tc.patch, got, tc.want)
		}
	}
}

func TestPatchRefusesWhatItMustNotChange(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	ev := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm"}).Events[0]
	ctx := context.Background()
	cases := []struct {
		name  string
		patch Patch
		want  any
	}{
		{"another type", Patch{Immutable: map[string]any{"type": "other"}}, &ImmutableError{}},
		{"another time", Patch{Immutable: map[string]any{"time": t0.Add(time.Second)}}, &ImmutableError{}},
		{"another id", Patch{Immutable: map[string]any{"id": "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T"}}, &ImmutableError{}},
		{"an unknown state", Patch{State: ptrTo(State("closed"))}, &FieldError{}},
		{"data nested too deep", Patch{Data: map[string]any{"a": deepObject(MaxDataDepth)}}, &FieldError{}},
		{"a stale version", Patch{IfVersion: 5, State: ptrTo(StateResolved)}, ErrVersionMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Patch(ctx, "d", ev.ID, tc.patch)
			switch w := tc.want.(type) {
			case *ImmutableError:
				if !errors.As(err, &w) {
					t.Fatalf("error = %v, want ImmutableError", err)
				}
			case *FieldError:
				if !errors.As(err, &w) {
					t.Fatalf("error = %v, want FieldError", err)
				}
			case error:
				if !errors.Is(err, w) {
					t.Fatalf("error = %v, want %v", err, w)
				}
			}
		})
	}
	same := Patch{Immutable: map[string]any{"id": ev.ID, "deviceId": "d", "type": "alarm", "time": ev.Time, "creationTime": ev.CreationTime}, State: ptrTo(StateResolved)}
	if got, err := s.Patch(ctx, "d", ev.ID, same); err != nil || got.State != StateResolved {
		t.Fatalf("immutable fields sent unchanged: %v, %v", got.State, err)
	}
	if _, err := s.Patch(ctx, "d", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T", Patch{State: ptrTo(StateResolved)}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("patch of a missing event: %v, want ErrNotFound", err)
	}
}

func deepObject(levels int) map[string]any {
	m := map[string]any{}
	cur := m
	for i := 1; i < levels; i++ {
		next := map[string]any{}
		cur["k"] = next
		cur = next
	}
	return m
}

func TestTheLatestHundredUpdatesAreKept(t *testing.T) {
	s, c := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm"}).Events[0].ID
	var ev Event
	var second *eventItem // the event at version 2, holding note 1
	for i := 1; i <= MaxUpdatesKept+5; i++ {
		var err error
		ev, err = s.Patch(context.Background(), "d", id, Patch{Comment: fmt.Sprint("note ", i), Changes: map[string]any{"comment": fmt.Sprint("note ", i)}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			second, _ = s.getItem(context.Background(), "d", id)
		}
	}
	if len(ev.Updates) != MaxUpdatesKept || ev.Updates[0].Changes["comment"] != "note 6" || ev.Version != MaxUpdatesKept+6 {
		t.Fatalf("%d updates, oldest %v, version %d; want 100 from note 6, version 106", len(ev.Updates), ev.Updates[0].Changes, ev.Version)
	}
	// The history is a ring of a hundred items at most, and a put of an
	// old update arriving late (a resend) does not overwrite the newer
	// update in its slot.
	if n := historyItems(t, c, s.table, "d"); n > historySlots {
		t.Fatalf("%d history items, want at most %d", n, historySlots)
	}
	if err := s.putHistory(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(context.Background(), "d", id); err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("after a late put of note 1, the event reads %v (%v), want it unchanged", commentsOf(got), err)
	}
}

// conflictCounter counts the conditional writes that lost a race.
type conflictCounter struct {
	*dynamodb.Client
	lost atomic.Int64
}

func (c *conflictCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := c.Client.UpdateItem(ctx, in, opts...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		c.lost.Add(1)
	}
	return out, err
}

// TestConcurrentPatchesLoseNoUpdate is the lost-update test: 20 patches at
// once, each with its own comment and its own data key.
func TestConcurrentPatchesLoseNoUpdate(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	counter := &conflictCounter{Client: c}
	s := New(counter, base.table, keepForever(Options{Now: fixedClock(t0)}))
	id := mustPut(t, s, NewEvent{DeviceID: "d", Type: "alarm", Data: map[string]any{"seed": true}}).Events[0].ID
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%02d", i)
			_, errs[i] = s.Patch(context.Background(), "d", id, Patch{
				Comment: "comment " + key, Data: map[string]any{key: json.Number(fmt.Sprint(i))}, By: key,
				Changes: map[string]any{"comment": "comment " + key, "data": map[string]any{key: i}},
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("patch %d: %v", i, err)
		}
	}
	ev, err := s.Get(context.Background(), "d", id)
	if err != nil {
		t.Fatal(err)
	}
	comments := map[string]bool{}
	for _, u := range ev.Updates {
		comments[u.Changes["comment"].(string)] = true
	}
	if len(ev.Updates) != n || len(comments) != n || len(ev.Data) != n+1 || ev.Version != n+1 {
		t.Fatalf("%d updates (%d distinct comments), %d data keys, version %d; want %d, %d, %d, %d",
			len(ev.Updates), len(comments), len(ev.Data), ev.Version, n, n, n+1, n+1)
	}
	t.Logf("%d concurrent patches: %d updates kept, %d data keys kept (plus the seed), %d lost races retried", n, len(ev.Updates), len(ev.Data)-1, counter.lost.Load())
}

// lostAnswer sends every PutItem and UpdateItem twice, as the SDK does when
// the first answer is lost after the write landed, and answers with the
// second.
type lostAnswer struct {
	*dynamodb.Client
	updates atomic.Int64
}

func (l *lostAnswer) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := l.Client.PutItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return l.Client.PutItem(ctx, in, opts...)
}

func (l *lostAnswer) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	l.updates.Add(1)
	if _, err := l.Client.UpdateItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return l.Client.UpdateItem(ctx, in, opts...)
}

func TestAPatchWhoseAnswerIsLostIsAppliedOnce(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	id := mustPut(t, base, NewEvent{DeviceID: "d", Type: "alarm"}).Events[0].ID
	lossy := &lostAnswer{Client: c}
	s := New(lossy, base.table, keepForever(Options{Now: fixedClock(t0)}))
	ev, err := s.Patch(context.Background(), "d", id, Patch{Comment: "once", Changes: map[string]any{"comment": "once"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := base.Get(context.Background(), "d", id)
	if ev.Version != 2 || got.Version != 2 || len(got.Updates) != 1 || lossy.updates.Load() != 1 {
		t.Fatalf("version %d (stored %d), %d updates after %d writes; want version 2, one update, one write", ev.Version, got.Version, len(got.Updates), lossy.updates.Load())
	}
	// Later patches also put the history: each resent put and update is
	// still one update of the history.
	for _, c := range []string{"twice", "thrice"} {
		if ev, err = s.Patch(context.Background(), "d", id, Patch{Comment: c, Changes: map[string]any{"comment": c}}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = base.Get(context.Background(), "d", id)
	var comments []any
	for _, u := range got.Updates {
		comments = append(comments, u.Changes["comment"])
	}
	if got.Version != 4 || !reflect.DeepEqual(comments, []any{"once", "twice", "thrice"}) || !reflect.DeepEqual(got, ev) {
		t.Fatalf("version %d, comments %v; want version 4 with once, twice, thrice, as the last patch answered", got.Version, comments)
	}
}

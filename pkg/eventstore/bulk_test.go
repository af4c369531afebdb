package eventstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func putMany(t *testing.T, s *Store, device, typ string, from time.Time, n int, step time.Duration) {
	t.Helper()
	var batch []NewEvent
	for i := 0; i < n; i++ {
		batch = append(batch, NewEvent{DeviceID: device, Type: typ, Time: from.Add(time.Duration(i) * step)})
		if len(batch) == MaxBatch || i == n-1 {
			mustPut(t, s, batch...)
			batch = nil
		}
	}
}

// consistent fails unless the counters of device agree with the events
// stored, per type, over the whole range.
func consistent(t *testing.T, s *Store, device string, types ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, typ := range types {
		page, err := s.List(context.Background(), Query{DeviceID: device, Types: []string{typ}, Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		stored := len(page.Events)
		for page.Next != "" {
			page, err = s.List(context.Background(), Query{DeviceID: device, Types: []string{typ}, Limit: MaxLimit, After: page.Next})
			if err != nil {
				t.Fatal(err)
			}
			stored += len(page.Events)
		}
		agg, err := s.Aggregate(context.Background(), AggregateQuery{DeviceID: device, Types: []string{typ}, Interval: Day,
			From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if agg.Total != int64(stored) {
			t.Fatalf("%s: counters say %d, the table holds %d", typ, agg.Total, stored)
		}
		out[typ] = agg.Total
	}
	return out
}

func TestDeleteMatchingPagesThroughAThousandAtATime(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	putMany(t, s, "d", "door", start, 1200, time.Minute)
	putMany(t, s, "d", "milk", start, 10, time.Minute)
	ctx := context.Background()
	q := Query{DeviceID: "d", Types: []string{"door"}}
	dry, err := s.DeleteMatching(ctx, q, true)
	if err != nil || dry.Deleted != 1000 || dry.Next == "" {
		t.Fatalf("dry run: %+v, %v; want 1000 and a next page", dry, err)
	}
	if c := consistent(t, s, "d", "door"); c["door"] != 1200 {
		t.Fatalf("a dry run deleted: %d left", c["door"])
	}
	first, err := s.DeleteMatching(ctx, q, false)
	if err != nil || first.Deleted != 1000 || first.Next == "" {
		t.Fatalf("first call: %+v, %v; want 1000 and a next page", first, err)
	}
	q.After = first.Next
	second, err := s.DeleteMatching(ctx, q, false)
	if err != nil || second.Deleted != 200 || second.Next != "" {
		t.Fatalf("second call: %+v, %v; want 200 and no next page", second, err)
	}
	if c := consistent(t, s, "d", "door", "milk"); c["door"] != 0 || c["milk"] != 10 {
		t.Fatalf("after both calls: %v, want door 0, milk 10", c)
	}
}

func TestDeleteMatchingByTimeRange(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	putMany(t, s, "d", "door", start, 60, time.Minute)
	res, err := s.DeleteMatching(context.Background(), Query{DeviceID: "d", From: start.Add(10 * time.Minute), To: start.Add(20 * time.Minute)}, false)
	if err != nil || res.Deleted != 10 {
		t.Fatalf("deleted %d (%v), want 10", res.Deleted, err)
	}
	if c := consistent(t, s, "d", "door"); c["door"] != 50 {
		t.Fatalf("%d left, want 50", c["door"])
	}
}

// failingAfter lets n transactions through and fails every later one, as
// a Lambda that times out or crashes mid-way would leave things.
type failingAfter struct {
	*dynamodb.Client
	left atomic.Int64
}

var errCrash = errors.New("the function stopped")

func (f *failingAfter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if f.left.Add(-1) < 0 {
		return nil, errCrash
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

// TestABulkDeleteStoppedHalfwayLeavesCountsExact: every event is either
// still stored and counted or gone and uncounted, and calling again
// finishes the job.
func TestABulkDeleteStoppedHalfwayLeavesCountsExact(t *testing.T) {
	base, c := newTestStore(t, Options{Now: fixedClock(t0)})
	putMany(t, base, "d", "door", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 300, 7*time.Minute)
	crashing := &failingAfter{Client: c}
	crashing.left.Store(5)
	s := New(crashing, base.table, keepForever(Options{Now: fixedClock(t0)}))
	res, err := s.DeleteMatching(context.Background(), Query{DeviceID: "d", Types: []string{"door"}}, false)
	if !errors.Is(err, errCrash) || res.Deleted != 5*bulkChunk {
		t.Fatalf("stopped call: deleted %d, %v; want %d and the crash", res.Deleted, err, 5*bulkChunk)
	}
	if left := consistent(t, base, "d", "door")["door"]; left != 300-5*bulkChunk {
		t.Fatalf("%d left after the stop, want %d", left, 300-5*bulkChunk)
	}
	res, err = base.DeleteMatching(context.Background(), Query{DeviceID: "d", Types: []string{"door"}}, false)
	if err != nil || res.Deleted != 300-5*bulkChunk {
		t.Fatalf("second call: %d, %v", res.Deleted, err)
	}
	if left := consistent(t, base, "d", "door")["door"]; left != 0 {
		t.Fatalf("%d left, want 0", left)
	}
}

func TestABulkDeleteSkipsEventsDeletedMeanwhile(t *testing.T) {
	s, _ := newTestStore(t, Options{Now: fixedClock(t0)})
	putMany(t, s, "d", "door", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 10, time.Minute)
	items, _, err := s.listItems(context.Background(), Query{DeviceID: "d", Ascending: true, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(context.Background(), "d", items[3].SK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := s.deleteExisting(context.Background(), items) // read before the single delete
	if err != nil || n != 9 {
		t.Fatalf("deleted %d, %v; want the 9 still there", n, err)
	}
	consistent(t, s, "d", "door")
}

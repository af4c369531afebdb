package eventstore

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"
)

// MaxBulkDelete is how many events one DeleteMatching call removes at most.
const MaxBulkDelete = 1000

// bulkChunk is how many events one transaction deletes: with their two
// counter items each at worst, it stays within the 100 actions of a
// transaction.
const bulkChunk = 25

// BulkResult says what a DeleteMatching call did.
type BulkResult struct {
	// Deleted counts the events removed (or, in a dry run, that would be).
	Deleted int
	// Next continues the deletion after this call's last event; empty when
	// no matching event is left.
	Next string
}

// DeleteMatching deletes up to MaxBulkDelete events of one device that
// match q (DeviceID, Types, From, To and After are used), oldest first.
//
// Each transaction deletes up to 25 events and lowers their counts, so a
// call that stops halfway (a timeout, a crash) leaves every event either
// still stored and counted, or gone and uncounted; calling again with the
// same filters goes on from there. An event deleted by someone else in the
// meantime is skipped, not counted twice. With dryRun it deletes nothing
// and counts what would go.
func (s *Store) DeleteMatching(ctx context.Context, q Query, dryRun bool) (BulkResult, error) {
	q.Ascending, q.Limit = true, MaxBulkDelete
	q.Status, q.Severities, q.States = "", nil, nil
	if q.DeviceID == "" {
		return BulkResult{}, &FieldError{"deviceId", "required"}
	}
	items, next, err := s.listItems(ctx, q)
	if err != nil {
		return BulkResult{}, err
	}
	res := BulkResult{Next: next}
	if dryRun {
		res.Deleted = len(items)
		return res, nil
	}
	for start := 0; start < len(items); start += bulkChunk {
		chunk := items[start:min(start+bulkChunk, len(items))]
		n, err := s.deleteExisting(ctx, chunk)
		res.Deleted += n
		if err == nil {
			err = s.deleteHistories(ctx, chunk)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// deleteHistories deletes the history items of events just deleted, those
// past version 2 (an event at version 2 has one only if a patch failed
// after putting it; that one expires with the event), in parallel.
func (s *Store) deleteHistories(ctx context.Context, items []*eventItem) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(historyReads)
	for _, it := range items {
		if it.Version > 2 {
			g.Go(func() error { return s.deleteHistory(ctx, it.PK[len(eventPrefix):], it.SK) })
		}
	}
	return g.Wait()
}

// deleteExisting deletes the items that still exist, in one transaction,
// dropping from it any item gone since it was read, and returns how many
// it deleted.
func (s *Store) deleteExisting(ctx context.Context, items []*eventItem) (int, error) {
	b := newBackoff(maxRetries)
	for len(items) > 0 {
		err := s.deleteItemsIf(ctx, items, false)
		if err == nil {
			return len(items), nil
		}
		var gone *goneError
		if !errors.As(err, &gone) {
			if !errors.Is(err, errChanged) {
				return 0, err
			}
			if err := b.wait(ctx, ErrConflict); err != nil {
				return 0, err
			}
			continue
		}
		kept := items[:0:0]
		for i, it := range items {
			if !gone.index[i] {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	return 0, nil
}

// goneError lists the items of a delete transaction that no longer exist.
type goneError struct{ index map[int]bool }

func (e *goneError) Error() string { return "some events were already deleted" }

// gone reads which of the first n items (deletes) of a cancelled
// transaction failed their condition; nil when none did.
func (c cancellation) gone(n int) *goneError {
	g := &goneError{index: map[int]bool{}}
	for i := range min(n, len(c)) {
		if c.conditionFailed(i) {
			g.index[i] = true
		}
	}
	if len(g.index) == 0 {
		return nil
	}
	return g
}

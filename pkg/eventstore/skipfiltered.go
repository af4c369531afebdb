package eventstore

import "context"

// maxFilteredReads bounds the listing requests SkipFiltered makes: each
// reads at most ReadBudget units (about 1 MB of items), so a request that
// pages or counts a filtered listing reads at most about 10 MB.
const maxFilteredReads = 10

// SkipFiltered is Skip for any query: from the counters when they count q
// (Skip), else by reading the listing itself, which a status, severity or
// state filter needs (the counters count a device's or a type's events,
// whatever their state). Reading costs what the listing holds up to its
// end: at most maxFilteredReads listing requests, else ErrTooBusy, for the
// caller to ask for a narrower query (a time range, a device, a type).
func (s *Store) SkipFiltered(ctx context.Context, q Query, n int64) (after string, total int64, err error) {
	if countable(q) {
		return s.Skip(ctx, q, n)
	}
	in := q
	in.Limit, in.After = MaxLimit, ""
	for range maxFilteredReads {
		page, err := s.List(ctx, in)
		if err != nil {
			return "", total, err
		}
		for _, e := range page.Events {
			total++
			if total == n {
				after = e.ID
			}
		}
		if page.Next == "" {
			if total < n { // past the last event: an empty page
				after = firstID
				if q.Ascending {
					after = lastID
				}
			}
			return after, total, nil
		}
		in.After = page.Next
	}
	return "", total, ErrTooBusy
}

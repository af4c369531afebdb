package handlers

import (
	"context"
	"errors"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
)

func (f *Function) pageTokens(ctx context.Context) (*pagetoken.Signer, error) {
	if f.deps.PageTokens == nil {
		return nil, errNoPageTokens
	}
	return f.deps.PageTokens(ctx)
}

// pageToken signs cursor for the query binding.
func (f *Function) pageToken(ctx context.Context, binding, cursor string) (string, error) {
	signer, err := f.pageTokens(ctx)
	if err != nil {
		return "", err
	}
	return signer.Encode(binding, cursor), nil
}

// pageCursor reads a page token of events issued for binding: its cursor
// is an event id.
func (f *Function) pageCursor(ctx context.Context, binding, token string) (string, error) {
	return f.pageCursorOf(ctx, binding, token, eventstore.ValidEventID)
}

// queryCursor is the cursor of the request's pageToken, issued for
// binding; "" when the request has none.
func (f *Function) queryCursor(ctx context.Context, p params, binding string) (string, error) {
	tok, ok, err := p.one("pageToken")
	if err != nil || !ok {
		return "", err
	}
	return f.pageCursor(ctx, binding, tok)
}

// pageCursorOf reads a page token issued for binding, whose cursor must be
// valid. A token of a key this instance does not have yet makes it read
// the keys once more: after a rotation, another instance may sign with the
// new key first.
func (f *Function) pageCursorOf(ctx context.Context, binding, token string, valid func(string) bool) (string, error) {
	signer, err := f.pageTokens(ctx)
	if err != nil {
		return "", err
	}
	cursor, err := signer.Decode(binding, token)
	if errors.Is(err, pagetoken.ErrUnknownKey) && f.deps.ReloadPageTokens != nil {
		if signer, err = f.deps.ReloadPageTokens(ctx); err != nil {
			return "", err
		}
		cursor, err = signer.Decode(binding, token)
	}
	if err != nil || !valid(cursor) {
		return "", &apierror.Error{Code: apierror.InvalidPageToken, Parameter: "pageToken",
			Message: "pageToken: not a token issued for this query"}
	}
	return cursor, nil
}

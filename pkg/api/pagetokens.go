package api

import (
	"context"

	"github.com/fleetlog/device-events/pkg/pagetoken"
)

func (f *Function) pageTokens(ctx context.Context) (*pagetoken.Signer, error) {
	if f.deps.PageTokens == nil {
		return nil, errNoPageTokens
	}
	return f.deps.PageTokens(ctx)
}

package handlers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

type bulkAnswer struct {
	Deleted       int    `json:"deleted"`
	DryRun        bool   `json:"dryRun,omitempty"`
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// deleteEvents deletes a device's events by type and time range, at most
// 1 000 a call (fewer when the call's read budget runs out first);
// nextPageToken goes on. It needs a filter or all=true, so a
// bare DELETE cannot empty a device by accident.
func (f *Function) deleteEvents(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	p := params{r}
	if err := p.allowOnly("type", "from", "to", "all", "dryRun", "pageToken"); err != nil {
		return apigw.Response{}, err
	}
	q := eventstore.Query{DeviceID: device}
	if q.Types, err = p.types(10); err != nil {
		return apigw.Response{}, err
	}
	if q.From, q.To, err = p.timeRange(); err != nil {
		return apigw.Response{}, err
	}
	all, err := p.bool("all")
	if err != nil {
		return apigw.Response{}, err
	}
	dryRun, err := p.bool("dryRun")
	if err != nil {
		return apigw.Response{}, err
	}
	if len(q.Types) == 0 && q.From.IsZero() && q.To.IsZero() && !all {
		return apigw.Response{}, query.Invalid("all", "a bulk delete needs type, from, to or all=true")
	}
	// A token is bound to dryRun too: a dry run's cursor passed over
	// events it did not delete, and a real delete must not skip them.
	binding := fmt.Sprintf("bulk-delete|dryRun=%v|%s", dryRun, queryBinding(q))
	if q.After, err = f.queryCursor(ctx, p, binding); err != nil {
		return apigw.Response{}, err
	}
	res, err := f.deps.Store.DeleteMatching(ctx, q, dryRun)
	if err != nil {
		return apigw.Response{}, err
	}
	out := bulkAnswer{Deleted: res.Deleted, DryRun: dryRun}
	if res.Next != "" {
		if out.NextPageToken, err = f.pageToken(ctx, binding, res.Next); err != nil {
			return apigw.Response{}, err
		}
	}
	return jsonResponse(http.StatusOK, out), nil
}

package handlers

import (
	"context"
	"net/http"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/body"
)

// patchEvent changes an event's lifecycle: state, severity, status, text,
// a comment for the history, and data as an RFC 7396 merge patch.
func (f *Function) patchEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if len(r.Body) > eventstore.MaxEventBytes { // before anything reads it
		return apigw.Response{}, &apierror.Error{Code: apierror.PayloadTooLarge, Message: "a patch is at most 256 KiB"}
	}
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	if err := jsonContent(r, "application/merge-patch+json", "application/json"); err != nil {
		return apigw.Response{}, err
	}
	p, err := body.DecodePatch(r.Body)
	if err != nil {
		return apigw.Response{}, err
	}
	ev, err := f.patch(ctx, r, device, r.PathParams["eventId"], p)
	if err != nil {
		return apigw.Response{}, err
	}
	resp := jsonResponse(http.StatusOK, render(ev, false))
	resp.Headers["ETag"] = etag(ev.Version)
	return resp, nil
}

// patch applies p, decoded from a request of any API, as the caller, if
// the request's If-Match (when given) is the event's version.
func (f *Function) patch(ctx context.Context, r *apigw.Request, device, id string, p eventstore.Patch) (eventstore.Event, error) {
	var err error
	if p.IfVersion, err = ifMatch(r); err != nil {
		return eventstore.Event{}, err
	}
	p.By = caller(r)
	return f.deps.Store.Patch(ctx, device, id, p)
}

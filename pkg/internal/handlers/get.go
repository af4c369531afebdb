package handlers

import (
	"context"
	"net/http"

	"github.com/fleetlog/device-events/pkg/internal/apigw"
)

func (f *Function) getEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	p := params{r}
	if err := p.allowOnly("timeFormat"); err != nil {
		return apigw.Response{}, err
	}
	unix, err := p.unixTimes()
	if err != nil {
		return apigw.Response{}, err
	}
	ev, err := f.deps.Store.Get(ctx, device, r.PathParams["eventId"])
	if err != nil {
		return apigw.Response{}, err
	}
	resp := jsonResponse(http.StatusOK, render(ev, unix))
	resp.Headers["ETag"] = etag(ev.Version)
	return resp, nil
}

func (f *Function) deleteEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	if err := f.delete(ctx, r, device, r.PathParams["eventId"]); err != nil {
		return apigw.Response{}, err
	}
	return apigw.Response{Status: http.StatusNoContent, Headers: map[string]string{}}, nil
}

// delete deletes an event, addressed by a request of any API, if the
// request's If-Match (when given) is its version.
func (f *Function) delete(ctx context.Context, r *apigw.Request, device, id string) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	return f.deps.Store.Delete(ctx, device, id, version)
}

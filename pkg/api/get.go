package api

import (
	"context"
	"net/http"
)

func (f *Function) getEvent(ctx context.Context, r *Request) (Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return Response{}, err
	}
	p := params{r}
	if err := p.allowOnly("timeFormat"); err != nil {
		return Response{}, err
	}
	unix, err := p.unixTimes()
	if err != nil {
		return Response{}, err
	}
	ev, err := f.deps.Store.Get(ctx, device, r.PathParams["eventId"])
	if err != nil {
		return Response{}, err
	}
	resp := jsonResponse(http.StatusOK, render(ev, unix))
	resp.Headers["ETag"] = etag(ev.Version)
	return resp, nil
}

func (f *Function) deleteEvent(ctx context.Context, r *Request) (Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return Response{}, err
	}
	if err := (params{r}).allowOnly(); err != nil {
		return Response{}, err
	}
	version, err := ifMatch(r)
	if err != nil {
		return Response{}, err
	}
	if err := f.deps.Store.Delete(ctx, device, r.PathParams["eventId"], version); err != nil {
		return Response{}, err
	}
	return Response{Status: http.StatusNoContent, Headers: map[string]string{}}, nil
}

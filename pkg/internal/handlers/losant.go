package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/dialects/losant"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

// losantError renders an error of the losant dialect's routes in its clients'
// shape (nil: the native shape).
var losantError = func(e *apierror.Error, requestID string) apigw.Response {
	r := errorResponse(e, requestID)
	r.Body, _ = marshalJSON(losant.ErrorBody(e)) // two strings always marshal
	return r
}

// errLosantNotFound is Losant's answer to an id that names no event, well
// formed or not (Losant's are its own).
var errLosantNotFound = &apierror.Error{Code: apierror.NotFound, Message: "Event was not found"}

// losantApp reads the path's application id, which the answers echo.
func losantApp(r *apigw.Request) (string, error) {
	app := r.PathParams["applicationId"]
	if !losant.ValidApplicationID(app) {
		return "", query.Invalid("applicationId", "must be 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	return app, nil
}

// losantEvent reads an event's route: its application, and the device and
// id its eventId carries, which the caller must be allowed.
func losantEvent(r *apigw.Request) (app, device, id string, err error) {
	if app, err = losantApp(r); err != nil {
		return
	}
	if err = losant.CheckFlags(r.Query); err != nil {
		return
	}
	var ok bool
	if device, id, ok = eventstore.ParseGlobalID(r.PathParams["eventId"]); !ok {
		err = errLosantNotFound
		return
	}
	if e := allowDevice(r, device); e != nil {
		err = e
	}
	return
}

// losantAnswer is an event in Losant's shape.
func losantAnswer(status int, e eventstore.Event, app string) apigw.Response {
	return jsonResponse(status, losant.Render(e, app))
}

func (f *Function) losantGetEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	app, device, id, err := losantEvent(r)
	if err != nil {
		return apigw.Response{}, err
	}
	ev, err := f.deps.Store.Get(ctx, device, id)
	if err != nil {
		return apigw.Response{}, losantNotFound(err)
	}
	return losantAnswer(http.StatusOK, ev, app), nil
}

// losantPatchEvent is the native patch (its checks, its history, its
// conditional write: concurrent patches lose no update) of the fields a
// Losant PATCH names.
func (f *Function) losantPatchEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if len(r.Body) > eventstore.MaxEventBytes { // before anything reads it
		return apigw.Response{}, &apierror.Error{Code: apierror.PayloadTooLarge, Message: "a patch is at most 256 KiB"}
	}
	app, device, id, err := losantEvent(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := jsonContent(r, "application/json", "application/merge-patch+json"); err != nil {
		return apigw.Response{}, err
	}
	p, err := losant.DecodePatch(r.Body)
	if err != nil {
		return apigw.Response{}, err
	}
	ev, err := f.patch(ctx, r, device, id, p)
	if err != nil {
		return apigw.Response{}, losantNotFound(err)
	}
	return losantAnswer(http.StatusOK, ev, app), nil
}

// losantDeleteEvent answers 200 {"success": true}, as Losant does. The
// body losant-rest sends with it ({}) is not read.
func (f *Function) losantDeleteEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	_, device, id, err := losantEvent(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := f.delete(ctx, r, device, id); err != nil {
		return apigw.Response{}, losantNotFound(err)
	}
	return jsonResponse(http.StatusOK, losant.Success{Success: true}), nil
}

func (f *Function) losantPostEvent(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if len(r.Body) > eventstore.MaxEventBytes { // one event, before anything reads it
		return apigw.Response{}, &apierror.Error{Code: apierror.PayloadTooLarge, Message: "an event is at most 256 KiB"}
	}
	app, err := losantApp(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := losant.CheckFlags(r.Query); err != nil {
		return apigw.Response{}, err
	}
	if err := jsonContent(r, "application/json"); err != nil {
		return apigw.Response{}, err
	}
	ev, err := losant.DecodePost(r.Body, f.now())
	if err != nil {
		return apigw.Response{}, err
	}
	if e := allowDevice(r, ev.DeviceID); e != nil {
		return apigw.Response{}, e
	}
	res, err := f.deps.Store.Put(ctx, eventstore.PutRequest{Events: []eventstore.NewEvent{ev}})
	if err != nil {
		return apigw.Response{}, err
	}
	return losantAnswer(http.StatusCreated, res.Events[0], app), nil
}

// losantListReads bounds the listing requests one page makes: a listing
// with filters the store cannot read by key stops after its read budget,
// and a page of Losant is whole, so it reads on, as far as this.
const losantListReads = 10

// losantListEvents answers page N of a listing: where it starts and the
// total come from the counters (eventstore.SkipFiltered), the page from
// the listing.
func (f *Function) losantListEvents(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	app, err := losantApp(r)
	if err != nil {
		return apigw.Response{}, err
	}
	l, err := losant.ParseList(r.Query)
	if err != nil {
		return apigw.Response{}, err
	}
	q := l.Query
	if q.DeviceID == "" && r.Claims.Devices != nil {
		return apigw.Response{}, errAcrossDevices
	}
	if e := allowDevice(r, q.DeviceID); e != nil {
		return apigw.Response{}, e
	}
	perPage := q.Limit
	after, total, err := f.deps.Store.SkipFiltered(ctx, q, l.Page*int64(perPage))
	if errors.Is(err, eventstore.ErrTooBusy) {
		return apigw.Response{}, query.Invalid("page", "too many events to count or skip with these filters; narrow the query (a deviceId, a subject, a creationDate range)")
	}
	if err != nil {
		return apigw.Response{}, err
	}
	q.After = after
	var evs []eventstore.Event
	for range losantListReads {
		q.Limit = perPage - len(evs)
		page, err := f.deps.Store.List(ctx, q)
		if err != nil {
			return apigw.Response{}, err
		}
		evs = append(evs, page.Events...)
		if page.Next == "" || len(evs) >= perPage {
			break
		}
		q.After = page.Next
	}
	out := losant.Collection{
		PerPage: perPage, Page: l.Page, TotalCount: total, SortField: l.SortField, SortDirection: l.SortDirection,
		ApplicationID: app, FilterField: l.FilterField, Filter: l.Filter, State: l.State, Query: l.RawQuery,
	}
	if out.Items, err = losantWithin(evs, app, lambdaPayloadLimit-answerReserve); err != nil {
		return apigw.Response{}, err
	}
	out.Count = len(out.Items)
	return jsonResponse(http.StatusOK, out), nil
}

// losantWithin renders the events as long as they fit in limit bytes of
// Lambda payload (renderWithin's rule): a page of large events holds fewer
// than perPage.
func losantWithin(evs []eventstore.Event, app string, limit int) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(evs))
	size := 0
	for _, e := range evs {
		b, err := marshalJSON(losant.Render(e, app))
		if err != nil {
			return nil, fmt.Errorf("render event: %w", err)
		}
		size += payloadBytes(b) + 1
		if size > limit && len(out) > 0 {
			break
		}
		out = append(out, b)
	}
	return out, nil
}

// losantNotFound says Losant's words for an event that is not there.
func losantNotFound(err error) error {
	if errors.Is(err, eventstore.ErrNotFound) {
		return errLosantNotFound
	}
	return err
}

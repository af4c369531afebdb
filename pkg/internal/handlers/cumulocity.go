package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/body"
	"github.com/fleetlog/device-events/pkg/internal/dialects/cumulocity"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

// cumulocityError renders an error of the cumulocity dialect's routes in its clients'
// shape (nil: the native shape).
var cumulocityError = func(e *apierror.Error, requestID string) apigw.Response {
	r := errorResponse(e, requestID) // its headers: Retry-After, Allow
	b, err := marshalJSON(cumulocity.Error(e, requestID))
	if err != nil {
		return r
	}
	r.Body = b
	r.Headers["Content-Type"] = cumulocity.ErrorType + ";charset=UTF-8;ver=0.9"
	return r
}

// cumulocityAnswer is an answer of one of the Event API's media types.
func cumulocityAnswer(r *apigw.Request, status int, mediaType string, b []byte) apigw.Response {
	return apigw.Response{Status: status, Body: b,
		Headers: map[string]string{"Content-Type": cumulocity.ContentType(r.Header("Accept"), mediaType)}}
}

func (f *Function) cumulocityEventAPI(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	b, err := marshalJSON(cumulocity.EventAPI())
	if err != nil {
		return apigw.Response{}, err
	}
	return cumulocityAnswer(r, http.StatusOK, cumulocity.EventAPIType, b), nil
}

// A page reads at most cumulocityPageReads listings (each at most about
// eventstore.ReadBudget): enough for 2 000 events of a device or a type
// (two listings of 1 000), and for a device's events of one type among
// some of its other events (type on a device is a filter). A page that is
// not full by then is refused rather than answered short: the next page
// starts where the counters say, so a short page would hide the rest of
// its events from a client that pages by number.
const cumulocityPageReads = 4

var errPageSpread = &apierror.Error{Code: apierror.InvalidParameter, Parameter: "pageSize",
	Message: fmt.Sprintf("pageSize: this page's events lie among more of the device's other events than a request reads (%d listings of about 1 MB); narrow dateFrom/dateTo or ask for a smaller page", cumulocityPageReads)}

// cumulocityList serves GET /event/events. Page n of size s starts after
// the first (n-1)×s events, found from the counters (eventstore.Skip), and
// totals are counted from them (eventstore.Count): neither reads earlier
// pages. fragmentType, which no counter counts, filters the events of the
// page the other filters select, so that a page costs its own events,
// not every event before it: such a page may hold fewer events than
// pageSize, even none, and still have a next page, as a native page may.
func (f *Function) cumulocityList(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	l, err := cumulocity.ParseListing(r.Query)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := allowDevice(r, l.Source); err != nil {
		return apigw.Response{}, err
	}
	q, err := cumulocityQuery(l.Filter)
	if err != nil {
		return apigw.Response{}, err
	}
	q.Ascending = l.Revert
	total := int64(-1)
	skip := int64(l.CurrentPage-1) * int64(l.PageSize)
	switch {
	case skip > 0:
		q.After, total, err = f.deps.Store.Skip(ctx, q, skip)
	case l.WithTotalPages || l.WithTotalElements:
		total, err = f.deps.Store.Count(ctx, q)
	}
	if err != nil {
		return apigw.Response{}, cumulocityCountError(err)
	}
	evs, more, err := f.cumulocityPage(ctx, q, l.PageSize)
	if err != nil {
		return apigw.Response{}, err
	}
	rendered := make([]json.RawMessage, 0, len(evs))
	size := 0
	for _, e := range evs {
		if l.FragmentType != "" && !cumulocity.HasFragment(e, l.FragmentType) {
			continue
		}
		b, err := cumulocity.Render(e)
		if err != nil {
			return apigw.Response{}, fmt.Errorf("render event: %w", err)
		}
		if size += payloadBytes(b) + 1; size > lambdaPayloadLimit-answerReserve {
			return apigw.Response{}, query.Invalid("pageSize", "this page's events are more than a Lambda function may answer (6 MB); ask for a smaller page")
		}
		rendered = append(rendered, b)
	}
	b, err := marshalJSON(cumulocity.NewCollection(r.Query, l, rendered, total, more))
	if err != nil {
		return apigw.Response{}, err
	}
	return cumulocityAnswer(r, http.StatusOK, cumulocity.CollectionType, b), nil
}

// cumulocityQuery is the store's query of a filter. Across devices the
// store lists a type (its index); every event of every device it cannot
// list without reading the whole table.
func cumulocityQuery(fl cumulocity.Filter) (eventstore.Query, error) {
	q := eventstore.Query{DeviceID: fl.Source, From: fl.From, To: fl.To}
	if fl.Type != "" {
		q.Types = []string{fl.Type}
	}
	if q.DeviceID == "" && len(q.Types) == 0 {
		return q, query.Invalid("source", "source or type is required: events are listed by device, or by type across devices")
	}
	return q, nil
}

// cumulocityCountError says why a page could not be found.
func cumulocityCountError(err error) error {
	if errors.Is(err, eventstore.ErrTooBusy) {
		return query.Invalid("currentPage", "%v; narrow dateFrom/dateTo", err)
	}
	return err
}

// cumulocityPage reads up to size events of q from its cursor, and
// whether more follow.
func (f *Function) cumulocityPage(ctx context.Context, q eventstore.Query, size int) ([]eventstore.Event, bool, error) {
	var out []eventstore.Event
	for range cumulocityPageReads {
		q.Limit = min(size-len(out), eventstore.MaxLimit)
		page, err := f.deps.Store.List(ctx, q)
		if err != nil {
			return nil, false, err
		}
		out = append(out, page.Events...)
		if page.Next == "" || len(out) == size {
			return out, page.Next != "", nil
		}
		q.After = page.Next
	}
	return nil, false, errPageSpread
}

// cumulocityEventID reads the device and id of the path's id, checking
// that the caller may touch the device.
func cumulocityEventID(r *apigw.Request) (device, id string, err error) {
	device, id, ok := cumulocity.ParseID(r.PathParams["id"])
	if !ok {
		return "", "", eventstore.ErrNotFound
	}
	if err := allowDevice(r, device); err != nil {
		return "", "", err
	}
	return device, id, nil
}

func (f *Function) cumulocityEventAnswer(r *apigw.Request, status int, ev eventstore.Event) (apigw.Response, error) {
	b, err := cumulocity.Render(ev)
	if err != nil {
		return apigw.Response{}, err
	}
	resp := cumulocityAnswer(r, status, cumulocity.EventType, b)
	resp.Headers["ETag"] = etag(ev.Version)
	return resp, nil
}

func (f *Function) cumulocityGet(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	device, id, err := cumulocityEventID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	ev, err := f.deps.Store.Get(ctx, device, id)
	if err != nil {
		return apigw.Response{}, err
	}
	return f.cumulocityEventAnswer(r, http.StatusOK, ev)
}

// cumulocityCreate serves POST /event/events: the body becomes a native
// event body, which the native put reads, checks and stores (with its
// Idempotency-Key, size limits and media types). Without Accept the answer
// has no body, as Cumulocity's.
func (f *Function) cumulocityCreate(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if len(r.Body) > MaxBody {
		return apigw.Response{}, &apierror.Error{Code: apierror.PayloadTooLarge, Message: "body is larger than 6 MB"}
	}
	if err := jsonContent(r, cumulocity.EventType, "application/json"); err != nil {
		return apigw.Response{}, err
	}
	device, native, err := cumulocity.DecodeCreate(r.Body)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := allowDevice(r, device); err != nil {
		return apigw.Response{}, err
	}
	in := *r
	in.Body = native
	res, err := f.put(ctx, &in, device)
	if err != nil {
		return apigw.Response{}, err
	}
	ev := res.Events[0]
	status := http.StatusCreated
	if !res.Created[0] {
		status = http.StatusOK // an Idempotency-Key's retry
	}
	resp, err := f.cumulocityEventAnswer(r, status, ev)
	if err != nil {
		return apigw.Response{}, err
	}
	if r.Header("Accept") == "" {
		resp.Body, resp.Headers = nil, map[string]string{"ETag": resp.Headers["ETag"]}
	}
	resp.Headers["Location"] = cumulocity.Self(ev.DeviceID, ev.ID)
	return resp, nil
}

// cumulocityUpdate serves PUT /event/events/{id}: text and fragments, as a
// native patch (If-Match too).
func (f *Function) cumulocityUpdate(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if len(r.Body) > eventstore.MaxEventBytes {
		return apigw.Response{}, &apierror.Error{Code: apierror.PayloadTooLarge, Message: "an update is at most 256 KiB"}
	}
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	device, id, err := cumulocityEventID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := jsonContent(r, cumulocity.EventType, "application/json"); err != nil {
		return apigw.Response{}, err
	}
	native, err := cumulocity.DecodeUpdate(r.Body, r.PathParams["id"])
	if err != nil {
		return apigw.Response{}, err
	}
	p, err := body.DecodePatch(native)
	if err != nil {
		return apigw.Response{}, err
	}
	ev, err := f.patch(ctx, r, device, id, p)
	if err != nil {
		return apigw.Response{}, err
	}
	return f.cumulocityEventAnswer(r, http.StatusOK, ev)
}

func (f *Function) cumulocityDelete(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	device, id, err := cumulocityEventID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := f.delete(ctx, r, device, id); err != nil {
		return apigw.Response{}, err
	}
	return apigw.Response{Status: http.StatusNoContent, Headers: map[string]string{}}, nil
}

// A bulk delete makes at most cumulocityDeleteCalls native bulk deletes
// of eventstore.MaxBulkDelete events each, about what the function's time
// allows.
const cumulocityDeleteCalls = 5

// cumulocityDeleteMatching serves DELETE /event/events: a device's events
// by type and time (the native bulk delete is per device). Cumulocity
// answers 204 when every matching event is gone; when more than
// cumulocityDeleteCalls×1 000 match, this deletes that many and answers
// 503 with Retry-After, and the same request goes on where it stopped.
func (f *Function) cumulocityDeleteMatching(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	fl, err := cumulocity.ParseDeletion(r.Query)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := allowDevice(r, fl.Source); err != nil {
		return apigw.Response{}, err
	}
	if fl.Source == "" {
		return apigw.Response{}, query.Invalid("source", "required: events are deleted device by device")
	}
	if fl.FragmentType != "" {
		return apigw.Response{}, query.Invalid("fragmentType", "not supported on a delete: list the events and delete them one by one")
	}
	q, err := cumulocityQuery(fl)
	if err != nil {
		return apigw.Response{}, err
	}
	deleted := 0
	for range cumulocityDeleteCalls {
		res, err := f.deps.Store.DeleteMatching(ctx, q, false)
		deleted += res.Deleted
		if err != nil {
			return apigw.Response{}, err
		}
		if res.Next == "" {
			return apigw.Response{Status: http.StatusNoContent, Headers: map[string]string{}}, nil
		}
		q.After = res.Next
	}
	return apigw.Response{}, &apierror.Error{Code: apierror.Unavailable, RetryAfter: retryThrottled,
		Message: "deleted " + strconv.Itoa(deleted) + " events; more match: send the same request again to go on"}
}

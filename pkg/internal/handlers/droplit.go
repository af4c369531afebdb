package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/dialects/droplit"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

// droplitError renders an error of the droplit dialect's routes: the
// native body, its error named by the document's reason where it has one
// ("History Start Date Invalid", "Device Not Found", ...).
var droplitError = func(e *apierror.Error, requestID string) apigw.Response {
	resp := errorResponse(e, requestID)
	if reason := droplit.Reason(e); reason != "" {
		body := e.Body(requestID)
		body.Error = reason
		if b, err := marshalJSON(body); err == nil {
			resp.Body = b
		}
	}
	return resp
}

// droplitHistory answers a device's history: one listing of the device's
// events, as the native listing reads it (at most about 1 MB of items, so a
// page may be short and still carry a continuationToken), its records
// filtered on member and index after the read. continuationCount skips
// its pages with Store.Skip, from the counters, when the filters are ones
// the counters count (service); with type, member or index it would have
// to read every skipped record, so it is refused there
// (continuationToken pages through them).
func (f *Function) droplitHistory(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	req, err := droplit.Parse(r.Query)
	if err != nil {
		return apigw.Response{}, err
	}
	q := eventstore.Query{DeviceID: device, From: req.Start, Severities: req.Severities(), Limit: req.PageSize}
	if !req.End.IsZero() {
		q.To = req.End.Add(time.Nanosecond) // endDate is included
	}
	if req.Service != "" {
		if eventstore.CheckType("service", req.Service) != nil {
			return apigw.Response{}, query.Invalid("service", "%q is no service name this API records", req.Service)
		}
		q.Types = []string{req.Service}
	}
	if _, seen, err := f.deps.Store.DeviceSince(ctx, device); err != nil {
		return apigw.Response{}, err
	} else if !seen {
		return apigw.Response{}, &apierror.Error{Code: apierror.NotFound, Message: "no device " + device + " has been seen"}
	}
	out := droplit.Answer{Items: []droplit.Item{}}
	if q.Severities != nil && len(q.Severities) == 0 {
		return jsonResponse(http.StatusOK, out), nil // an action type no event has
	}
	binding := fmt.Sprintf("droplit|%s|%q|%d|%v", queryBinding(q), req.Member, req.Index, req.HasIndex)
	switch {
	case req.Token != "":
		cursor, err := f.pageCursor(ctx, binding, req.Token)
		var e *apierror.Error
		if errors.As(err, &e) && e.Code == apierror.InvalidPageToken {
			return apigw.Response{}, &apierror.Error{Code: e.Code, Parameter: "continuationToken", Message: "continuationToken: not a token issued for this query"}
		}
		if err != nil {
			return apigw.Response{}, err
		}
		q.After = cursor
	case req.Count > 0:
		if q.Severities != nil || req.Filtered() {
			return apigw.Response{}, query.Invalid("continuationCount", "not with type, member or index (page with continuationToken)")
		}
		after, _, err := f.deps.Store.Skip(ctx, q, req.Count*int64(req.PageSize))
		if errors.Is(err, eventstore.ErrTooBusy) {
			return apigw.Response{}, query.Invalid("continuationCount", "this page starts among too many records to skip to; narrow startDate and endDate")
		}
		if err != nil {
			return apigw.Response{}, err
		}
		q.After = after
	}
	page, err := f.deps.Store.List(ctx, q)
	if err != nil {
		return apigw.Response{}, err
	}
	size := 0
	for i, e := range page.Events {
		if !req.Matches(e) {
			continue
		}
		it := droplit.ItemOf(e)
		b, err := marshalJSON(it)
		if err != nil {
			return apigw.Response{}, fmt.Errorf("render record: %w", err)
		}
		if size += payloadBytes(b) + 1; size > lambdaPayloadLimit-answerReserve && len(out.Items) > 0 {
			page.Next = page.Events[i-1].ID // the rest on the next page
			break
		}
		out.Items = append(out.Items, it)
	}
	if page.Next != "" {
		if out.ContinuationToken, err = f.pageToken(ctx, binding, page.Next); err != nil {
			return apigw.Response{}, err
		}
	}
	return jsonResponse(http.StatusOK, out), nil
}

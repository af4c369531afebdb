package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

var listParams = []string{"type", "from", "to", "status", "severity", "state", "order", "limit", "pageToken", "timeFormat"}

type listAnswer struct {
	Events        []eventJSON `json:"events"`
	NextPageToken string      `json:"nextPageToken,omitempty"`
	Next          string      `json:"next,omitempty"`
}

func (f *Function) listDeviceEvents(ctx context.Context, r *Request) (Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return Response{}, err
	}
	return f.list(ctx, r, device)
}

func (f *Function) listFleetEvents(ctx context.Context, r *Request) (Response, error) {
	return f.list(ctx, r, "")
}

func (f *Function) list(ctx context.Context, r *Request, device string) (Response, error) {
	p := params{r}
	if err := p.allowOnly(listParams...); err != nil {
		return Response{}, err
	}
	q, unix, err := listQuery(p, device)
	if err != nil {
		return Response{}, err
	}
	binding := queryBinding(q)
	if tok, ok, err := p.one("pageToken"); err != nil {
		return Response{}, err
	} else if ok {
		cursor, err := f.pageCursor(ctx, binding, tok)
		if err != nil {
			return Response{}, err
		}
		q.After = cursor
	}
	page, err := f.deps.Store.List(ctx, q)
	if err != nil {
		return Response{}, err
	}
	out := listAnswer{Events: renderAll(page.Events, unix)}
	if page.Next != "" {
		if out.NextPageToken, err = f.pageToken(ctx, binding, page.Next); err != nil {
			return Response{}, err
		}
		next := url.Values{}
		for k, v := range r.Query {
			next[k] = v
		}
		next.Set("pageToken", out.NextPageToken)
		path := "/events"
		if device != "" {
			path = "/devices/" + url.PathEscape(device) + "/events"
		}
		out.Next = path + "?" + next.Encode()
	}
	return jsonResponse(http.StatusOK, out), nil
}

// listQuery reads the filters of a listing.
func listQuery(p params, device string) (eventstore.Query, bool, error) {
	q := eventstore.Query{DeviceID: device}
	var err error
	if q.Types, err = p.types(10); err != nil {
		return q, false, err
	}
	if device == "" && len(q.Types) == 0 {
		return q, false, invalidParam("type", "required when listing across devices")
	}
	if q.From, q.To, err = p.timeRange(); err != nil {
		return q, false, err
	}
	if status, _, err := p.one("status"); err != nil {
		return q, false, err
	} else if eventstore.CheckStatus("status", status) != nil {
		return q, false, invalidParam("status", "at most 64 printable characters")
	} else {
		q.Status = status
	}
	sev, err := p.list("severity", len(eventstore.Severities))
	if err != nil {
		return q, false, err
	}
	for _, s := range sev {
		v, ok := eventstore.ParseSeverity(s)
		if !ok {
			return q, false, invalidParam("severity", "must be info, warning, error or critical")
		}
		q.Severities = append(q.Severities, v)
	}
	states, err := p.list("state", len(eventstore.States))
	if err != nil {
		return q, false, err
	}
	for _, s := range states {
		v, ok := eventstore.ParseState(s)
		if !ok {
			return q, false, invalidParam("state", "must be new, acknowledged or resolved")
		}
		q.States = append(q.States, v)
	}
	order, err := p.choice("order", "desc", "desc", "asc")
	if err != nil {
		return q, false, err
	}
	q.Ascending = order == "asc"
	if q.Limit, err = p.intIn("limit", 1, eventstore.MaxLimit, eventstore.DefaultLimit); err != nil {
		return q, false, err
	}
	unix, err := p.unixTimes()
	return q, unix, err
}

// binding is the canonical form of a query's filters that page tokens are
// bound to: the same events in the same order, whatever the page size or
// time format.
func queryBinding(q eventstore.Query) string {
	return fmt.Sprintf("v1|%s|%s|%d|%d|%q|%v|%v|%v", q.DeviceID, strings.Join(q.Types, ","),
		unixNano(q.From), unixNano(q.To), q.Status, q.Severities, q.States, q.Ascending)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

var listParams = []string{"type", "from", "to", "status", "severity", "state", "order", "limit", "pageToken", "timeFormat"}

type listAnswer struct {
	Events        []json.RawMessage `json:"events"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
	Next          string            `json:"next,omitempty"`
}

// A listing's answer must fit what Lambda lets a function return:
// 6 291 456 bytes of payload, in which API Gateway's response carries the
// body as a JSON string, escaped once more. Its events may take all but
// answerReserve of it, counted as escaped; the reserve is for the rest
// (status, headers, nextPageToken, and next, which repeats the query of at
// most a few KB that API Gateway lets through).
const (
	lambdaPayloadLimit = 6 << 20
	answerReserve      = 256 << 10
)

func (f *Function) listDeviceEvents(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	return f.list(ctx, r, device)
}

func (f *Function) listFleetEvents(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	return f.list(ctx, r, "")
}

func (f *Function) list(ctx context.Context, r *apigw.Request, device string) (apigw.Response, error) {
	p := params{r}
	if err := p.allowOnly(listParams...); err != nil {
		return apigw.Response{}, err
	}
	q, unix, err := listQuery(p, device)
	if err != nil {
		return apigw.Response{}, err
	}
	binding := queryBinding(q)
	if q.After, err = f.queryCursor(ctx, p, binding); err != nil {
		return apigw.Response{}, err
	}
	page, err := f.deps.Store.List(ctx, q)
	if err != nil {
		return apigw.Response{}, err
	}
	out := listAnswer{}
	if out.Events, err = renderWithin(page.Events, unix, lambdaPayloadLimit-answerReserve); err != nil {
		return apigw.Response{}, err
	}
	if n := len(out.Events); n < len(page.Events) {
		page.Next = page.Events[n-1].ID // the rest on the next page
	}
	if page.Next != "" {
		if out.NextPageToken, err = f.pageToken(ctx, binding, page.Next); err != nil {
			return apigw.Response{}, err
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

// renderWithin renders the events, in order, as long as they fit in limit
// bytes of Lambda payload (and at least one, which always fits: an event
// is at most 256 KiB of JSON, and escaping JSON again at most doubles it).
func renderWithin(evs []eventstore.Event, unix bool, limit int) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(evs))
	size := 0
	for _, e := range evs {
		b, err := marshalJSON(render(e, unix))
		if err != nil {
			return nil, fmt.Errorf("render event: %w", err)
		}
		size += payloadBytes(b) + 1 // and a comma
		if size > limit && len(out) > 0 {
			break
		}
		out = append(out, b)
	}
	return out, nil
}

// payloadBytes is the size of b in the Lambda payload, where it is part of
// the body, a JSON string: aws-lambda-go writes the answer with
// encoding/json, HTML escaping off, so quotes, backslashes and control
// characters grow.
func payloadBytes(b []byte) int {
	var n byteCount
	enc := json.NewEncoder(&n)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(b)) // a string always encodes
	return int(n) - len(`""`+"\n")
}

type byteCount int

func (c *byteCount) Write(p []byte) (int, error) {
	*c += byteCount(len(p))
	return len(p), nil
}

// listQuery reads the filters of a listing.
func listQuery(p params, device string) (eventstore.Query, bool, error) {
	q := eventstore.Query{DeviceID: device}
	var err error
	if q.Types, err = p.types(10); err != nil {
		return q, false, err
	}
	if q.From, q.To, err = p.timeRange(); err != nil {
		return q, false, err
	}
	if status, _, err := p.one("status"); err != nil {
		return q, false, err
	} else if eventstore.CheckStatus("status", status) != nil {
		return q, false, query.Invalid("status", "at most 64 printable characters")
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
			return q, false, query.Invalid("severity", "must be info, warning, error or critical")
		}
		q.Severities = append(q.Severities, v)
	}
	if device == "" && len(q.Types) == 0 && !eventstore.AlarmsOnly(q.Severities) {
		return q, false, query.Invalid("type", "required when listing across devices, unless severity lists only warning, error or critical")
	}
	states, err := p.list("state", len(eventstore.States))
	if err != nil {
		return q, false, err
	}
	for _, s := range states {
		v, ok := eventstore.ParseState(s)
		if !ok {
			return q, false, query.Invalid("state", "must be new, acknowledged or resolved")
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

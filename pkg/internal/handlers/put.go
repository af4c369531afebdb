package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/body"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

// MaxBody is the largest request body read: Lambda's 6 MB payload limit,
// less room for the event around it.
const MaxBody = 6<<20 - 64<<10

// putAnswer is put-event's answer, over HTTP and to a direct invoke.
type putAnswer struct {
	Message string      `json:"message"`
	Events  []eventJSON `json:"events"`
	// Abridged: the events are listed without data and text, because
	// with them the answer would pass maxPutAnswer.
	Abridged bool `json:"abridged,omitempty"`
}

// maxPutAnswer is the largest put answer that lists its events whole. A
// batch of large events would otherwise echo megabytes (up to the 6 MB a
// Lambda may answer, and past it), which its sender already has; past this
// size the answer names the events (id, self, type, time…) without their
// data and text, and says so. A single event (at most 256 KiB) is always
// answered whole.
const maxPutAnswer = 1 << 20

func (f *Function) putEvents(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	res, err := f.put(ctx, r, device)
	if err != nil {
		return apigw.Response{}, err
	}
	status := http.StatusOK
	for _, c := range res.Created {
		if c {
			status = http.StatusCreated
		}
	}
	b, location, err := answer(res)
	if err != nil {
		return apigw.Response{}, err
	}
	resp := apigw.Response{Status: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}
	resp.Headers["Location"] = location
	if len(res.Events) == 1 {
		resp.Headers["ETag"] = etag(res.Events[0].Version)
	}
	return resp, nil
}

// put stores the events of a put-event body sent over HTTP, for device (the
// path's; empty when the body names its device).
func (f *Function) put(ctx context.Context, r *apigw.Request, device string) (eventstore.PutResult, error) {
	// First, before anything reads the body: a body of megabytes costs
	// what the checks below cost, not its decoding.
	if len(r.Body) > MaxBody {
		return eventstore.PutResult{}, &apierror.Error{Code: apierror.PayloadTooLarge, Message: "body is larger than 6 MB"}
	}
	if err := (params{r}).allowOnly(); err != nil {
		return eventstore.PutResult{}, err
	}
	// Device firmware and `curl -d` often label a JSON body as a form or as
	// text; the body is read as JSON whatever those say, and anything else
	// (XML, multipart, binary) is refused.
	if err := jsonContent(r, "application/json", "text/plain", "application/x-www-form-urlencoded"); err != nil {
		return eventstore.PutResult{}, err
	}
	in, err := body.DecodePut(r.Body, device, f.now())
	if err != nil {
		return eventstore.PutResult{}, err
	}
	req := eventstore.PutRequest{Events: in.Events}
	if key := r.Header("Idempotency-Key"); key != "" {
		if eventstore.CheckIdempotencyKey("Idempotency-Key", key) != nil {
			return eventstore.PutResult{}, query.Invalid("Idempotency-Key", "must be 1-255 printable ASCII characters without spaces")
		}
		switch {
		case in.Batch:
			req.RequestKey = key
		case in.Events[0].IdempotencyKey != "" && in.Events[0].IdempotencyKey != key:
			return eventstore.PutResult{}, &apierror.Error{Code: apierror.InvalidEvent, Field: "idempotencyKey",
				Message: "idempotencyKey: differs from the Idempotency-Key header"}
		default:
			req.Events[0].IdempotencyKey = key
		}
	}
	return f.deps.Store.Put(ctx, req)
}

// answer writes the put answer: the events whole, or abridged when that
// would pass maxPutAnswer. location is the first event's path, an HTTP
// answer's Location.
func answer(res eventstore.PutResult) (b json.RawMessage, location string, err error) {
	a := putAnswer{Message: addedMessage(res), Events: renderAll(res.Events, false)}
	location = a.Events[0].Self
	b, err = jsonbody.Marshal(a)
	if err != nil || len(b) <= maxPutAnswer {
		return b, location, err
	}
	for i := range a.Events {
		a.Events[i].Data, a.Events[i].Text = nil, ""
	}
	a.Abridged = true
	b, err = jsonbody.Marshal(a)
	return b, location, err
}

// addedMessage is the registry's message of a put: "Successfully added
// events for <device>[, <device>...]".
func addedMessage(res eventstore.PutResult) string {
	var devices []string
	for _, e := range res.Events {
		if len(devices) == 0 || devices[len(devices)-1] != e.DeviceID {
			devices = append(devices, e.DeviceID)
		}
	}
	return "Successfully added events for " + strings.Join(devices, ", ")
}

// putDirect serves a direct invoke: the raw body of put-event, naming its
// device(s) itself. Errors are answered as Lambda function errors whose
// type is the contract's error code.
func (f *Function) putDirect(ctx context.Context, payload []byte) (json.RawMessage, *apierror.Error) {
	start := time.Now()
	ctx, m := withMeter(ctx)
	res, err := f.directPut(ctx, payload)
	var buf [16]slog.Attr
	attrs := buf[:0]
	status, code, level := http.StatusOK, "", slog.LevelInfo
	var e *apierror.Error
	if err != nil {
		var ours bool
		e, ours = asError(err)
		status, code = e.Status(), e.Code
		if !ours || status >= 500 {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", err.Error()))
		}
	} else {
		attrs = append(attrs, slog.Int("events", len(res.Events)), slog.String("deviceId", res.Events[0].DeviceID))
	}
	attrs = f.metrics(m, status, code, time.Since(start)).AppendEMF(attrs)
	f.deps.Logger.LogAttrs(ctx, level, "direct put", attrs...)
	if e != nil {
		return nil, e
	}
	b, _, err := answer(res)
	if err != nil {
		return nil, &apierror.Error{Code: apierror.Internal, Message: apierror.InternalMessage}
	}
	return b, nil
}

func (f *Function) directPut(ctx context.Context, payload []byte) (eventstore.PutResult, error) {
	in, err := body.DecodePut(payload, "", f.now())
	if err != nil {
		return eventstore.PutResult{}, err
	}
	return f.deps.Store.Put(ctx, eventstore.PutRequest{Events: in.Events})
}

// jsonContent accepts a JSON body: no Content-Type, the given types,
// application/*+json, with a UTF-8 charset if any.
func jsonContent(r *apigw.Request, accepted ...string) error {
	ct := r.Header("Content-Type")
	if ct == "" {
		return nil
	}
	// API Gateway joins the values of a header sent twice with commas, and
	// no media type holds one outside a quoted parameter: say so rather
	// than name the type that was expected (curl keeps both of two -H
	// Content-Type options).
	if strings.Contains(ct, ",") && !strings.Contains(ct, `"`) {
		return &apierror.Error{Code: apierror.UnsupportedMediaType,
			Message: "Content-Type was sent more than once (" + ct + "); send one: " + accepted[0] + " (UTF-8)"}
	}
	// ParseMediaType returns the media type even when it cannot read the
	// parameters; a label whose charset cannot be read is not trusted.
	mt, p, err := mime.ParseMediaType(ct)
	ok := strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
	for _, a := range accepted {
		ok = ok || mt == a
	}
	ok = ok && err == nil
	if cs, has := p["charset"]; has && !strings.EqualFold(cs, "utf-8") {
		ok = false
	}
	if !ok {
		return &apierror.Error{Code: apierror.UnsupportedMediaType,
			Message: "Content-Type must be " + accepted[0] + " (UTF-8)"}
	}
	return nil
}

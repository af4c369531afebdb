// Package cumulocity maps Cumulocity's Event API (/event, /event/events,
// /event/events/{id}: cumulocity-events.md) onto the service's events:
// its query parameters, bodies, media types, answers and error shape. It
// is pure mapping; the handlers (pkg/internal/handlers, cumulocity.go) call
// the store.
//
// An event's Cumulocity id is eventstore.GlobalID of its device and its
// id: /event/events/{id} names no device, and an id that carries it is
// found with the one read of the native GET. An index from ids to devices
// would cost a write unit on every event of every API, for the sake of one
// dialect.
//
// A Cumulocity event is the native event seen another way: source.id is
// the device, type, time and text are the event's, and the custom
// fragments (every other top-level member) are the members of its data,
// so the native API lists what Cumulocity clients wrote and the reverse.
// Severity, state and status, which Cumulocity's events lack, are not
// shown; a member of data named like one of the event's own members (id,
// self, type, ...) is not shown at the top level either.
package cumulocity

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/query"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// The paths of the Event API.
const (
	APIPath        = "/event"
	CollectionPath = "/event/events"
)

// The media types of the Event API's resources.
const (
	EventAPIType   = "application/vnd.com.nsn.cumulocity.eventApi+json"
	CollectionType = "application/vnd.com.nsn.cumulocity.eventCollection+json"
	EventType      = "application/vnd.com.nsn.cumulocity.event+json"
	ErrorType      = "application/vnd.com.nsn.cumulocity.error+json"
)

// ContentType is the Content-Type of an answer of mediaType to a request
// that sent accept: plain application/json to a client that asks only for
// it (as @c8y/client does), else the resource's own media type, which is
// JSON too.
func ContentType(accept, mediaType string) string {
	if strings.Contains(accept, "application/json") && !strings.Contains(accept, "application/vnd.com.nsn.cumulocity.") {
		return "application/json"
	}
	return mediaType + ";charset=UTF-8;ver=0.9"
}

// Self is the path of an event.
func Self(device, id string) string {
	return CollectionPath + "/" + eventstore.GlobalID(device, id)
}

// ParseID reads an event's Cumulocity id into its device and native id;
// false when it is none (the event is then not found).
func ParseID(id string) (device, eventID string, ok bool) {
	return eventstore.ParseGlobalID(id)
}

// own are the members of a Cumulocity event that are not fragments.
var own = []string{"id", "self", "creationTime", "lastUpdated", "type", "time", "text", "source"}

// Render writes an event as Cumulocity's Event.
func Render(e eventstore.Event) ([]byte, error) {
	self := Self(e.DeviceID, e.ID)
	out := make(map[string]any, len(own)+len(e.Data))
	for k, v := range e.Data {
		if !slices.Contains(own, k) {
			out[k] = v
		}
	}
	maps.Copy(out, map[string]any{
		"id":           eventstore.GlobalID(e.DeviceID, e.ID),
		"self":         self,
		"creationTime": timestamp.FormatISO(e.CreationTime),
		"lastUpdated":  timestamp.FormatISO(e.LastUpdated),
		"type":         e.Type,
		"time":         timestamp.FormatISO(e.Time),
		"text":         e.Text,
		"source":       map[string]string{"id": e.DeviceID},
	})
	return jsonbody.Marshal(out)
}

// object reads a JSON object body; errors are the body package's.
func object(body []byte) (map[string]json.RawMessage, error) {
	if err := jsonbody.Check(body); err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, &eventstore.FieldError{Field: "body", Message: "must be a JSON object"}
	}
	return obj, nil
}

// sourceID reads source.id: a JSON object whose id is a string (or a
// number, as Cumulocity's numeric ids are sent). Its other members (name,
// self) are Cumulocity's to show and are not kept.
func sourceID(raw json.RawMessage) (string, error) {
	var src map[string]json.RawMessage
	if err := json.Unmarshal(raw, &src); err != nil || src == nil {
		return "", &eventstore.FieldError{Field: "source", Message: "must be an object with an id"}
	}
	var id string
	if json.Unmarshal(src["id"], &id) != nil {
		var n json.Number
		if json.Unmarshal(src["id"], &n) != nil {
			return "", &eventstore.FieldError{Field: "source.id", Message: "required: the device's id, a string"}
		}
		id = n.String()
	}
	if err := eventstore.CheckDeviceID("source.id", id); err != nil {
		return "", err
	}
	return id, nil
}

// nativeBody writes a native event or patch body: the given members as
// they are, and the fragments as data.
func nativeBody(members map[string]json.RawMessage, fragments map[string]json.RawMessage) ([]byte, error) {
	out := maps.Clone(members)
	if len(fragments) > 0 {
		data, err := json.Marshal(fragments)
		if err != nil {
			return nil, err
		}
		out["data"] = data
	}
	return json.Marshal(out)
}

// DecodeCreate reads the body of POST /event/events: source.id, type,
// time and text (all required, as Cumulocity requires them) and custom
// fragments at the top level. It returns the device and the native body
// of the event (type, time, text, and the fragments as data), which the
// native put validates and stores. id, self, creationTime and lastUpdated
// are the server's: sent, they are ignored, as Cumulocity ignores them.
func DecodeCreate(body []byte) (device string, native []byte, err error) {
	obj, err := object(body)
	if err != nil {
		return "", nil, err
	}
	for _, k := range []string{"source", "type", "time", "text"} {
		if raw, ok := obj[k]; !ok || string(raw) == "null" {
			return "", nil, &eventstore.FieldError{Field: k, Message: "required (Cumulocity's mandatory fields: source, type, time, text)"}
		}
	}
	if device, err = sourceID(obj["source"]); err != nil {
		return "", nil, err
	}
	members := map[string]json.RawMessage{"type": obj["type"], "time": obj["time"], "text": obj["text"]}
	fragments := map[string]json.RawMessage{}
	for k, v := range obj {
		if !slices.Contains(own, k) {
			fragments[k] = v
		}
	}
	native, err = nativeBody(members, fragments)
	return device, native, err
}

// DecodeUpdate reads the body of PUT /event/events/{id}: text and custom
// fragments, which Cumulocity lets change. A fragment is merged into the
// event's data as an RFC 7396 merge patch (null removes it). The members
// a client sends back as it read them (id, source, type, time,
// creationTime) must be the event's: they become the native patch's
// immutable fields, which the store compares. self and lastUpdated are
// ignored.
func DecodeUpdate(body []byte, id string) (native []byte, err error) {
	obj, err := object(body)
	if err != nil {
		return nil, err
	}
	members := map[string]json.RawMessage{}
	fragments := map[string]json.RawMessage{}
	for k, v := range obj {
		switch k {
		case "id":
			var sent string
			if json.Unmarshal(v, &sent) != nil || sent != id {
				return nil, &eventstore.ImmutableError{Field: "id"}
			}
		case "source":
			device, err := sourceID(v)
			if err != nil {
				return nil, err
			}
			members["deviceId"], _ = json.Marshal(device)
		case "text", "type", "time", "creationTime":
			members[k] = v
		case "self", "lastUpdated":
		default:
			fragments[k] = v
		}
	}
	return nativeBody(members, fragments)
}

// Filter is what a listing or a bulk delete selects.
type Filter struct {
	// Source is the device; empty across devices.
	Source string
	Type   string
	// From is inclusive, To exclusive; zero leaves that side open.
	From, To     time.Time
	FragmentType string
}

// Listing is a GET /event/events.
type Listing struct {
	Filter
	PageSize, CurrentPage int
	WithTotalPages        bool
	WithTotalElements     bool
	// Revert lists the oldest first; Cumulocity lists the newest first.
	Revert bool
}

// Paging of a listing.
const (
	DefaultPageSize = 5
	MaxPageSize     = 2000
)

var (
	filterParams  = []string{"source", "type", "dateFrom", "dateTo", "fragmentType"}
	listingParams = append(slices.Clone(filterParams), "pageSize", "currentPage", "withTotalPages", "withTotalElements", "revert")
)

// params reads a request's query against the parameters allowed: any
// other is refused, naming it, rather than ignored (a filter the client
// believes applied would not be); each is given at most once.
type params struct{ v url.Values }

func (q params) allowOnly(allowed []string) error {
	if err := query.Allowed(q.v, allowed); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(q.v)) {
		if len(q.v[k]) > 1 {
			return query.Invalid(k, "given more than once")
		}
	}
	return nil
}

func (q params) time(name string) (time.Time, error) {
	v := q.v.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	// Cumulocity takes a date alone as its first instant.
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d, nil
	}
	t, err := timestamp.Parse(v)
	if err != nil {
		return time.Time{}, query.Invalid(name, "not an ISO 8601 date or time")
	}
	return t, nil
}

func (q params) boolean(name string) (bool, error) {
	switch q.v.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, query.Invalid(name, "must be true or false")
}

func (q params) integer(name string, lo, hi, def int) (int, error) {
	v := q.v.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, query.Invalid(name, "must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func (q params) filter() (Filter, error) {
	f := Filter{Source: q.v.Get("source"), Type: q.v.Get("type"), FragmentType: q.v.Get("fragmentType")}
	if f.Source != "" && !eventstore.ValidDeviceID(f.Source) {
		return f, query.Invalid("source", "must be a device id: 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	if f.Type != "" && eventstore.CheckType("type", f.Type) != nil {
		return f, query.Invalid("type", "%q is not an event type", f.Type)
	}
	var err error
	if f.From, err = q.time("dateFrom"); err != nil {
		return f, err
	}
	if f.To, err = q.time("dateTo"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, query.Invalid("dateFrom", "must be before dateTo")
	}
	return f, nil
}

// ParseListing reads the query of GET /event/events.
func ParseListing(v url.Values) (Listing, error) {
	q := params{v}
	if err := q.allowOnly(listingParams); err != nil {
		return Listing{}, err
	}
	var l Listing
	var err error
	if l.Filter, err = q.filter(); err != nil {
		return l, err
	}
	if l.PageSize, err = q.integer("pageSize", 1, MaxPageSize, DefaultPageSize); err != nil {
		return l, err
	}
	// Page numbers beyond what 2 000 × n can count are no page at all.
	if l.CurrentPage, err = q.integer("currentPage", 1, 1<<30, 1); err != nil {
		return l, err
	}
	if l.WithTotalPages, err = q.boolean("withTotalPages"); err != nil {
		return l, err
	}
	if l.WithTotalElements, err = q.boolean("withTotalElements"); err != nil {
		return l, err
	}
	l.Revert, err = q.boolean("revert")
	return l, err
}

// ParseDeletion reads the query of DELETE /event/events.
func ParseDeletion(v url.Values) (Filter, error) {
	q := params{v}
	if err := q.allowOnly(filterParams); err != nil {
		return Filter{}, err
	}
	return q.filter()
}

// HasFragment reports whether an event carries the fragment: its data
// has that member.
func HasFragment(e eventstore.Event, fragment string) bool {
	_, ok := e.Data[fragment]
	return ok
}

// Statistics are a collection's PagingStatistics.
type Statistics struct {
	CurrentPage   int    `json:"currentPage"`
	PageSize      int    `json:"pageSize"`
	TotalPages    *int64 `json:"totalPages,omitempty"`
	TotalElements *int64 `json:"totalElements,omitempty"`
}

// Collection is an EventCollection.
type Collection struct {
	Self       string            `json:"self"`
	Events     []json.RawMessage `json:"events"`
	Statistics Statistics        `json:"statistics"`
	Prev       string            `json:"prev,omitempty"`
	Next       string            `json:"next,omitempty"`
}

// NewCollection is the answer to a listing: its events (rendered), total
// the number of events it selects (-1 when not asked for), more whether
// events follow this page. The links repeat the request's query with
// another currentPage, the one thing @c8y/client's Paging reads of them.
func NewCollection(v url.Values, l Listing, events []json.RawMessage, total int64, more bool) Collection {
	link := func(page int) string {
		q := maps.Clone(v)
		if q == nil {
			q = url.Values{}
		}
		q.Set("currentPage", strconv.Itoa(page))
		return CollectionPath + "?" + q.Encode()
	}
	c := Collection{Self: link(l.CurrentPage), Events: events,
		Statistics: Statistics{CurrentPage: l.CurrentPage, PageSize: l.PageSize}}
	if c.Events == nil {
		c.Events = []json.RawMessage{}
	}
	if total >= 0 {
		pages := (total + int64(l.PageSize) - 1) / int64(l.PageSize)
		if l.WithTotalPages {
			c.Statistics.TotalPages = &pages
		}
		if l.WithTotalElements {
			c.Statistics.TotalElements = &total
		}
	}
	if l.CurrentPage > 1 {
		c.Prev = link(l.CurrentPage - 1)
	}
	if more {
		c.Next = link(l.CurrentPage + 1)
	}
	return c
}

// EventAPI is the Event API resource, GET /event: its links and URI
// templates, as the document lists them.
func EventAPI() map[string]any {
	c := CollectionPath
	out := map[string]any{
		"self":   APIPath,
		"events": map[string]string{"self": c},
	}
	for name, tmpl := range map[string]string{
		"eventsForType":                                "type={type}",
		"eventsForSource":                              "source={source}",
		"eventsForTime":                                "dateFrom={dateFrom}&dateTo={dateTo}",
		"eventsForFragmentType":                        "fragmentType={fragmentType}",
		"eventsForSourceAndType":                       "type={type}&source={source}",
		"eventsForSourceAndTime":                       "source={source}&dateFrom={dateFrom}&dateTo={dateTo}",
		"eventsForSourceAndFragmentType":               "source={source}&fragmentType={fragmentType}",
		"eventsForDateAndFragmentType":                 "dateFrom={dateFrom}&dateTo={dateTo}&fragmentType={fragmentType}",
		"eventsForFragmentTypeAndType":                 "fragmentType={fragmentType}&type={type}",
		"eventsForTimeAndType":                         "dateFrom={dateFrom}&dateTo={dateTo}&type={type}",
		"eventsForSourceAndDateAndFragmentType":        "source={source}&dateFrom={dateFrom}&dateTo={dateTo}&fragmentType={fragmentType}",
		"eventsForSourceAndDateAndFragmentTypeAndType": "source={source}&dateFrom={dateFrom}&dateTo={dateTo}&fragmentType={fragmentType}&type={type}",
		"eventsForSourceAndFragmentTypeAndType":        "source={source}&fragmentType={fragmentType}&type={type}",
		"eventsForSourceAndTimeAndType":                "source={source}&dateFrom={dateFrom}&dateTo={dateTo}&type={type}",
		"eventsForDateAndFragmentTypeAndType":          "dateFrom={dateFrom}&dateTo={dateTo}&fragmentType={fragmentType}&type={type}",
	} {
		out[name] = c + "?" + tmpl
	}
	return out
}

// ErrorBody is Cumulocity's error: error is "<resource>/<reason>"
// (security for 401 and 403, event otherwise, the reason being the HTTP
// status's text), message says what is wrong, info where errors are
// described. The service's own code, the parameter or field at fault and
// the request id are in details.
type ErrorBody struct {
	Error   string       `json:"error"`
	Message string       `json:"message"`
	Info    string       `json:"info"`
	Details ErrorDetails `json:"details"`
}

// ErrorDetails are the service's own words on an error.
type ErrorDetails struct {
	Code      string `json:"code"`
	Parameter string `json:"parameter,omitempty"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId"`
}

// ErrorInfo is where Cumulocity describes its errors.
const ErrorInfo = "https://cumulocity.com/api/core/#section/REST-implementation/HTTP-response-codes"

// Error is the body of e's answer.
func Error(e *apierror.Error, requestID string) ErrorBody {
	status := e.Status()
	resource := "event"
	if status == 401 || status == 403 {
		resource = "security"
	}
	return ErrorBody{Error: resource + "/" + http.StatusText(status), Message: e.Message, Info: ErrorInfo,
		Details: ErrorDetails{Code: e.Code, Parameter: e.Parameter, Field: e.Field, RequestID: requestID}}
}

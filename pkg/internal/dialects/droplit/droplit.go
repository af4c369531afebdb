// Package droplit maps Droplit's device history (droplit-device-history.txt,
// GET /api/devices/{id}/history) onto the service: its query, read into a
// Request; its records, written from events; its errors, named by the
// document's reasons.
//
// A history record is an event:
//
//	deviceId       the event's deviceId
//	environmentId  data.environmentId when it is a string, else ""
//	recordKey      the event's id (unique, sorts by time)
//	service        the event's type (what reported it: the filter "service" is the
//	               native type filter, which the counters count, so page numbers are cheap)
//	member         data.member when it is a string, else ""
//	value          data.value when data has it, else the event's text ("" for none)
//	time           the event's time, ISO 8601 (RFC 3339 UTC, milliseconds)
//	type           "error" for an event of severity error or critical, else "event":
//	               Droplit's Error ("an error pertaining to a device") and Event ("a
//	               service event"); the service records no Changed, Get, Info or Set
//	               actions, so those filters are valid and select nothing
//
// data.index (a non-negative integer, or its decimal string) is the
// service index the filter "index" selects.
//
// The package maps only: the handler (pkg/internal/handlers/droplit.go)
// reads the store.
package droplit

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/query"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
)

// The document's error reasons, verbatim.
const (
	DeviceInvalid            = "Device Invalid"
	ContinuationCountInvalid = "History Continuation Count Invalid"
	EndDateInvalid           = "History End Date Invalid"
	EventTypeInvalid         = "History Event Type Invalid"
	PageSizeInvalid          = "History Page Size Invalid"
	StartDateInvalid         = "History Start Date Invalid"
	ServiceIndexInvalid      = "History Service Index Invalid"
	QueryFieldNotAllowed     = "Query Field Not Allowed"
	DeviceNotFound           = "Device Not Found"
)

// reasons names the 400 of each parameter.
var reasons = map[string]string{
	"deviceId":          DeviceInvalid,
	"continuationCount": ContinuationCountInvalid,
	"endDate":           EndDateInvalid,
	"type":              EventTypeInvalid,
	"pageSize":          PageSizeInvalid,
	"startDate":         StartDateInvalid,
	"index":             ServiceIndexInvalid,
}

// Reason is the document's name for an error, "" when it has none (a key
// not allowed this device, an invalid continuationToken, a service that is
// no event type, the storage unavailable...).
func Reason(e *apierror.Error) string {
	switch e.Code {
	case apierror.QueryFieldNotAllowed:
		return QueryFieldNotAllowed
	case apierror.NotFound:
		return DeviceNotFound
	case apierror.InvalidParameter:
		return reasons[e.Parameter]
	}
	return ""
}

// Page sizes: Droplit's pages hold 1000 objects unless pageSize says fewer;
// more is the listing's limit too.
const (
	DefaultPageSize = eventstore.MaxLimit
	MaxPageSize     = eventstore.MaxLimit
)

// The action types.
const (
	TypeEvent = "event"
	TypeError = "error"
)

// types are the document's action types, lower-case as its example's
// filter (type=changed).
var types = []string{"changed", TypeError, TypeEvent, "get", "info", "set"}

// Request is a history request's query.
type Request struct {
	// Start and End bound the records' times, both included; zero is
	// unbounded.
	Start, End time.Time
	PageSize   int
	// Token is the continuationToken, "" for none.
	Token string
	// Count is the continuationCount: how many pages come before this
	// one.
	Count int64
	// Type is the action type asked for (lower-case), "" for all.
	Type    string
	Service string
	// Member and Index filter on the records' data; HasIndex tells an
	// index of 0 from none.
	Member   string
	Index    int64
	HasIndex bool
}

var parameters = []string{"continuationCount", "continuationToken", "endDate", "index", "member", "pageSize", "service", "startDate", "type"}

// Parse reads a request's query. Its errors are the contract's codes with
// the parameter at fault, which Reason names.
func Parse(q url.Values) (Request, error) {
	if err := query.Allowed(q, parameters); err != nil {
		return Request{}, err
	}
	r := Request{PageSize: DefaultPageSize}
	get := func(name string) (string, bool, error) { return query.One(q, name) }
	for _, name := range []string{"startDate", "endDate"} {
		v, ok, err := get(name)
		if err != nil || !ok {
			if err != nil {
				return Request{}, err
			}
			continue
		}
		t, perr := timestamp.Parse(v)
		if perr != nil {
			return Request{}, query.Invalid(name, "not an ISO 8601 datetime: %v", perr)
		}
		if name == "startDate" {
			r.Start = t
		} else {
			r.End = t
		}
	}
	if !r.Start.IsZero() && !r.End.IsZero() && r.Start.After(r.End) {
		return Request{}, query.Invalid("startDate", "after endDate")
	}
	if v, ok, err := get("pageSize"); err != nil {
		return Request{}, err
	} else if ok {
		n, cerr := strconv.Atoi(v)
		if cerr != nil || n < 1 {
			return Request{}, query.Invalid("pageSize", "must be a positive number")
		}
		r.PageSize = min(n, MaxPageSize)
	}
	if v, ok, err := get("continuationCount"); err != nil {
		return Request{}, err
	} else if ok {
		n, cerr := strconv.ParseInt(v, 10, 32)
		if cerr != nil || n < 0 {
			return Request{}, query.Invalid("continuationCount", "must be a number of pages from 0")
		}
		r.Count = n
	}
	if v, ok, err := get("index"); err != nil {
		return Request{}, err
	} else if ok {
		n, cerr := strconv.ParseInt(v, 10, 32)
		if cerr != nil || n < 0 {
			return Request{}, query.Invalid("index", "must be a non-negative number")
		}
		r.Index, r.HasIndex = n, true
	}
	if v, ok, err := get("type"); err != nil {
		return Request{}, err
	} else if ok {
		r.Type = strings.ToLower(v)
		if !slices.Contains(types, r.Type) {
			return Request{}, query.Invalid("type", "must be one of changed, error, event, get, info, set")
		}
	}
	var err error
	if r.Token, _, err = get("continuationToken"); err != nil {
		return Request{}, err
	}
	if r.Service, _, err = get("service"); err != nil {
		return Request{}, err
	}
	if r.Member, _, err = get("member"); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Severities are the severities of the events of the request's type: nil
// for every type, empty (not nil) for a type no event has.
func (r Request) Severities() []eventstore.Severity {
	switch r.Type {
	case "":
		return nil
	case TypeError:
		return []eventstore.Severity{eventstore.SeverityError, eventstore.SeverityCritical}
	case TypeEvent:
		return []eventstore.Severity{eventstore.SeverityInfo, eventstore.SeverityWarning}
	}
	return []eventstore.Severity{}
}

// Filtered reports whether the request filters on the records' data
// (member, index), which the store cannot: the handler reads and drops.
func (r Request) Filtered() bool { return r.Member != "" || r.HasIndex }

// Matches reports whether an event passes the request's data filters.
func (r Request) Matches(e eventstore.Event) bool {
	if r.Member != "" && stringOf(e.Data["member"]) != r.Member {
		return false
	}
	if r.HasIndex {
		n, ok := indexOf(e.Data["index"])
		if !ok || n != r.Index {
			return false
		}
	}
	return true
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func indexOf(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case float64:
		return int64(x), x == float64(int64(x))
	}
	return 0, false
}

// Item is a history record.
type Item struct {
	DeviceID      string `json:"deviceId"`
	EnvironmentID string `json:"environmentId"`
	Member        string `json:"member"`
	RecordKey     string `json:"recordKey"`
	Service       string `json:"service"`
	Time          string `json:"time"`
	Type          string `json:"type"`
	Value         any    `json:"value"`
}

// ItemOf is the record of an event.
func ItemOf(e eventstore.Event) Item {
	it := Item{DeviceID: e.DeviceID, EnvironmentID: stringOf(e.Data["environmentId"]), Member: stringOf(e.Data["member"]),
		RecordKey: e.ID, Service: e.Type, Time: timestamp.FormatISO(e.Time), Type: TypeEvent, Value: e.Text}
	if v, ok := e.Data["value"]; ok {
		it.Value = v
	}
	if e.Severity == eventstore.SeverityError || e.Severity == eventstore.SeverityCritical {
		it.Type = TypeError
	}
	return it
}

// Answer is the answer of a history request: Droplit's paged lists carry
// their objects in items, and a continuationToken while more may follow.
type Answer struct {
	Items             []Item `json:"items"`
	ContinuationToken string `json:"continuationToken,omitempty"`
}

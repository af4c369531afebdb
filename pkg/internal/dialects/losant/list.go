package losant

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/query"
)

// The page sizes of a listing.
const (
	DefaultPerPage = 100
	MaxPerPage     = eventstore.MaxLimit
)

// flags are the parameters losant-rest adds to every request (whether to
// embed links and actions): accepted, and without effect.
var flags = []string{"_actions", "_links", "_embedded"}

var listParams = append([]string{"sortField", "sortDirection", "page", "perPage", "filterField", "filter", "state", "query"}, flags...)

// List is a listing request: the store's query (Limit is the page size)
// and which page, with what Losant's collection echoes.
type List struct {
	Query eventstore.Query
	Page  int64
	// SortField is creationDate: the events are in time order (as their
	// ids), and the other orders Losant offers are not kept here.
	SortField, SortDirection   string
	FilterField, Filter, State string
	RawQuery                   json.RawMessage
}

// CheckFlags refuses any query parameter of an event's routes but
// losant-rest's flags.
func CheckFlags(v url.Values) error { return allowOnly(v, flags) }

// ParseList reads the query of GET /applications/{applicationId}/events:
// sortField (creationDate, or id: the same order), sortDirection, page
// (from 0), perPage (1–1000, default 100), filterField=subject with
// filter (a subject, without globbing), state, and query, Losant's
// advanced event query, of which deviceId, subject, level and state
// ($eq, $in), creationDate ($gt, $gte, $lt, $lte) and $and are read
// here. As with Losant, query overrides filterField, filter and state.
func ParseList(v url.Values) (List, error) {
	l := List{SortField: "creationDate", SortDirection: "desc"}
	if err := allowOnly(v, listParams); err != nil {
		return l, err
	}
	one := func(name string) (string, error) {
		vs := v[name]
		if len(vs) > 1 {
			return "", query.Invalid(name, "given more than once")
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	for _, f := range flags {
		if s, err := one(f); err != nil {
			return l, err
		} else if s != "" && s != "true" && s != "false" {
			return l, query.Invalid(f, "must be true or false")
		}
	}
	if s, err := one("sortField"); err != nil {
		return l, err
	} else if s != "" && s != "creationDate" && s != "id" {
		return l, query.Invalid("sortField", "only creationDate (or id, the same order) is supported here")
	}
	if s, err := one("sortDirection"); err != nil {
		return l, err
	} else if s != "" {
		l.SortDirection = strings.ToLower(s)
		if l.SortDirection != "asc" && l.SortDirection != "desc" {
			return l, query.Invalid("sortDirection", "must be asc or desc")
		}
	}
	l.Query.Ascending = l.SortDirection == "asc"
	l.Query.Limit = DefaultPerPage
	if s, err := one("perPage"); err != nil {
		return l, err
	} else if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPerPage {
			return l, query.Invalid("perPage", "must be an integer from 1 to %d", MaxPerPage)
		}
		l.Query.Limit = n
	}
	if s, err := one("page"); err != nil {
		return l, err
	} else if s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		// A page past a billion events is past any listing.
		if err != nil || n < 0 || n > 1e9/int64(l.Query.Limit) {
			return l, query.Invalid("page", "must be an integer from 0")
		}
		l.Page = n
	}
	var err error
	if l.FilterField, err = one("filterField"); err != nil {
		return l, err
	}
	if l.Filter, err = one("filter"); err != nil {
		return l, err
	}
	if l.State, err = one("state"); err != nil {
		return l, err
	}
	if _, ok := eventstore.ParseState(l.State); l.State != "" && !ok {
		return l, query.Invalid("state", "must be new, acknowledged or resolved")
	}
	raw, err := one("query")
	if err != nil {
		return l, err
	}
	if raw != "" {
		l.RawQuery = json.RawMessage(raw)
		if err := l.advanced(l.RawQuery); err != nil {
			return l, err
		}
	} else if err := l.simple(); err != nil {
		return l, err
	}
	return l, l.check()
}

// simple reads filterField, filter and state.
func (l *List) simple() error {
	switch {
	case l.FilterField != "" && l.FilterField != "subject":
		return query.Invalid("filterField", "only subject is supported")
	case l.Filter != "" && strings.ContainsAny(l.Filter, "*?["):
		return query.Invalid("filter", "globbing is not supported here: give a whole subject")
	case l.Filter != "":
		l.Query.Types = []string{l.Filter}
	}
	if l.State != "" {
		l.Query.States = []eventstore.State{eventstore.State(l.State)}
	}
	return nil
}

// advanced reads Losant's advanced event query.
func (l *List) advanced(raw json.RawMessage) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var obj map[string]json.RawMessage
	if d.Decode(&obj) != nil || obj == nil || d.More() {
		return query.Invalid("query", "must be a JSON object (an advanced event query)")
	}
	return l.and(obj)
}

func (l *List) and(obj map[string]json.RawMessage) error {
	q := &l.Query
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[k]
		switch k {
		case "$and":
			var parts []map[string]json.RawMessage
			if json.Unmarshal(raw, &parts) != nil || len(parts) > 100 {
				return query.Invalid("query", "$and must be a list of at most 100 queries")
			}
			for _, p := range parts {
				if err := l.and(p); err != nil {
					return err
				}
			}
		case "deviceId":
			vs, err := values(k, raw, false)
			if err != nil {
				return err
			}
			if vs[0] == "" {
				return query.Invalid("query", "deviceId: empty")
			}
			if q.DeviceID != "" && q.DeviceID != vs[0] {
				return query.Invalid("query", "deviceId: one device at most")
			}
			q.DeviceID = vs[0]
		case "subject":
			vs, err := values(k, raw, true)
			if err != nil {
				return err
			}
			q.Types = append(q.Types, vs...)
		case "level":
			vs, err := values(k, raw, true)
			if err != nil {
				return err
			}
			for _, v := range vs {
				q.Severities = append(q.Severities, eventstore.Severity(v))
			}
		case "state":
			vs, err := values(k, raw, true)
			if err != nil {
				return err
			}
			for _, v := range vs {
				q.States = append(q.States, eventstore.State(v))
			}
		case "creationDate":
			if err := l.dates(raw); err != nil {
				return err
			}
		default:
			return query.Invalid("query", "%s is not supported here (supported: $and, deviceId, subject, level, state, creationDate)", k)
		}
	}
	return nil
}

// values reads a field's condition: a string, {"$eq": string} or, when
// in is allowed, {"$in": [string, ...]}.
func values(field string, raw json.RawMessage, in bool) ([]string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var ops map[string]json.RawMessage
	if json.Unmarshal(raw, &ops) != nil || len(ops) != 1 {
		return nil, query.Invalid("query", "%s: a string, or an object of one operator", field)
	}
	if r, ok := ops["$eq"]; ok && json.Unmarshal(r, &s) == nil {
		return []string{s}, nil
	}
	var list []string
	if r, ok := ops["$in"]; ok && in && json.Unmarshal(r, &list) == nil && len(list) > 0 {
		return list, nil
	}
	ins := ""
	if in {
		ins = " or $in (a list of strings)"
	}
	return nil, query.Invalid("query", "%s: the operators supported here are $eq%s", field, ins)
}

// dates reads creationDate's bounds into the query's [From, To).
func (l *List) dates(raw json.RawMessage) error {
	var ops map[string]json.RawMessage
	if json.Unmarshal(raw, &ops) != nil || len(ops) == 0 {
		return query.Invalid("query", "creationDate: an object of $gt, $gte, $lt, $lte")
	}
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		t, err := readDate(ops[op])
		if err != nil {
			return query.Invalid("query", "creationDate.%s: an ISO 8601 date or Unix milliseconds", op)
		}
		t = t.Truncate(time.Millisecond)
		switch op {
		case "$gte":
			l.Query.From = later(l.Query.From, t)
		case "$gt":
			l.Query.From = later(l.Query.From, t.Add(time.Millisecond))
		case "$lt":
			l.Query.To = earlier(l.Query.To, t)
		case "$lte":
			l.Query.To = earlier(l.Query.To, t.Add(time.Millisecond))
		default:
			return query.Invalid("query", "creationDate: the operators supported here are $gt, $gte, $lt, $lte")
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// check holds the query to what the store lists.
func (l *List) check() error {
	q := &l.Query
	if q.DeviceID != "" && !eventstore.ValidDeviceID(q.DeviceID) {
		return query.Invalid("query", "deviceId: 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	q.Types = uniq(q.Types)
	if len(q.Types) > 10 {
		return query.Invalid("query", "subject: at most 10")
	}
	for _, t := range q.Types {
		if eventstore.CheckType("subject", t) != nil {
			return query.Invalid("query", "subject: %q is not a subject this service keeps", t)
		}
	}
	q.Severities = uniq(q.Severities)
	for _, s := range q.Severities {
		if _, ok := eventstore.ParseSeverity(string(s)); !ok {
			return query.Invalid("query", "level: must be info, warning, error or critical")
		}
	}
	q.States = uniq(q.States)
	for _, s := range q.States {
		if _, ok := eventstore.ParseState(string(s)); !ok {
			return query.Invalid("state", "must be new, acknowledged or resolved")
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return query.Invalid("query", "creationDate: the range is empty")
	}
	if q.DeviceID == "" && len(q.Types) == 0 && !eventstore.AlarmsOnly(q.Severities) {
		return query.Invalid("query", "across devices, name a deviceId or a subject, or list levels of warning and above only")
	}
	return nil
}

func uniq[T comparable](s []T) []T {
	var out []T
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// allowOnly refuses any query parameter outside allowed, naming it.
func allowOnly(v url.Values, allowed []string) error {
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if !slices.Contains(allowed, k) {
			return &apierror.Error{Code: apierror.QueryFieldNotAllowed, Parameter: k,
				Message: k + ": query parameter not allowed here (allowed: " + strings.Join(allowed, ", ") + ")"}
		}
	}
	return nil
}

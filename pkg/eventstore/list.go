package eventstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// Query selects events, newest first unless Ascending.
type Query struct {
	// DeviceID selects one device's events. Empty means every device, and
	// then Types is required unless Severities selects alarms only (see
	// AlarmsOnly): that lists the fleet's alarms.
	DeviceID   string
	Types      []string
	From, To   time.Time // [From, To); zero leaves that side open
	Status     string
	Severities []Severity
	States     []State
	Ascending  bool
	Limit      int
	// After continues a listing after this position: the Next of the
	// previous page.
	After string
}

// Page is one page of a listing.
type Page struct {
	Events []Event
	// Next is the cursor for the next page (Query.After); empty on the
	// last. A page may hold fewer than Limit events, even none, and still
	// have a Next: its request spent its read budget first.
	Next string
}

// Limits of a listing.
const (
	MaxLimit     = 1000
	DefaultLimit = 100
	// ReadBudget is about how many read units one listing request spends:
	// 128 eventually consistent units read 1 MB of items, what DynamoDB
	// reads at most for one Query. A request that has spent it answers what
	// it found, with a cursor to where it stopped reading.
	ReadBudget = 128
)

// isAlarm reports whether events of severity s are alarms (warning and
// above), which the alarm indexes hold.
func isAlarm(s Severity) bool {
	return s == SeverityWarning || s == SeverityError || s == SeverityCritical
}

// AlarmsOnly reports whether a severity filter selects alarms only. Such a
// listing reads the sparse alarm indexes, and needs no type across
// devices.
func AlarmsOnly(severities []Severity) bool {
	return len(severities) > 0 && !slices.ContainsFunc(severities, func(s Severity) bool { return !isAlarm(s) })
}

// List returns one page of events.
//
// A device's events are one item collection sorted by id, and ids sort by
// time, so a time range is a key range. Alarms (a severity filter of
// warning and above) are read from the sparse alarm indexes, open and
// closed apart. Across devices, each type is read from its IndexShards
// partitions of the type index, and the fleet's alarms from theirs in the
// fleet alarm index, in parallel, and the streams are merged by id. Other
// filters are filter expressions: DynamoDB reads the items they drop, so
// a request stops after about ReadBudget read units and answers what it
// found, with a Next where it stopped. A page otherwise reads one event
// past its end to know whether another page exists, so a full page's Next
// never leads to an empty page.
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	items, next, err := s.listItems(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Events: make([]Event, len(items)), Next: next}
	for i, it := range items {
		page.Events[i] = it.event()
	}
	return page, s.withHistory(ctx, page.Events, false)
}

func (s *Store) listItems(ctx context.Context, q Query) ([]*eventItem, string, error) {
	if q.Limit <= 0 || q.Limit > MaxLimit {
		return nil, "", &FieldError{"limit", fmt.Sprintf("must be 1 to %d", MaxLimit)}
	}
	r, err := s.plan(q)
	if err != nil {
		return nil, "", err
	}
	lo, hi := idBounds(q.From, q.To)
	if q.After != "" {
		adj, ok := adjacentID(q.After, q.Ascending)
		if !ok {
			return nil, "", nil
		}
		if q.Ascending && adj > lo {
			lo = adj
		}
		if !q.Ascending && adj < hi {
			hi = adj
		}
	}
	if lo > hi {
		return nil, "", nil
	}
	for _, st := range r.streams {
		st.lo, st.hi = lo, hi
	}
	return r.page(ctx, q.Limit)
}

// plan chooses the Queries of a listing: which table or index, which
// partitions, and which filters.
//
// A device and type (or status) stay filter expressions over the device's
// events: an index that spared them would add a write unit to every event.
// Alarms of a type across devices are read from the fleet alarm index with
// a type filter rather than from the type index with a severity filter:
// alarms are the exception, so the sparse index is the smaller read for
// all but types that are mostly alarms.
func (s *Store) plan(q Query) (*reader, error) {
	r := &reader{s: s, asc: q.Ascending, budget: s.readBudget, keyName: PartitionKey}
	var partitions []string
	var filters []expression.ConditionBuilder
	alarms := AlarmsOnly(q.Severities)
	switch {
	case alarms:
		parts, stateFilter := alarmPartitions(q.States)
		if q.DeviceID != "" {
			r.index, r.keyName = aws.String(DeviceAlarmIndex), DeviceAlarmIndexKey
			for _, p := range parts {
				partitions = append(partitions, deviceAlarmKey(q.DeviceID, p))
			}
		} else {
			r.index, r.keyName = aws.String(FleetAlarmIndex), FleetAlarmIndexKey
			for _, p := range parts {
				for shard := range IndexShards {
					partitions = append(partitions, fleetAlarmKey(p, shard))
				}
			}
		}
		if len(q.Types) > 0 {
			filters = append(filters, in("type", q.Types))
		}
		if !slices.Contains(q.Severities, SeverityWarning) || !slices.Contains(q.Severities, SeverityError) || !slices.Contains(q.Severities, SeverityCritical) {
			filters = append(filters, in("severity", q.Severities))
		}
		if stateFilter {
			filters = append(filters, in("state", q.States))
		}
	case q.DeviceID != "":
		partitions = []string{eventPK(q.DeviceID)}
		if len(q.Types) > 0 {
			filters = append(filters, in("type", q.Types))
		}
	case len(q.Types) > 0:
		r.index, r.keyName = aws.String(TypeIndex), TypeIndexKey
		for _, t := range q.Types {
			for shard := range IndexShards {
				partitions = append(partitions, typeIndexKey(t, shard))
			}
		}
	default:
		return nil, &FieldError{"type", "required when listing across devices, unless severity lists alarms only (warning, error, critical)"}
	}
	if q.Status != "" {
		filters = append(filters, expression.Name("status").Equal(expression.Value(q.Status)))
	}
	if !alarms {
		if len(q.Severities) > 0 {
			filters = append(filters, in("severity", q.Severities))
		}
		if len(q.States) > 0 {
			filters = append(filters, in("state", q.States))
		}
	}
	switch len(filters) {
	case 0:
	case 1:
		r.filter = &filters[0]
	default:
		f := expression.And(filters[0], filters[1], filters[2:]...)
		r.filter = &f
	}
	for _, pk := range partitions {
		r.streams = append(r.streams, &stream{pk: pk})
	}
	return r, nil
}

// alarmPartitions returns the alarm partitions (open, closed) that hold the
// given states, and whether a state filter must still tell apart the states
// of one partition (new from acknowledged).
func alarmPartitions(states []State) (parts []string, filter bool) {
	if len(states) == 0 {
		return []string{alarmOpen, alarmClosed}, false
	}
	isNew, acked := slices.Contains(states, StateNew), slices.Contains(states, StateAcknowledged)
	if isNew || acked {
		parts = append(parts, alarmOpen)
	}
	if slices.Contains(states, StateResolved) {
		parts = append(parts, alarmClosed)
	}
	return parts, isNew != acked
}

func in[T ~string](name string, values []T) expression.ConditionBuilder {
	if len(values) == 1 {
		return expression.Name(name).Equal(expression.Value(string(values[0])))
	}
	ops := make([]expression.OperandBuilder, len(values)-1)
	for i, v := range values[1:] {
		ops[i] = expression.Value(string(v))
	}
	return expression.Name(name).In(expression.Value(string(values[0])), ops...)
}

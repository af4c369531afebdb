package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
)

// PutRequest is one call's worth of new events.
type PutRequest struct {
	Events []NewEvent
	// RequestKey makes the request as a whole idempotent (a batch sent with
	// an Idempotency-Key header). Its events are then all of one device and
	// carry no keys of their own.
	RequestKey string
}

// PutResult says what became of each event of a PutRequest, in order.
type PutResult struct {
	Events []Event
	// Created is false for an event that an earlier request with the same
	// idempotency key had already stored.
	Created []bool
}

// plan is one event on its way into the table.
type plan struct {
	in      NewEvent
	event   Event
	hash    string // of in, when it has an idempotency key
	created bool   // written by this request
	done    bool   // stored, by this request or an earlier one
}

// Put stores events with their counts.
//
// Each transaction writes its events together with the counter items they
// raise (counters.go) and the key records of its idempotency keys, so a
// count never differs from the events stored, and a key is recorded only
// with its events, whatever fails. A retry finds the record and answers
// the events it names as they are now, writes the transactions the record
// says were never written (a Lambda stopped between two), and never
// stores again an event that was deleted or has expired since
// (ErrKeyedEventsDeleted): that would bring it back and count it twice.
// A failure after some events were stored is a *PartialWriteError.
func (s *Store) Put(ctx context.Context, req PutRequest) (PutResult, error) {
	n := len(req.Events)
	if n == 0 || n > MaxBatch {
		return PutResult{}, &FieldError{"events", fmt.Sprintf("must hold 1 to %d events", MaxBatch)}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	// The process-wide monotonic source: ids of one millisecond (a batch
	// without times) keep the order of the batch.
	entropy := ulid.DefaultEntropy()
	plans := make([]*plan, n)
	var keys map[[2]string]int
	for i, in := range req.Events {
		if err := in.Validate(now); err != nil {
			var fe *FieldError
			if n > 1 && errors.As(err, &fe) {
				return PutResult{}, fe.Prefix(fmt.Sprintf("events[%d]", i))
			}
			return PutResult{}, err
		}
		if req.RequestKey != "" && (in.IdempotencyKey != "" || in.DeviceID != req.Events[0].DeviceID) {
			return PutResult{}, &FieldError{fmt.Sprintf("events[%d].idempotencyKey", i), "not allowed with a key for the whole request"}
		}
		if in.IdempotencyKey != "" && n > 1 {
			// One key names one event: a second event under it would be
			// answered with the first on a retry.
			k := [2]string{in.DeviceID, in.IdempotencyKey}
			if j, ok := keys[k]; ok {
				return PutResult{}, &FieldError{fmt.Sprintf("events[%d].idempotencyKey", i), fmt.Sprintf("repeats the key of events[%d]", j)}
			}
			if keys == nil {
				keys = map[[2]string]int{}
			}
			keys[k] = i
		}
		p := &plan{in: in}
		if req.RequestKey != "" || in.IdempotencyKey != "" {
			p.hash = hashOf(in)
		}
		t := in.Time.UTC().Truncate(time.Millisecond)
		if in.Time.IsZero() {
			t = now
		}
		id, err := ulid.New(uint64(t.UnixMilli()), entropy)
		if err != nil {
			return PutResult{}, fmt.Errorf("new event id: %w", err)
		}
		p.event = Event{
			ID: id.String(), DeviceID: in.DeviceID, Type: in.Type, Time: t,
			CreationTime: now, LastUpdated: now, Status: in.Status, Severity: in.Severity,
			State: StateNew, Text: in.Text, Data: in.Data, Updates: []Update{}, Version: 1,
		}
		if p.event.Severity == "" {
			p.event.Severity = SeverityInfo
		}
		plans[i] = p
	}
	job := &putJob{s: s, now: now, plans: plans, requestKey: req.RequestKey}
	if req.RequestKey != "" {
		h := sha256.New()
		for _, p := range plans {
			io.WriteString(h, p.hash)
		}
		job.requestHash = hex.EncodeToString(h.Sum(nil)[:16])
	}
	if err := job.run(ctx); err != nil {
		return PutResult{}, err
	}
	res := PutResult{Events: make([]Event, n), Created: make([]bool, n)}
	for i, p := range plans {
		res.Events[i], res.Created[i] = p.event, p.created
	}
	meterEvents(ctx, res.Created)
	return res, nil
}

func (s *Store) expiry(t time.Time) int64 {
	if s.retention < 0 {
		return 0
	}
	return t.Add(s.retention).Unix()
}

// Transactions take at most 100 actions and 4 MB.
const (
	maxTxActions = 100
	maxTxBytes   = 3 << 20
)

// putJob writes one PutRequest.
type putJob struct {
	s     *Store
	now   time.Time
	plans []*plan
	// requestKey and requestHash: the key of the request as a whole.
	requestKey, requestHash string
	// bounds holds the index of the first event of each transaction.
	bounds []int
	// rec is the request's key record once a retry found it.
	rec *keyRecord
}

// errRestart: the request's key record turned up; write what it lacks.
var errRestart = errors.New("key record found")

func (j *putJob) run(ctx context.Context) error {
	j.bounds = planChunks(j.plans, j.requestKey != "")
	b := newBackoff(maxRetries)
	for {
		err := j.writeAll(ctx)
		if !errors.Is(err, errRestart) {
			return j.partial(err)
		}
		// Another attempt of this request got there first: let it finish.
		if err := b.wait(ctx, ErrConflict); err != nil {
			return j.partial(err)
		}
	}
}

func (j *putJob) writeAll(ctx context.Context) error {
	for c := range j.bounds {
		if j.rec != nil && j.rec.written(c) {
			continue
		}
		if err := j.writeChunk(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// partial wraps an error that came after some events were stored.
func (j *putJob) partial(err error) error {
	if err == nil {
		return nil
	}
	var ids []string
	for _, p := range j.plans {
		if p.done {
			ids = append(ids, p.event.ID)
		}
	}
	if len(ids) == 0 {
		return err
	}
	return &PartialWriteError{StoredIDs: ids, Err: err}
}

// span is the range of plans of transaction c.
func (j *putJob) span(c int) (lo, hi int) {
	hi = len(j.plans)
	if c+1 < len(j.bounds) {
		hi = j.bounds[c+1]
	}
	return j.bounds[c], hi
}

// oneTransaction is the layout of a request that fits one transaction;
// shared, never written to.
var oneTransaction = []int{0}

// counterGroup is the events that share their counter items.
type counterGroup struct {
	device, eventType string
	day               int64
}

// planChunks splits a request into transactions within the limits. Each
// group of events sharing counter items is counted at its late cost (three
// updates), so that a retry that finds the day closed still fits the
// transaction the record planned.
func planChunks(plans []*plan, requestKey bool) []int {
	if len(plans) == 1 {
		return oneTransaction
	}
	bounds := []int{0}
	base := 0
	if requestKey {
		base = 1
	}
	actions, size := base, 0
	var groups []counterGroup
	for i, p := range plans {
		g := counterGroup{p.event.DeviceID, p.event.Type, dayNumber(p.event.Time)}
		one := 1
		if p.in.IdempotencyKey != "" {
			one++
		}
		extra := one
		if !slices.Contains(groups, g) {
			extra += 3
		}
		sz := approxSize(p)
		if i > bounds[len(bounds)-1] && (actions+extra > maxTxActions || size+sz > maxTxBytes) {
			bounds = append(bounds, i)
			groups, actions, size = groups[:0], base, 0
			extra = one + 3
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
		actions += extra
		size += sz
	}
	return bounds
}

func approxSize(p *plan) int {
	n := len("null")
	if p.event.Data != nil {
		b, _ := json.Marshal(p.event.Data)
		n = len(b)
	}
	return n + len(p.event.Text) + 512
}

// actionKind says what an item of a put transaction is, to read its
// cancellation reason.
type actionKind int

const (
	actCounter actionKind = iota
	actEvent
	actEventKey
	actRequestKey
)

type action struct {
	kind actionKind
	p    *plan
}

// writeChunk writes transaction c: its events not stored yet, their counts
// and key records.
func (j *putJob) writeChunk(ctx context.Context, c int) error {
	lo, hi := j.span(c)
	b := newBackoff(maxRetries)
	for {
		var todo []*plan
		for _, p := range j.plans[lo:hi] {
			if !p.done {
				todo = append(todo, p)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		items, err := j.transaction(c, todo)
		if err != nil {
			return err
		}
		out, err := j.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems:          items,
			ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
		})
		if err == nil {
			meter(ctx, true, out.ConsumedCapacity)
			for _, p := range todo {
				p.done, p.created = true, true
			}
			return nil
		}
		c, ok := reasonsOf(err)
		if !ok {
			return classify(err)
		}
		progress := false
		var keyed []*plan
		for i, reason := range c {
			if !c.conditionFailed(i) {
				continue
			}
			switch a := j.actionAt(todo, i); a.kind {
			case actEvent:
				// Only an SDK resend of this very transaction can find
				// its fresh id taken: the event is ours.
				it, derr := decodeEvent(reason.Item)
				if derr != nil {
					return derr
				}
				a.p.event, a.p.done = it, true
				progress = true
			case actEventKey:
				rec, derr := decodeRecord(reason.Item)
				if derr != nil {
					return derr
				}
				if rec.Hash != a.p.hash || len(rec.IDs) != 1 {
					return ErrIdempotencyConflict
				}
				adoptID(a.p, rec.IDs[0], rec.Created)
				keyed = append(keyed, a.p)
			case actRequestKey:
				return j.adoptRequest(ctx, reason.Item)
			}
		}
		if len(keyed) > 0 {
			if err := j.s.fetchStored(ctx, j.now, keyed); err != nil {
				return err
			}
			progress = true
		}
		switch {
		case progress:
			continue // write the rest without the events already stored
		case c.conflict():
			if err := b.wait(ctx, ErrConflict); err != nil {
				return err
			}
			continue
		}
		return classify(err)
	}
}

// transaction builds the items of transaction c for the plans of todo.
// Their order is the one actionAt reads back.
func (j *putJob) transaction(c int, todo []*plan) ([]types.TransactWriteItem, error) {
	s := j.s
	shard := newShard()
	items := make([]types.TransactWriteItem, 0, len(todo)+4)
	deltas := counterDeltas{}
	for _, p := range todo {
		it, err := attributevalue.MarshalMap(itemOf(&p.event, shard, s.expiry(p.event.Time), p.in.IdempotencyKey))
		if err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
		items = append(items, s.putNew(it))
		if p.in.IdempotencyKey != "" {
			rec, err := attributevalue.MarshalMap(keyRecord{PK: idemPK(p.event.DeviceID), SK: p.in.IdempotencyKey, IDs: []string{p.event.ID},
				Hash: p.hash, Created: p.event.CreationTime.UnixMilli(), Expires: s.keyExpiry([]*plan{p})})
			if err != nil {
				return nil, fmt.Errorf("encode key record: %w", err)
			}
			items = append(items, s.putNew(rec))
		}
		var refs [3]counterRef
		deltas.add(eventCounters(&refs, p.event.DeviceID, p.event.Type, p.event.Time, shard, j.now), p.event.Time, 1)
	}
	if j.requestKey != "" {
		item, err := j.requestRecord(c)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	cu, err := deltas.updates(s.tableName, s.exprs)
	if err != nil {
		return nil, err
	}
	return append(items, cu...), nil
}

// actionAt says what item i of the transaction built for todo is.
func (j *putJob) actionAt(todo []*plan, i int) action {
	for _, p := range todo {
		if i == 0 {
			return action{actEvent, p}
		}
		i--
		if p.in.IdempotencyKey != "" {
			if i == 0 {
				return action{actEventKey, p}
			}
			i--
		}
	}
	if j.requestKey != "" && i == 0 {
		return action{actRequestKey, nil}
	}
	return action{actCounter, nil}
}

// putNew puts an item that must not exist yet, and returns the one that
// does if it does.
func (s *Store) putNew(item map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                           s.tableName,
		Item:                                item,
		ConditionExpression:                 s.newItem,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

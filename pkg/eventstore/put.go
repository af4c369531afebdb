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
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
	"golang.org/x/sync/errgroup"
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

// keyRecord is an idempotency key as stored: the ids of the events it
// stands for, a hash of the body that sent them, and which of the
// request's transactions were written.
//
// It is written in the first transaction of its request, with that
// transaction's events and counts: a record exists only if those events
// were stored and counted. A request that takes several transactions
// (a large batch under one key) records their bounds, and each later
// transaction marks itself in Done, in the same transaction again.
type keyRecord struct {
	PK      string   `dynamodbav:"pk"`
	SK      string   `dynamodbav:"sk"`
	IDs     []string `dynamodbav:"ids"`
	Hash    string   `dynamodbav:"hash"`
	Created int64    `dynamodbav:"created"`
	Expires int64    `dynamodbav:"expiresAt,omitempty"`
	// Chunks holds the index of the first event of each transaction after
	// the first, when the request needs more than one.
	Chunks []int `dynamodbav:"chunks,omitempty"`
	// Done lists the transactions after the first that were written.
	Done []int `dynamodbav:"done,numberset,omitempty"`
}

// keyKeep is how long a key record outlives the last of its events: a
// retry within it finds the events gone rather than storing them again.
const keyKeep = 7 * 24 * time.Hour

func (r *keyRecord) bounds() []int { return append([]int{0}, r.Chunks...) }

func (r *keyRecord) written(chunk int) bool { return chunk == 0 || slices.Contains(r.Done, chunk) }

func decodeRecord(item map[string]types.AttributeValue) (*keyRecord, error) {
	var rec keyRecord
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		return nil, fmt.Errorf("decode key record: %w", err)
	}
	return &rec, nil
}

// numberSet marshals as a DynamoDB number set: ADD needs one to add to a
// set.
type numberSet []int

// MarshalDynamoDBAttributeValue implements attributevalue.Marshaler.
func (s numberSet) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	ns := &types.AttributeValueMemberNS{}
	for _, n := range s {
		ns.Value = append(ns.Value, strconv.Itoa(n))
	}
	return ns, nil
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

// hashOf fingerprints what a producer sent, so that a key reused for another
// body is told apart from a retry.
func hashOf(in NewEvent) string {
	b, _ := json.Marshal(struct {
		D, T, S, V, X string
		Time          int64
		Data          map[string]any
	}{in.DeviceID, in.Type, in.Status, string(in.Severity), in.Text, timeMillis(in.Time), in.Data})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func timeMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (s *Store) expiry(t time.Time) int64 {
	if s.retention < 0 {
		return 0
	}
	return t.Add(s.retention).Unix()
}

// keyExpiry is when the key record of plans may go: a week after the last
// of its events expires, and never less than a week after the request
// (events of long ago expire at once).
func (s *Store) keyExpiry(plans []*plan) int64 {
	if s.retention < 0 {
		return 0
	}
	last := plans[0].event.CreationTime.Add(-s.retention)
	for _, p := range plans {
		if p.event.Time.After(last) {
			last = p.event.Time
		}
	}
	return s.expiry(last.Add(keyKeep))
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
	for restarts := 0; ; restarts++ {
		err := j.writeAll(ctx)
		if !errors.Is(err, errRestart) {
			return j.partial(err)
		}
		if restarts >= maxConflictRetries {
			return j.partial(ErrConflict)
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
	for attempt := 0; ; attempt++ {
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
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return classify(err)
		}
		progress, conflict := false, false
		var keyed []*plan
		for i, r := range tce.CancellationReasons {
			code := aws.ToString(r.Code)
			if code == "TransactionConflict" {
				conflict = true
			}
			if code != "ConditionalCheckFailed" {
				continue
			}
			switch a := j.actionAt(todo, i); a.kind {
			case actEvent:
				// Only an SDK resend of this very transaction can find
				// its fresh id taken: the event is ours.
				it, derr := decodeEvent(r.Item)
				if derr != nil {
					return derr
				}
				a.p.event, a.p.done = it, true
				progress = true
			case actEventKey:
				rec, derr := decodeRecord(r.Item)
				if derr != nil {
					return derr
				}
				if rec.Hash != a.p.hash || len(rec.IDs) != 1 {
					return ErrIdempotencyConflict
				}
				adoptID(a.p, rec.IDs[0], rec.Created)
				keyed = append(keyed, a.p)
			case actRequestKey:
				return j.adoptRequest(ctx, r.Item)
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
		case conflict && attempt < maxConflictRetries:
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
			continue
		case conflict:
			return ErrConflict
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

// requestRecord is the action on the request's key record in transaction
// c: the first puts it, with every id of the request and its transactions'
// bounds; each later one marks itself written, on condition that no other
// attempt did.
func (j *putJob) requestRecord(c int) (types.TransactWriteItem, error) {
	s := j.s
	if c == 0 {
		rec := keyRecord{PK: idemPK(j.plans[0].event.DeviceID), SK: j.requestKey, Hash: j.requestHash,
			Created: j.plans[0].event.CreationTime.UnixMilli(), Expires: s.keyExpiry(j.plans), Chunks: j.bounds[1:]}
		for _, p := range j.plans {
			rec.IDs = append(rec.IDs, p.event.ID)
		}
		item, err := attributevalue.MarshalMap(rec)
		if err != nil {
			return types.TransactWriteItem{}, fmt.Errorf("encode key record: %w", err)
		}
		return s.putNew(item), nil
	}
	done := expression.Name("done")
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Add(done, expression.Value(numberSet{c}))).
		WithCondition(expression.Name("hash").Equal(expression.Value(j.requestHash)).
			And(expression.Not(done.Contains(c)))).
		Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           s.tableName,
		Key:                                 key(idemPK(j.plans[0].event.DeviceID), j.requestKey),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

func adoptID(p *plan, id string, created int64) {
	p.event.ID = id
	p.event.Time = idTime(id)
	p.event.CreationTime = time.UnixMilli(created).UTC()
	p.event.LastUpdated = p.event.CreationTime
}

// adoptRequest takes the request's key record found stored: the ids it
// chose and the transactions it planned. The events of the transactions it
// says were written are read back, and the request starts over to write
// the others.
func (j *putJob) adoptRequest(ctx context.Context, item map[string]types.AttributeValue) error {
	rec, err := decodeRecord(item)
	if err != nil {
		return err
	}
	if rec.PK == "" {
		// Gone: it expired after its events, a week after the last.
		return ErrKeyedEventsDeleted
	}
	if rec.Hash != j.requestHash || len(rec.IDs) != len(j.plans) || !validBounds(rec.bounds(), len(j.plans)) {
		return ErrIdempotencyConflict
	}
	j.rec, j.bounds = rec, rec.bounds()
	var stored []*plan
	for c := range j.bounds {
		lo, hi := j.span(c)
		for i := lo; i < hi; i++ {
			p := j.plans[i]
			if p.done {
				continue
			}
			adoptID(p, rec.IDs[i], rec.Created)
			if rec.written(c) {
				stored = append(stored, p)
			}
		}
	}
	if err := j.s.fetchStored(ctx, j.now, stored); err != nil {
		return err
	}
	return errRestart
}

func validBounds(bounds []int, n int) bool {
	for i, b := range bounds {
		if b < 0 || b >= n || i > 0 && b <= bounds[i-1] {
			return false
		}
	}
	return true
}

// fetchStored reads back the events a key record says were stored, for a
// retry to answer them as they are now. One that is gone, deleted or past
// its expiry, fails the retry: storing it again would bring it back and
// count it again.
func (s *Store) fetchStored(ctx context.Context, now time.Time, plans []*plan) error {
	items := make([]*eventItem, len(plans))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, p := range plans {
		g.Go(func() error {
			it, err := s.getItem(gctx, p.event.DeviceID, p.event.ID)
			if errors.Is(err, ErrNotFound) || err == nil && it.Expires != 0 && it.Expires <= now.Unix() {
				return ErrKeyedEventsDeleted
			}
			items[i] = it
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, p := range plans {
		p.event, p.done, p.created = items[i].event(), true, false
	}
	return nil
}

package eventstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
)

// dynamoDB is the part of the DynamoDB client the store calls.
type dynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store keeps events, their counters and idempotency records in one table.
type Store struct {
	db        dynamoDB
	table     string
	retention time.Duration
	now       func() time.Time
	// readBudget is ReadBudget; tests lower it to page small tables.
	readBudget float64

	// tableName (&table) and newItem (the condition of an event's put) are
	// shared by the inputs of the write path: the SDK only reads them.
	tableName, newItem *string
	exprs              *exprCache
}

// Options tune a Store; the zero value is the contract's defaults.
type Options struct {
	// Retention is how long an event is kept after its time. Zero means
	// DefaultRetention; negative keeps events forever.
	Retention time.Duration
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// New returns a store over the named table.
func New(db dynamoDB, table string, opts Options) *Store {
	s := &Store{db: db, table: table, retention: opts.Retention, now: opts.Now,
		tableName: aws.String(table), newItem: aws.String("attribute_not_exists(pk)"),
		exprs: &exprCache{m: map[string]cachedExpr{}}, readBudget: ReadBudget}
	if s.retention == 0 {
		s.retention = DefaultRetention
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Table is the name of the store's table.
func (s *Store) Table() string { return s.table }

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

// keyRecord reserves an idempotency key: the ids it stands for and a hash
// of the body that asked for them.
type keyRecord struct {
	PK      string   `dynamodbav:"pk"`
	SK      string   `dynamodbav:"sk"`
	IDs     []string `dynamodbav:"ids"`
	Hash    string   `dynamodbav:"hash"`
	Created int64    `dynamodbav:"created"`
	Expires int64    `dynamodbav:"expiresAt,omitempty"`
}

// plan is one event on its way into the table.
type plan struct {
	in      NewEvent
	event   Event
	hash    string // of in, when it has an idempotency key
	created bool
	done    bool
	// device and fleet are the counter items the event raises; the
	// fleet's depends on the shard of the transaction it is written in.
	device, fleet counterRef
}

// Put stores events with their counts.
//
// Each event is written in a transaction together with the two counter
// items it raises, so a count never differs from the events stored, whatever
// fails. Idempotency keys are reserved first, with a conditional put that
// records the event id chosen for the key: a retry finds the reservation,
// takes the same id, and the transaction's condition that the event does not
// exist yet makes the second write a no-op rather than a second count. A
// reservation whose transaction never ran (the Lambda stopped in between)
// is completed by the retry.
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
	if err := s.reserveKeys(ctx, req.RequestKey, plans); err != nil {
		return PutResult{}, err
	}
	if err := s.writePlans(ctx, plans); err != nil {
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

// reserveKeys records each idempotency key with the id chosen for it, or
// adopts the id an earlier request with the same key and body chose.
func (s *Store) reserveKeys(ctx context.Context, requestKey string, plans []*plan) error {
	if requestKey != "" {
		h := sha256.New()
		ids := make([]string, len(plans))
		for i, p := range plans {
			io.WriteString(h, p.hash)
			ids[i] = p.event.ID
		}
		old, err := s.reserve(ctx, plans[0].event.DeviceID, requestKey, ids, hex.EncodeToString(h.Sum(nil)[:16]), plans)
		if err != nil || old == nil {
			return err
		}
		if len(old.IDs) != len(plans) {
			return ErrIdempotencyConflict
		}
		for i, p := range plans {
			adopt(p, old.IDs[i], old.Created)
		}
		return nil
	}
	if !slices.ContainsFunc(plans, func(p *plan) bool { return p.in.IdempotencyKey != "" }) {
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(plans))
	for i, p := range plans {
		if p.in.IdempotencyKey == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			old, err := s.reserve(ctx, p.event.DeviceID, p.in.IdempotencyKey, []string{p.event.ID}, p.hash, []*plan{p})
			if err == nil && old != nil {
				if len(old.IDs) != 1 {
					err = ErrIdempotencyConflict
				} else {
					adopt(p, old.IDs[0], old.Created)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func adopt(p *plan, id string, created int64) {
	p.event.ID = id
	p.event.Time = idTime(id)
	p.event.CreationTime = time.UnixMilli(created).UTC()
	p.event.LastUpdated = p.event.CreationTime
}

// reserve puts a key record unless one exists. It returns the existing
// record when the key was already used with the same hash, and
// ErrIdempotencyConflict when it was used with another.
func (s *Store) reserve(ctx context.Context, device, key string, ids []string, hash string, plans []*plan) (*keyRecord, error) {
	created := plans[0].event.CreationTime
	expires := int64(0)
	if s.retention >= 0 {
		expires = created.Add(24 * time.Hour).Unix()
		for _, p := range plans {
			expires = max(expires, s.expiry(p.event.Time))
		}
	}
	rec := keyRecord{PK: idemPK(device), SK: key, IDs: ids, Hash: hash, Created: created.UnixMilli(), Expires: expires}
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return nil, err
	}
	out, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              types.ReturnConsumedCapacityIndexes,
	})
	if out != nil {
		meterWrite(ctx, out.ConsumedCapacity)
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var old keyRecord
		if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
			return nil, fmt.Errorf("decode key record: %w", err)
		}
		if old.Hash != hash {
			return nil, ErrIdempotencyConflict
		}
		return &old, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	return nil, nil
}

// Transactions take at most 100 actions and 4 MB.
const (
	maxTxActions = 100
	maxTxBytes   = 3 << 20
)

// writePlans writes the events in as few transactions as the limits allow,
// each event with its counts. An event that exists already (a retry of a
// reserved key) is taken as stored, and the rest of its transaction is
// tried again without it.
func (s *Store) writePlans(ctx context.Context, plans []*plan) error {
	var chunk []*plan
	actions, size, shard := 0, 0, newShard()
	counters := map[counterRef]bool{}
	flush := func() error {
		err := s.writeChunk(ctx, chunk, shard)
		chunk, actions, size, shard = nil, 0, 0, newShard()
		clear(counters)
		return err
	}
	for _, p := range plans {
		refs := [2]counterRef{deviceCounter(p.event.DeviceID, p.event.Type, p.event.Time), fleetCounter(p.event.Type, shard, p.event.Time)}
		extra := 1
		for _, r := range refs {
			if !counters[r] {
				extra++
			}
		}
		sz := approxSize(p)
		if len(chunk) > 0 && (actions+extra > maxTxActions || size+sz > maxTxBytes) {
			if err := flush(); err != nil {
				return err
			}
			extra = 3
			refs[1] = fleetCounter(p.event.Type, shard, p.event.Time)
		}
		p.device, p.fleet = refs[0], refs[1]
		chunk = append(chunk, p)
		actions += extra
		size += sz
		for _, r := range refs {
			counters[r] = true
		}
	}
	return flush()
}

func approxSize(p *plan) int {
	n := len("null")
	if p.event.Data != nil {
		b, _ := json.Marshal(p.event.Data)
		n = len(b)
	}
	return n + len(p.event.Text) + 512
}

func (s *Store) writeChunk(ctx context.Context, chunk []*plan, shard int) error {
	for attempt := 0; ; attempt++ {
		var todo []*plan
		for _, p := range chunk {
			if !p.done {
				todo = append(todo, p)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		items := make([]types.TransactWriteItem, 0, len(todo)+4)
		deltas := counterDeltas{}
		for _, p := range todo {
			it, err := attributevalue.MarshalMap(itemOf(&p.event, shard, s.expiry(p.event.Time), p.in.IdempotencyKey))
			if err != nil {
				return fmt.Errorf("encode event: %w", err)
			}
			items = append(items, types.TransactWriteItem{Put: &types.Put{
				TableName:                           s.tableName,
				Item:                                it,
				ConditionExpression:                 s.newItem,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}})
			deltas.addTo(p.device, p.fleet, p.event.Time, 1)
		}
		cu, err := s.counterUpdates(deltas)
		if err != nil {
			return err
		}
		items = append(items, cu...)
		out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
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
		existing, conflict := false, false
		for i, r := range tce.CancellationReasons {
			code := aws.ToString(r.Code)
			switch {
			case code == "ConditionalCheckFailed" && i < len(todo):
				ev, derr := decodeEvent(r.Item)
				if derr != nil {
					return derr
				}
				todo[i].event, todo[i].done = ev, true
				existing = true
			case code == "TransactionConflict":
				conflict = true
			}
		}
		switch {
		case existing:
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

const maxConflictRetries = 8

// backoff waits before retrying a transaction that collided with another
// (full jitter, capped), or returns when the context ends.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1<<min(attempt, 6)) * 5 * time.Millisecond
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	d = d * time.Duration(int(b[0])<<8|int(b[1])) / 65536
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return &storeError{ErrUnavailable, ctx.Err()}
	case <-t.C:
		return nil
	}
}

// counterUpdates turns counter deltas into transaction updates, in a stable
// order.
func (s *Store) counterUpdates(deltas counterDeltas) ([]types.TransactWriteItem, error) {
	refs := make([]counterRef, 0, len(deltas))
	for r := range deltas {
		refs = append(refs, r)
	}
	sortRefs(refs)
	out := make([]types.TransactWriteItem, 0, len(refs))
	for _, r := range refs {
		expr, err := s.exprs.add(deltas[r])
		if err != nil {
			return nil, fmt.Errorf("counter update: %w", err)
		}
		out = append(out, types.TransactWriteItem{Update: &types.Update{
			TableName:                 s.tableName,
			Key:                       key(r.pk, r.sk),
			UpdateExpression:          expr.update,
			ExpressionAttributeNames:  expr.names,
			ExpressionAttributeValues: expr.values,
		}})
	}
	return out, nil
}

// exprCache keeps the update expressions of counter deltas. An expression
// depends only on the attributes and the amounts added to them, and few
// sets of those occur (a put of one event adds 1 to the attribute of its
// hour, and to the splits after it in that hour); building one with the
// expression package was most of a put's allocations. Requests share a
// cached expression's maps: the SDK only reads its input.
type exprCache struct {
	mu sync.RWMutex
	m  map[string]cachedExpr
}

type cachedExpr struct {
	update *string
	names  map[string]string
	values map[string]types.AttributeValue
}

// maxCachedExprs bounds the cache; deltas beyond it (large batches spread
// over many hours) are built every time.
const maxCachedExprs = 4096

// add returns the expression that adds each delta to its attribute.
func (c *exprCache) add(delta map[string]int) (cachedExpr, error) {
	attrs := sortedKeys(delta)
	var buf [128]byte
	k := buf[:0]
	for _, a := range attrs {
		k = strconv.AppendInt(append(append(k, a...), '+'), int64(delta[a]), 10)
		k = append(k, ' ')
	}
	c.mu.RLock()
	e, ok := c.m[string(k)]
	c.mu.RUnlock()
	if ok {
		return e, nil
	}
	var upd expression.UpdateBuilder
	for _, a := range attrs {
		upd = upd.Add(expression.Name(a), expression.Value(delta[a]))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return cachedExpr{}, err
	}
	e = cachedExpr{update: expr.Update(), names: expr.Names(), values: expr.Values()}
	c.mu.Lock()
	if len(c.m) < maxCachedExprs {
		c.m[string(k)] = e
	}
	c.mu.Unlock()
	return e, nil
}

func sortRefs(refs []counterRef) {
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && (refs[j].pk < refs[j-1].pk || refs[j].pk == refs[j-1].pk && refs[j].sk < refs[j-1].sk); j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		PartitionKey: &types.AttributeValueMemberS{Value: pk},
		SortKey:      &types.AttributeValueMemberS{Value: sk},
	}
}

// Get returns one event, read strongly consistent.
func (s *Store) Get(ctx context.Context, device, id string) (Event, error) {
	it, err := s.getItem(ctx, device, id)
	if err != nil {
		return Event{}, err
	}
	return it.event(), nil
}

func (s *Store) getItem(ctx context.Context, device, id string) (*eventItem, error) {
	if !ValidEventID(id) || !ValidDeviceID(device) {
		return nil, ErrNotFound
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              aws.String(s.table),
		Key:                    key(eventPK(device), id),
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		return nil, classify(err)
	}
	meterRead(ctx, out.ConsumedCapacity)
	if out.Item == nil {
		return nil, ErrNotFound
	}
	var it eventItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("decode event item: %w", err)
	}
	return &it, nil
}

// Delete removes one event and lowers its counts in the same transaction.
// ifVersion, when not zero, makes the delete conditional on the event's
// version (ErrVersionMismatch otherwise).
func (s *Store) Delete(ctx context.Context, device, id string, ifVersion int64) error {
	for attempt := 0; ; attempt++ {
		it, err := s.getItem(ctx, device, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && it.Version != ifVersion {
			return ErrVersionMismatch
		}
		err = s.deleteItems(ctx, []*eventItem{it})
		if !errors.Is(err, errChanged) {
			return err
		}
		// Patched or deleted between the read and the write: look again.
		if attempt >= maxConflictRetries {
			return ErrConflict
		}
	}
}

var errChanged = errors.New("event changed since it was read")

// deleteItems deletes events read before, on condition that each still has
// the version read, and lowers their counts, all in one transaction.
func (s *Store) deleteItems(ctx context.Context, items []*eventItem) error {
	err := s.deleteItemsIf(ctx, items, true)
	var gone *goneError
	if errors.As(err, &gone) {
		return errChanged
	}
	return err
}

// deleteItemsIf deletes items and lowers their counts in one transaction,
// on condition that each still exists (and, with sameVersion, still has the
// version read). Counts depend only on the type and time, which never
// change, so existence is enough to keep them exact. It returns a
// *goneError naming the items that failed their condition.
func (s *Store) deleteItemsIf(ctx context.Context, items []*eventItem, sameVersion bool) error {
	tx := make([]types.TransactWriteItem, 0, len(items)+4)
	deltas := counterDeltas{}
	for _, it := range items {
		c := expression.AttributeExists(expression.Name(PartitionKey))
		if sameVersion {
			c = expression.Name("version").Equal(expression.Value(it.Version))
		}
		cond, err := expression.NewBuilder().WithCondition(c).Build()
		if err != nil {
			return err
		}
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{
			TableName:                 aws.String(s.table),
			Key:                       key(it.PK, it.SK),
			ConditionExpression:       cond.Condition(),
			ExpressionAttributeNames:  cond.Names(),
			ExpressionAttributeValues: cond.Values(),
		}})
		ev := it.event()
		deltas.add(ev.DeviceID, ev.Type, it.CounterShard, ev.Time, -1)
	}
	cu, err := s.counterUpdates(deltas)
	if err != nil {
		return err
	}
	tx = append(tx, cu...)
	out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:          tx,
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err == nil {
		meter(ctx, true, out.ConsumedCapacity)
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if g := cancellationGone(tce, len(items)); g != nil {
			return g
		}
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return errChanged
			}
		}
	}
	return classify(err)
}

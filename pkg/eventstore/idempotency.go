package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// Idempotency keys: the record a key leaves in the transaction of its
// events, and how a retry that finds it adopts what it says.

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

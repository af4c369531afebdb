package eventstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// Patch is a change to an event's lifecycle fields. Nil fields are left as
// they are.
type Patch struct {
	State    *State
	Severity *Severity
	Status   *string // "" removes it
	Text     *string // "" removes it
	// Data is an RFC 7396 merge patch applied to the event's data: an object
	// merges key by key (a null value removes a key), nil leaves data alone,
	// and DataRemove drops data altogether.
	Data       map[string]any
	DataRemove bool
	Comment    string
	// Immutable holds the immutable fields the caller sent (id, deviceId,
	// type, time, creationTime): each must equal the event's.
	Immutable map[string]any
	// By is who makes the change, for the history.
	By string
	// Changes is what the caller set, as sent, for the history.
	Changes map[string]any
	// IfVersion, when not zero, makes the patch conditional on the event's
	// version.
	IfVersion int64
}

// ImmutableError: the patch sent an immutable field with another value.
type ImmutableError struct{ Field string }

func (e *ImmutableError) Error() string { return e.Field + ": cannot be changed" }

// ErrTooLarge: the event would grow past MaxEventBytes, or the patch with
// it past what one item holds.
var ErrTooLarge = fmt.Errorf("the event would be larger than %d bytes", MaxEventBytes)

// maxItemBytes bounds an event item with its newest update: DynamoDB's
// 400 KB, less room for the attribute names and keys. An event of at most
// MaxEventBytes leaves over 100 KB for the update, so only a patch that is
// itself large (a data patch of 100 KB and more on an event of 256 KiB) can
// pass it; a change of state or a comment never does.
const maxItemBytes = 384 << 10

// writeToken names the attribute where a patch's write leaves its token.
const writeToken = "wt"

// maxPatchAttempts bounds the read-modify-write loop, more than the store's
// other retries (maxRetries): each lost race means another writer won, so
// n concurrent patches need at most n attempts.
const maxPatchAttempts = 32

// Patch applies p to an event and returns the result, with its history.
//
// The event is read, changed in memory, and written back on condition that
// its version is still the one read: an UpdateItem of the attributes that
// changed, the version, the time and the newest update, once the update
// the event held has gone to its history item (history.go) and the history
// of the answer has been read. A writer that loses the race reads again and
// reapplies its patch to the winner's result, so concurrent patches never
// lose an update; with If-Match the loser gets ErrVersionMismatch instead.
// A patch that changes nothing and carries no comment writes nothing and
// keeps the version. The size checks leave the history out: however long
// it grows, a patch of the state or a comment is always taken.
func (s *Store) Patch(ctx context.Context, device, id string, p Patch) (Event, error) {
	b := newBackoff(maxPatchAttempts - 1)
	for {
		it, err := s.getItem(ctx, device, id)
		if err != nil {
			return Event{}, err
		}
		if p.IfVersion != 0 && it.Version != p.IfVersion {
			return Event{}, ErrVersionMismatch
		}
		before := it.event()
		ev := it.event()
		if err := checkImmutable(&ev, p.Immutable); err != nil {
			return Event{}, err
		}
		changed, err := apply(&ev, &p)
		if err != nil {
			return Event{}, err
		}
		if !changed && p.Comment == "" {
			evs := []Event{ev}
			err := s.withHistory(ctx, evs, true)
			return evs[0], err
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		ev.Version++
		ev.LastUpdated = now
		ev.Updates = []Update{{Time: now, By: p.By, Changes: p.Changes}}
		size := eventBytes(&ev)
		if size > MaxEventBytes || size+updateBytes(&ev.Updates[0]) > maxItemBytes {
			return Event{}, ErrTooLarge
		}
		if it.Last != nil {
			if err := s.putHistory(ctx, it); err != nil {
				return Event{}, err
			}
		}
		// The answer's history is read before the event is written (the
		// update just put included): a failure to read it then stops the
		// patch before it is applied, rather than answering an error for
		// a patch that was applied, which the caller would send again.
		answer := []Event{ev}
		if err := s.withHistory(ctx, answer, true); err != nil {
			return Event{}, err
		}
		err = s.update(ctx, it, &before, &ev)
		if err == nil {
			return answer[0], nil
		}
		if !errors.Is(err, errChanged) {
			return Event{}, err
		}
		if p.IfVersion != 0 {
			return Event{}, ErrVersionMismatch
		}
		if err := b.wait(ctx, ErrConflict); err != nil {
			return Event{}, err
		}
	}
}

// update writes ev over the item read as it (which held before), on
// condition that the item still has the version read: the attributes of
// the item that differ are set, those that are gone are removed, and
// nothing else is written.
func (s *Store) update(ctx context.Context, it *eventItem, before, ev *Event) error {
	old, err := attributevalue.MarshalMap(itemOf(before, it.CounterShard, it.Expires, it.Key))
	if err != nil {
		return err
	}
	now, err := attributevalue.MarshalMap(itemOf(ev, it.CounterShard, it.Expires, it.Key))
	if err != nil {
		return err
	}
	// The write carries a token of its own. When its answer is lost and the
	// SDK sends it again, the condition fails on our own write: the token
	// tells that apart from another writer's, so the patch is not applied
	// a second time.
	token := rand.Text()
	upd := expression.Set(expression.Name(writeToken), expression.Value(token))
	for _, name := range sortedKeys(now) {
		if !reflect.DeepEqual(old[name], now[name]) {
			upd = upd.Set(expression.Name(name), expression.Value(now[name]))
		}
	}
	for _, name := range sortedKeys(old) {
		if _, kept := now[name]; !kept {
			upd = upd.Remove(expression.Name(name))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.Name("version").Equal(expression.Value(it.Version))).Build()
	if err != nil {
		return err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.tableName,
		Key:                                 key(it.PK, it.SK),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              types.ReturnConsumedCapacityIndexes,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if t, ok := ccf.Item[writeToken].(*types.AttributeValueMemberS); ok && t.Value == token {
			return nil
		}
		if ccf.Item == nil {
			return ErrNotFound // deleted since it was read
		}
		return errChanged
	}
	if err != nil {
		return classify(err)
	}
	meterWrite(ctx, out.ConsumedCapacity)
	return nil
}

func checkImmutable(ev *Event, sent map[string]any) error {
	current := map[string]any{"id": ev.ID, "deviceId": ev.DeviceID, "type": ev.Type, "time": ev.Time, "creationTime": ev.CreationTime}
	for _, k := range sortedKeys(sent) {
		cur, ok := current[k]
		if !ok {
			return &FieldError{k, "unknown field"}
		}
		switch v := sent[k].(type) {
		case time.Time:
			if !v.Equal(cur.(time.Time)) {
				return &ImmutableError{k}
			}
		default:
			if v != cur {
				return &ImmutableError{k}
			}
		}
	}
	return nil
}

// apply changes ev by p and reports whether anything changed.
func apply(ev *Event, p *Patch) (bool, error) {
	before := *ev
	if p.State != nil {
		if _, ok := ParseState(string(*p.State)); !ok {
			return false, &FieldError{"state", "must be one of new, acknowledged, resolved"}
		}
		ev.State = *p.State
	}
	if p.Severity != nil {
		if _, ok := ParseSeverity(string(*p.Severity)); !ok {
			return false, &FieldError{"severity", "must be one of info, warning, error, critical"}
		}
		ev.Severity = *p.Severity
	}
	if p.Status != nil {
		if err := CheckStatus("status", *p.Status); err != nil {
			return false, err
		}
		ev.Status = *p.Status
	}
	if p.Text != nil {
		if err := checkText("text", *p.Text); err != nil {
			return false, err
		}
		ev.Text = *p.Text
	}
	if len(p.Comment) > MaxTextBytes {
		return false, &FieldError{"comment", "at most 8 KiB"}
	}
	dataChanged := false
	switch {
	case p.DataRemove:
		dataChanged = ev.Data != nil
		ev.Data = nil
	case p.Data != nil:
		merged, _ := mergePatch(cloneJSON(ev.Data), p.Data).(map[string]any)
		if err := checkData("data", merged); err != nil {
			return false, err
		}
		dataChanged = !reflect.DeepEqual(merged, ev.Data)
		ev.Data = merged
		if len(ev.Data) == 0 && before.Data == nil {
			ev.Data = nil
		}
	}
	changed := dataChanged || ev.State != before.State || ev.Severity != before.Severity || ev.Status != before.Status || ev.Text != before.Text
	return changed, nil
}

// mergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result. target may be modified.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok || t == nil {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// cloneJSON deep-copies a decoded JSON object.
func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&out)
	return out
}

// eventBytes is about the size of the event as the API writes it, without
// its updates.
func eventBytes(ev *Event) int {
	b, _ := jsonbody.Marshal(struct {
		T, S, X string
		D       map[string]any
	}{ev.Type, ev.Status, ev.Text, ev.Data})
	return len(b) + 400
}

// updateBytes is about the size of an update as stored.
func updateBytes(u *Update) int {
	b, _ := jsonbody.Marshal(u.Changes)
	return len(b) + len(u.By) + 64
}

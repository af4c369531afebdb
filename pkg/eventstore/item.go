package eventstore

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// eventItem is an event as stored, with its newest update but not its
// history (history.go). The device id and the event time are not stored
// apart: they are the partition key (after its prefix) and the time part of
// the sort key (the id), which keeps every item a few bytes smaller.
type eventItem struct {
	PK       string     `dynamodbav:"pk"`
	SK       string     `dynamodbav:"sk"`
	GPK      string     `dynamodbav:"gpk"`
	Type     string     `dynamodbav:"type"`
	Created  int64      `dynamodbav:"created"`
	Updated  int64      `dynamodbav:"updated"`
	Status   string     `dynamodbav:"status,omitempty"`
	Severity string     `dynamodbav:"severity"`
	State    string     `dynamodbav:"state"`
	Text     string     `dynamodbav:"text,omitempty"`
	Data     jsonObject `dynamodbav:"data,omitempty"`
	// Last is the newest update, the one that made Version; the older
	// ones are history items (history.go).
	Last    *updateItem `dynamodbav:"upd,omitempty"`
	Version int64       `dynamodbav:"version"`
	Expires int64       `dynamodbav:"expiresAt,omitempty"`
	Key     string      `dynamodbav:"idem,omitempty"`

	// CounterShard is the fleet counter shard of the event's put; its
	// index shards derive from it (indexShard).
	CounterShard int `dynamodbav:"cs"`
	// DeviceAlarmKey and FleetAlarmKey are the event's partition keys in
	// the sparse alarm indexes, set on alarms only (see alarmKeys).
	DeviceAlarmKey string `dynamodbav:"dapk,omitempty"`
	FleetAlarmKey  string `dynamodbav:"fapk,omitempty"`
}

type updateItem struct {
	Time    int64      `dynamodbav:"t"`
	By      string     `dynamodbav:"by"`
	Changes jsonObject `dynamodbav:"c"`
}

func (it *eventItem) event() Event {
	e := Event{
		ID:           it.SK,
		DeviceID:     strings.TrimPrefix(it.PK, eventPrefix),
		Type:         it.Type,
		Time:         idTime(it.SK),
		CreationTime: time.UnixMilli(it.Created).UTC(),
		LastUpdated:  time.UnixMilli(it.Updated).UTC(),
		Status:       it.Status,
		Severity:     Severity(it.Severity),
		State:        State(it.State),
		Text:         it.Text,
		Data:         it.Data,
		Version:      it.Version,
		Updates:      []Update{},
	}
	if u := it.Last; u != nil {
		e.Updates = append(e.Updates, Update{Time: time.UnixMilli(u.Time).UTC(), By: u.By, Changes: u.Changes})
	}
	return e
}

func itemOf(e *Event, shard int, expires int64, key string) eventItem {
	it := eventItem{
		PK:       eventPK(e.DeviceID),
		SK:       e.ID,
		GPK:      typeIndexPartition(e.Type, shard),
		Type:     e.Type,
		Created:  e.CreationTime.UnixMilli(),
		Updated:  e.LastUpdated.UnixMilli(),
		Status:   e.Status,
		Severity: string(e.Severity),
		State:    string(e.State),
		Text:     e.Text,
		Data:     e.Data,
		Version:  e.Version,
		Expires:  expires,
		Key:      key,
	}
	it.CounterShard = shard
	it.DeviceAlarmKey, it.FleetAlarmKey, _ = alarmKeys(e.DeviceID, e.Severity, e.State, shard)
	if n := len(e.Updates); n > 0 {
		u := e.Updates[n-1]
		it.Last = &updateItem{Time: u.Time.UnixMilli(), By: u.By, Changes: u.Changes}
	}
	return it
}

func decodeEvent(av map[string]types.AttributeValue) (Event, error) {
	var it eventItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return Event{}, fmt.Errorf("decode event item: %w", err)
	}
	return it.event(), nil
}

// jsonObject is a JSON object stored as its JSON text. A DynamoDB map would
// hold only 31 levels under an attribute where the contract allows 32, would
// refuse empty keys, and would round numbers to 38 digits; the text keeps
// exactly what the producer sent, without HTML escapes (jsonbody.Marshal).
type jsonObject map[string]any

// MarshalDynamoDBAttributeValue implements attributevalue.Marshaler.
func (o jsonObject) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	b, err := jsonbody.Marshal(map[string]any(o))
	if err != nil {
		return nil, err
	}
	return &types.AttributeValueMemberS{Value: string(b)}, nil
}

// UnmarshalDynamoDBAttributeValue implements attributevalue.Unmarshaler.
func (o *jsonObject) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	sv, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("want a JSON string, got %T", av)
	}
	d := json.NewDecoder(strings.NewReader(sv.Value))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return err
	}
	*o = m
	return nil
}

// sortedKeys is used where the order of a map must not depend on Go's
// randomised iteration (transactions, hashes).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

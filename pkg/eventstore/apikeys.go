package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Device API keys live in the events table as two items each: a lookup
// item under a partition of its own, which the key API's authorizer reads
// with one GetItem, and a listing item in the one partition of every key,
// which a listing queries a page at a time. Both are written and deleted in
// one transaction, so that a key is listed exactly while it works. The
// listing item holds no hash, and the last-used time is on the lookup item
// alone: the authorizer reads it with the key, and so writes it only when
// it is older than an hour.
//
//	lookup   pk Y#<id>   sk Y      name, scopes, devices, created, expires, hash, lastUsed
//	listing  pk Y        sk <id>   name, scopes, devices, created, expires
const (
	apiKeyPrefix     = "Y#"
	apiKeyListingPK  = "Y"
	apiKeyLookupSK   = "Y"
	apiKeyLastUsed   = "lastUsed"
	maxAPIKeyIDBytes = 64
)

// ErrNoAPIKey: no API key has that id (it never existed, or was revoked).
var ErrNoAPIKey = errors.New("no such API key")

// APIKey is a device API key as the store keeps it: never its secret, only
// Hash, the keyed hash of it that pkg/internal/apikeys computes.
type APIKey struct {
	ID     string
	Name   string
	Scopes []string
	// Devices are the only devices the key may touch; nil is any device.
	Devices []string
	Created time.Time
	// Expires is when the key stops working; zero is never.
	Expires time.Time
	// LastUsed is when the authorizer last recorded a use (at most once an
	// hour); zero is never. Only the lookup item has it.
	LastUsed time.Time
	// Hash is the keyed hash of the secret; only the lookup item has it.
	Hash []byte
}

// apiKeyItem is either item of a key.
type apiKeyItem struct {
	PK      string   `dynamodbav:"pk"`
	SK      string   `dynamodbav:"sk"`
	Name    string   `dynamodbav:"name"`
	Scopes  []string `dynamodbav:"scopes"`
	Devices []string `dynamodbav:"devices,omitempty"`
	// AnyDevice tells "any device" (nil Devices) from a list that would be
	// empty: a missing list never widens a key.
	AnyDevice bool   `dynamodbav:"anyDevice,omitempty"`
	Created   int64  `dynamodbav:"created"`
	Expires   int64  `dynamodbav:"expires,omitempty"`
	LastUsed  int64  `dynamodbav:"lastUsed,omitempty"`
	Hash      []byte `dynamodbav:"hash,omitempty"`
}

func apiKeyLookup(id string) map[string]types.AttributeValue {
	return key(apiKeyPrefix+id, apiKeyLookupSK)
}

func apiKeyListing(id string) map[string]types.AttributeValue {
	return key(apiKeyListingPK, id)
}

func newAPIKeyItem(k APIKey) apiKeyItem {
	it := apiKeyItem{Name: k.Name, Scopes: k.Scopes, Devices: k.Devices, AnyDevice: k.Devices == nil,
		Created: k.Created.UnixMilli(), Hash: k.Hash}
	if !k.Expires.IsZero() {
		it.Expires = k.Expires.UnixMilli()
	}
	return it
}

func (it apiKeyItem) apiKey(id string) APIKey {
	k := APIKey{ID: id, Name: it.Name, Scopes: it.Scopes, Devices: it.Devices,
		Created: time.UnixMilli(it.Created).UTC(), Hash: it.Hash}
	switch {
	case it.AnyDevice:
		k.Devices = nil
	case k.Devices == nil:
		k.Devices = []string{}
	}
	if it.Expires != 0 {
		k.Expires = time.UnixMilli(it.Expires).UTC()
	}
	if it.LastUsed != 0 {
		k.LastUsed = time.UnixMilli(it.LastUsed).UTC()
	}
	return k
}

// validAPIKeyID reports whether id may name a key's items: the key format
// is the caller's (pkg/internal/apikeys), this only keeps ids to short
// strings that cannot reach another kind of item.
func validAPIKeyID(id string) bool {
	if id == "" || len(id) > maxAPIKeyIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// CreateAPIKey stores a new key: its lookup and listing items in one
// transaction. A key whose id is taken is ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey) error {
	if !validAPIKeyID(k.ID) || len(k.Hash) == 0 || len(k.Scopes) == 0 {
		return fmt.Errorf("eventstore: an API key needs an id of [0-9a-z], a hash and a scope")
	}
	lookup, listing := newAPIKeyItem(k), newAPIKeyItem(k)
	lookup.PK, lookup.SK = apiKeyPrefix+k.ID, apiKeyLookupSK
	listing.PK, listing.SK, listing.Hash = apiKeyListingPK, k.ID, nil
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(PartitionKey))).Build()
	if err != nil {
		return err
	}
	tx := make([]types.TransactWriteItem, 0, 2)
	for _, it := range []apiKeyItem{lookup, listing} {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			return fmt.Errorf("encode API key item: %w", err)
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{
			TableName: s.tableName, Item: av,
			ConditionExpression:       cond.Condition(),
			ExpressionAttributeNames:  cond.Names(),
			ExpressionAttributeValues: cond.Values(),
		}})
	}
	out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: tx, ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if c, ok := reasonsOf(err); ok && c.anyConditionFailed() {
		return &storeError{ErrConflict, err}
	}
	if err != nil {
		return classify(err)
	}
	meter(ctx, true, out.ConsumedCapacity)
	return nil
}

// APIKey reads a key's lookup item, hash and last use included: one
// strongly consistent GetItem (1 read unit), so that a key works the moment
// its creation is answered.
func (s *Store) APIKey(ctx context.Context, id string) (APIKey, error) {
	if !validAPIKeyID(id) {
		return APIKey{}, ErrNoAPIKey
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              s.tableName,
		Key:                    apiKeyLookup(id),
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if err != nil {
		return APIKey{}, classify(err)
	}
	meterRead(ctx, out.ConsumedCapacity)
	if out.Item == nil {
		return APIKey{}, ErrNoAPIKey
	}
	var it apiKeyItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return APIKey{}, fmt.Errorf("decode API key item: %w", err)
	}
	return it.apiKey(id), nil
}

// APIKeyPage is a page of keys, newest first, without hashes.
type APIKeyPage struct {
	Keys []APIKey
	// Next is the id to list after for the next page; empty on the last.
	Next string
}

// ListAPIKeys lists up to limit keys (1 to MaxAPIKeyPage), newest first,
// after the key whose id is after (empty: from the newest). A page costs a
// Query of its listing items and a BatchGetItem of their lookup items'
// last-used times: what it reads grows with the page, not with the number
// of keys.
func (s *Store) ListAPIKeys(ctx context.Context, limit int, after string) (APIKeyPage, error) {
	if limit < 1 || limit > MaxAPIKeyPage {
		return APIKeyPage{}, fmt.Errorf("eventstore: a page of %d keys, want 1 to %d", limit, MaxAPIKeyPage)
	}
	kc := expression.Key(PartitionKey).Equal(expression.Value(apiKeyListingPK))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return APIKeyPage{}, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName,
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
		// One ahead: a full last page then has no Next.
		Limit:                  aws.Int32(int32(limit + 1)),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	}
	if after != "" {
		if !validAPIKeyID(after) {
			return APIKeyPage{}, fmt.Errorf("eventstore: %q is not an API key id", after)
		}
		in.ExclusiveStartKey = apiKeyListing(after)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return APIKeyPage{}, classify(err)
	}
	meterRead(ctx, out.ConsumedCapacity)
	var items []apiKeyItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return APIKeyPage{}, fmt.Errorf("decode API key items: %w", err)
	}
	var page APIKeyPage
	if len(items) > limit {
		items = items[:limit]
		page.Next = items[limit-1].SK
	}
	page.Keys = make([]APIKey, len(items))
	for i, it := range items {
		page.Keys[i] = it.apiKey(it.SK)
	}
	used, err := s.lastUsed(ctx, page.Keys)
	if err != nil {
		return APIKeyPage{}, err
	}
	for i := range page.Keys {
		page.Keys[i].LastUsed = used[page.Keys[i].ID]
	}
	return page, nil
}

// MaxAPIKeyPage is the largest page of keys, and the most keys one
// BatchGetItem reads.
const MaxAPIKeyPage = 100

// lastUsed reads the last-used time of each key's lookup item, in one
// BatchGetItem, sending again what DynamoDB leaves unprocessed. A key
// revoked since its listing item was read has none.
func (s *Store) lastUsed(ctx context.Context, keys []APIKey) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(keys) == 0 {
		return out, nil
	}
	proj := expression.NamesList(expression.Name(PartitionKey), expression.Name(apiKeyLastUsed))
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return nil, err
	}
	req := types.KeysAndAttributes{ProjectionExpression: expr.Projection(), ExpressionAttributeNames: expr.Names()}
	for _, k := range keys {
		req.Keys = append(req.Keys, apiKeyLookup(k.ID))
	}
	pending := map[string]types.KeysAndAttributes{s.table: req}
	b := newBackoff(maxRetries)
	for len(pending) > 0 {
		res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: pending, ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
		})
		if err != nil {
			return nil, classify(err)
		}
		meter(ctx, false, res.ConsumedCapacity)
		for _, av := range res.Responses[s.table] {
			var it apiKeyItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, fmt.Errorf("decode API key item: %w", err)
			}
			if it.LastUsed != 0 {
				out[it.PK[len(apiKeyPrefix):]] = time.UnixMilli(it.LastUsed).UTC()
			}
		}
		pending = res.UnprocessedKeys
		if len(pending) > 0 {
			if err := b.wait(ctx, &storeError{ErrThrottled, errors.New("BatchGetItem left keys unprocessed")}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// DeleteAPIKey revokes a key: both its items go in one transaction. A key
// that does not exist is ErrNoAPIKey.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	if !validAPIKeyID(id) {
		return ErrNoAPIKey
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(PartitionKey))).Build()
	if err != nil {
		return err
	}
	tx := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: s.tableName, Key: apiKeyLookup(id),
			ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names()}},
		{Delete: &types.Delete{TableName: s.tableName, Key: apiKeyListing(id)}},
	}
	out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: tx, ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes,
	})
	if c, ok := reasonsOf(err); ok && c.conditionFailed(0) {
		return ErrNoAPIKey
	}
	if err != nil {
		return classify(err)
	}
	meter(ctx, true, out.ConsumedCapacity)
	return nil
}

// TouchAPIKey records at as the key's last use, unless it has one after
// at minus every: the authorizer calls it when the use it read is older,
// and several instances doing so at once write once. A key revoked
// meanwhile is left revoked (no item is made).
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time, every time.Duration) error {
	if !validAPIKeyID(id) {
		return ErrNoAPIKey
	}
	name := expression.Name(apiKeyLastUsed)
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(name, expression.Value(at.UnixMilli()))).
		WithCondition(expression.AttributeExists(expression.Name(PartitionKey)).
			And(expression.AttributeNotExists(name).Or(name.LessThanEqual(expression.Value(at.Add(-every).UnixMilli()))))).
		Build()
	if err != nil {
		return err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.tableName,
		Key:                       apiKeyLookup(id),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityIndexes,
	})
	if conditionalCheckFailed(err) {
		return nil // used meanwhile, or revoked
	}
	if err != nil {
		return classify(err)
	}
	meterWrite(ctx, out.ConsumedCapacity)
	return nil
}

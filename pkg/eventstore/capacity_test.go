package eventstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB Local reports the capacity of plain reads and writes as the
// service bills them, but not of transactions: it reports one unit group
// per kind of action, so 25 puts and 2 updates in one transaction show as 6
// units (awslabs/amazon-dynamodb-local-samples#31). The benchmarks therefore
// also apply the service's documented rules to the items actually written:
// a transactional write costs 2 units per KB of each item, rounded up per
// item; a plain write 1; an index entry 1 per KB, transaction or not.
// TestItemSizeMatchesDynamoDBLocal checks the size rule against DynamoDB
// Local's own figures for plain writes.

func units(size, per int) float64 { return float64(max(1, (size+per-1)/per)) }

// billed wraps the store's client and adds up what the service would bill
// for each successful write, by the rules above.
type billed struct {
	*dynamodb.Client
	mu    sync.Mutex
	write float64
	// counterMax is the largest counter item seen, in bytes: updates are
	// billed on it, and it must stay under 1 KB for an update to cost 2.
	counterMax int
}

func (b *billed) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := b.Client.PutItem(ctx, in, opts...)
	if err == nil {
		b.add(1, in.Item)
	}
	return out, err
}

func (b *billed) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	// A delete is billed on the item it deletes: read it before.
	deleted := map[int]int{}
	for i, it := range in.TransactItems {
		if it.Delete != nil {
			got, err := b.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: it.Delete.TableName, Key: it.Delete.Key, ConsistentRead: aws.Bool(true)})
			if err != nil {
				return nil, err
			}
			deleted[i] = itemSize(got.Item)
		}
	}
	out, err := b.Client.TransactWriteItems(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	for i, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			b.add(2, it.Put.Item)
		case it.Update != nil:
			size, err := b.sizeOf(ctx, it.Update.TableName, it.Update.Key)
			if err != nil {
				return out, err
			}
			b.mu.Lock()
			b.counterMax = max(b.counterMax, size)
			b.write += 2 * units(size, 1024)
			b.mu.Unlock()
		case it.Delete != nil:
			b.mu.Lock()
			b.write += 2 * units(deleted[i], 1024)
			b.mu.Unlock()
		}
	}
	return out, nil
}

// UpdateItem bills an update as the service does: 1 unit per KB of the
// larger of the item before and after, plus its index entries' writes.
func (b *billed) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	get := func() (map[string]types.AttributeValue, error) {
		out, err := b.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: in.TableName, Key: in.Key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		return out.Item, nil
	}
	before, err := get()
	if err != nil {
		return nil, err
	}
	out, err := b.Client.UpdateItem(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	after, err := get()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.write += units(max(itemSize(before), itemSize(after)), 1024)
	b.write += indexWrites(aws.ToString(in.TableName), before, after)
	return out, nil
}

// indexWrites is what a write of an item costs in the table's global
// secondary indexes (from CreateTableInput): an entry written, changed
// (if a projected attribute changed) or deleted costs 1 unit per KB of it;
// an entry whose keys change is deleted and written again.
func indexWrites(table string, before, after map[string]types.AttributeValue) float64 {
	w := 0.0
	for _, gsi := range CreateTableInput(table).GlobalSecondaryIndexes {
		project := func(item map[string]types.AttributeValue) map[string]types.AttributeValue {
			keys := []string{PartitionKey, SortKey}
			for _, k := range gsi.KeySchema {
				if _, ok := item[aws.ToString(k.AttributeName)]; !ok {
					return nil // not in this sparse index
				}
				keys = append(keys, aws.ToString(k.AttributeName))
			}
			if gsi.Projection.ProjectionType == types.ProjectionTypeAll {
				return item
			}
			out := map[string]types.AttributeValue{}
			for _, a := range append(keys, gsi.Projection.NonKeyAttributes...) {
				if v, ok := item[a]; ok {
					out[a] = v
				}
			}
			return out
		}
		was, is := project(before), project(after)
		sameKeys := was != nil && is != nil
		for _, k := range gsi.KeySchema {
			sameKeys = sameKeys && reflect.DeepEqual(was[aws.ToString(k.AttributeName)], is[aws.ToString(k.AttributeName)])
		}
		switch {
		case sameKeys && reflect.DeepEqual(was, is):
		case sameKeys:
			w += units(max(itemSize(was), itemSize(is)), 1024)
		default:
			if was != nil {
				w += units(itemSize(was), 1024)
			}
			if is != nil {
				w += units(itemSize(is), 1024)
			}
		}
	}
	return w
}

func (b *billed) sizeOf(ctx context.Context, table *string, k map[string]types.AttributeValue) (int, error) {
	got, err := b.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, err
	}
	return itemSize(got.Item), nil
}

func (b *billed) add(factor float64, item map[string]types.AttributeValue) {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := itemSize(item)
	b.write += factor * units(size, 1024)
	for _, key := range []string{TypeIndexKey, DeviceAlarmIndexKey, FleetAlarmIndexKey} {
		if _, indexed := item[key]; indexed {
			b.write += units(size, 1024)
		}
	}
}

func TestItemSizeMatchesDynamoDBLocal(t *testing.T) {
	s, c := newTestStore(t, Options{})
	for _, pad := range []int{900, 990, 995, 1000, 1005, 1010, 2000, 2040, 2050} {
		item := map[string]types.AttributeValue{
			PartitionKey: &types.AttributeValueMemberS{Value: "size"},
			SortKey:      &types.AttributeValueMemberS{Value: fmt.Sprint(pad)},
			"n":          &types.AttributeValueMemberN{Value: "1795342530123"},
			"pad":        &types.AttributeValueMemberS{Value: strings.Repeat("x", pad)},
		}
		out, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := units(itemSize(item), 1024), *out.ConsumedCapacity.CapacityUnits; got != want {
			t.Errorf("item of %d bytes by our rule: %v units, DynamoDB Local says %v", itemSize(item), got, want)
		}
	}
}

package eventstore

import (
	"context"
	"fmt"
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
	out, err := b.Client.TransactWriteItems(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			b.add(2, it.Put.Item)
		case it.Update != nil:
			got, err := b.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: it.Update.TableName, Key: it.Update.Key, ConsistentRead: aws.Bool(true)})
			if err != nil {
				return out, err
			}
			b.mu.Lock()
			size := itemSize(got.Item)
			b.counterMax = max(b.counterMax, size)
			b.write += 2 * units(size, 1024)
			b.mu.Unlock()
		case it.Delete != nil:
			panic("billed: deletes are not benchmarked")
		}
	}
	return out, nil
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

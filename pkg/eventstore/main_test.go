package eventstore

import (
	"testing"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

var tableDef = dynamodblocal.TableDefinition{Create: CreateTableInput, TTL: TimeToLiveInput}

// newTestStore returns a store over a fresh table in DynamoDB Local.
// DynamoDB Local runs TTL for real: the tests use fixed dates, so their
// events are kept forever unless a test sets a retention.
func newTestStore(tb testing.TB, opts Options) (*Store, *dynamoClient) {
	tb.Helper()
	c := ddbtest.Client(tb)
	return New(c, ddbtest.Table(tb, c, tableDef), keepForever(opts)), c
}

func keepForever(opts Options) Options {
	if opts.Retention == 0 {
		opts.Retention = -1
	}
	return opts
}

// newBilledStore is newTestStore with the client wrapped to add up the
// write units the service would bill (see capacity_test.go).
func newBilledStore(tb testing.TB, opts Options) (*Store, *billed) {
	tb.Helper()
	c := ddbtest.Client(tb)
	b := &billed{Client: c}
	return New(b, ddbtest.Table(tb, c, tableDef), keepForever(opts)), b
}

package eventstore

import (
	"testing"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal"
	"github.com/fleetlog/device-events/infra/local/dynamodblocal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

var tableDef = dynamodblocal.TableDefinition{Create: CreateTableInput, TTL: TimeToLiveInput}

// newTestStore returns a store over a fresh table in DynamoDB Local.
func newTestStore(tb testing.TB, opts Options) (*Store, *dynamoClient) {
	tb.Helper()
	c := ddbtest.Client(tb)
	return New(c, ddbtest.Table(tb, c, tableDef), opts), c
}

// newBilledStore is newTestStore with the client wrapped to add up the
// write units the service would bill (see capacity_test.go).
func newBilledStore(tb testing.TB, opts Options) (*Store, *billed) {
	tb.Helper()
	c := ddbtest.Client(tb)
	b := &billed{Client: c}
	return New(b, ddbtest.Table(tb, c, tableDef), opts), b
}

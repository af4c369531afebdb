package eventstore

import (
	"testing"

	"github.com/fleetlog/device-events/infra/local/dynamodblocal"
	"github.com/fleetlog/device-events/infra/local/dynamodblocal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// newTestStore returns a store over a fresh table in DynamoDB Local, with a
// clock the test can move.
func newTestStore(t *testing.T, opts Options) (*Store, *dynamoClient) {
	t.Helper()
	c := ddbtest.Client(t)
	table := ddbtest.Table(t, c, dynamodblocal.TableDefinition{Create: CreateTableInput, TTL: TimeToLiveInput})
	return New(c, table, opts), c
}

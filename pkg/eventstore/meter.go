package eventstore

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Meter adds up the capacity units DynamoDB reports for the calls made with
// a context that carries it (see WithMeter): for metrics and benchmarks.
type Meter struct {
	mu    sync.Mutex
	read  float64
	write float64
}

type meterKey struct{}

// WithMeter returns a context whose store calls report to m.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// Units returns the read and write capacity units seen so far.
func (m *Meter) Units() (read, write float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.read, m.write
}

// Reset sets the meter back to zero.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read, m.write = 0, 0
}

func meterRead(ctx context.Context, cc *types.ConsumedCapacity)  { meter(ctx, false, single(cc)) }
func meterWrite(ctx context.Context, cc *types.ConsumedCapacity) { meter(ctx, true, single(cc)) }

func single(cc *types.ConsumedCapacity) []types.ConsumedCapacity {
	if cc == nil {
		return nil
	}
	return []types.ConsumedCapacity{*cc}
}

func meter(ctx context.Context, write bool, ccs []types.ConsumedCapacity) {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cc := range ccs {
		if cc.CapacityUnits == nil {
			continue
		}
		if write {
			m.write += *cc.CapacityUnits
		} else {
			m.read += *cc.CapacityUnits
		}
	}
}

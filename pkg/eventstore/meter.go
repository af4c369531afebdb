package eventstore

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Meter adds up what the store did for the calls made with a context that
// carries it (see WithMeter): the capacity units DynamoDB reported, the
// events written and the retries absorbed. For metrics and benchmarks.
type Meter struct {
	mu         sync.Mutex
	read       float64
	write      float64
	written    int
	duplicates int
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

// Events returns the events Put stored, and those it found already stored
// (retries with the same idempotency key).
func (m *Meter) Events() (written, duplicates int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.written, m.duplicates
}

func meterEvents(ctx context.Context, created []bool) {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range created {
		if c {
			m.written++
		} else {
			m.duplicates++
		}
	}
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

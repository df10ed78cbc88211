package lua

import (
	"context"
	"sync"
)

// memoryGate bounds bytes in use by native work of all runs together (a
// weighted semaphore); waiting honours the run's context.
type memoryGate struct {
	mu      sync.Mutex
	used    int64
	limit   int64
	changed chan struct{}
}

func newMemoryGate(limit int64) *memoryGate {
	return &memoryGate{limit: limit, changed: make(chan struct{})}
}

// setLimit changes the limit; waiters retry against it. What is in use
// stays: a lower limit only makes acquire wait longer.
func (g *memoryGate) setLimit(limit int64) {
	g.mu.Lock()
	g.limit = limit
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// acquire waits until n more bytes fit; n must not exceed the limit.
func (g *memoryGate) acquire(ctx context.Context, n int64) error {
	for {
		g.mu.Lock()
		if g.used+n <= g.limit {
			g.used += n
			g.mu.Unlock()
			return nil
		}
		wait := g.changed
		g.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (g *memoryGate) release(n int64) {
	g.mu.Lock()
	g.used -= n
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

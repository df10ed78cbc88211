package lua

import (
	"context"
	"sync"
)

// statePool bounds how many Lua states exist. States are made lazily and
// thrown away after an error, so a script that broke one (half-run
// coroutine, corrupted stack, timeout mid-call) never serves another request.
type statePool struct {
	slots chan struct{}
	newVM func() *vm

	mu     sync.Mutex
	idle   []*vm
	closed bool
}

func newStatePool(size int, newVM func() *vm) *statePool {
	return &statePool{slots: make(chan struct{}, size), newVM: newVM}
}

// acquire blocks until a state is free or ctx is done.
func (p *statePool) acquire(ctx context.Context) (*vm, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return v, nil
	}
	p.mu.Unlock()
	return p.newVM(), nil
}

// release returns v; a broken state is closed instead of reused.
func (p *statePool) release(v *vm, broken bool) {
	p.mu.Lock()
	if broken || p.closed {
		p.mu.Unlock()
		v.close()
	} else {
		p.idle = append(p.idle, v)
		p.mu.Unlock()
	}
	<-p.slots
}

// close frees idle states; states in use are closed when released.
func (p *statePool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, v := range p.idle {
		v.close()
	}
	p.idle = nil
}

// idleCount reports how many states wait for reuse, for tests.
func (p *statePool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

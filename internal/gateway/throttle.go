package gateway

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// throttle limits how many requests a backend label starts per period.
// The counting is a state.RateCounter: this instance's memory, or the
// shared counter on storage.redis (see SharedThrottles), so every instance
// draws from one budget. The wait queue is always local: waiting requests
// are released strictly in arrival order, and only the head of the queue
// asks the counter, so no goroutine runs while nobody waits.
type throttle struct {
	key     string // the backend label
	rules   []state.RateRule
	block   uint64 // bit i: rules[i] is mode block
	local   state.RateCounter
	shared  *SharedThrottles // nil: count locally only
	now     func() time.Time
	onQueue func(int)

	mu      sync.Mutex
	waiters list.List // of *throttleWaiter
}

type throttleWaiter struct {
	head chan struct{} // closed when this waiter becomes the head
}

func newThrottle(key string, limits config.RateLimits, shared *SharedThrottles, onQueue func(int)) *throttle {
	if len(limits) == 0 {
		return nil
	}
	if onQueue == nil {
		onQueue = func(int) {}
	}
	t := &throttle{key: key, local: state.NewMemoryRateCounter(), shared: shared, now: time.Now, onQueue: onQueue}
	for i, l := range limits {
		t.rules = append(t.rules, state.RateRule{Period: l.Period, PerPeriod: l.PerPeriod, Sliding: l.PeriodWindow != config.WindowFixed})
		if l.Mode == config.ModeBlock {
			t.block |= 1 << i
		}
	}
	return t
}

// take asks the counter for one start: the shared one when configured and
// answering (one round trip), else the local one.
func (t *throttle) take(ctx context.Context) (state.RateDecision, error) {
	if t.shared != nil {
		if d, ok := t.shared.take(ctx, t.key, t.rules, t.now()); ok {
			return d, nil
		}
		if err := ctx.Err(); err != nil {
			return state.RateDecision{}, err
		}
	}
	return t.local.Take(ctx, t.key, t.rules, t.now())
}

// wait returns when the request may start; errThrottled when a block-mode
// rule is exhausted; ctx.Err() when the client gave up first. With several
// rules the longest wait counts.
func (t *throttle) wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	queued := t.waiters.Len() > 0
	t.mu.Unlock()
	if !queued {
		// Nobody waits: one take decides (the common case, and the only
		// one for block-only rules).
		d, err := t.take(ctx)
		switch {
		case err != nil:
			return err
		case d.Allowed:
			return nil
		case d.Exhausted&t.block != 0:
			return errThrottled
		}
	}
	t.mu.Lock()
	w := &throttleWaiter{head: make(chan struct{})}
	elem := t.waiters.PushBack(w)
	if t.waiters.Len() == 1 {
		close(w.head)
	}
	t.onQueue(t.waiters.Len())
	t.mu.Unlock()

	defer func() {
		t.mu.Lock()
		wasHead := t.waiters.Front() == elem
		t.waiters.Remove(elem)
		if front := t.waiters.Front(); wasHead && front != nil {
			close(front.Value.(*throttleWaiter).head)
		}
		t.onQueue(t.waiters.Len())
		t.mu.Unlock()
	}()

	select {
	case <-w.head:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		d, err := t.take(ctx)
		switch {
		case err != nil:
			return err
		case d.Allowed:
			return nil
		case d.Exhausted&t.block != 0:
			// Mixed rules: a request that queued behind others meets
			// its block rules when it reaches the head.
			return errThrottled
		}
		timer := time.NewTimer(max(d.RetryAfter, time.Millisecond))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

package gateway

import (
	"container/list"
	"context"
	"errors"
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
//
// The queue is bounded (the rate-limit block's max_queue and queue_timeout,
// as the max_connections queue): without a cap a flood against a throttled
// backend held a goroutine and a client connection per request until each
// wait ended. Being local, the cap holds with the shared counter too.
type throttle struct {
	key      string // the backend label
	rules    []state.RateRule
	block    uint64 // bit i: rules[i] is mode block
	local    state.RateCounter
	shared   *SharedThrottles // nil: count locally only
	now      func() time.Time
	onQueue  func(int)
	maxQueue int           // waiters at most; 0: no cap
	maxWait  time.Duration // queue_timeout; 0: only the caller's context ends a wait

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
	t.maxQueue, t.maxWait = limits.Queue()
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

// Why a request that would have waited for the throttle did not start;
// throttleLayer answers both with backend_overloaded, as the slot queue.
var (
	errThrottleQueueFull    = errors.New("throttle limit reached and max_queue requests waiting for it")
	errThrottleQueueTimeout = errors.New("queue_timeout passed waiting for the throttle")
)

// wait returns when the request may start; errThrottled when a block-mode
// rule is exhausted; errThrottleQueueFull when it would have to wait and
// max_queue requests already do (the newest is refused, so those waiting
// keep their turn); errThrottleQueueTimeout when it waited queue_timeout;
// ctx.Err() when the client gave up first. With several rules the longest
// wait counts.
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
	if t.maxQueue > 0 && t.waiters.Len() >= t.maxQueue {
		t.mu.Unlock()
		return errThrottleQueueFull
	}
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

	// The timer exists only while a request waits, and bounds the head's
	// calls to the counter too (a slow Redis).
	if t.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t.maxWait, errThrottleQueueTimeout)
		defer cancel()
	}
	select {
	case <-w.head:
	case <-ctx.Done():
		return waitEnded(ctx)
	}
	for {
		d, err := t.take(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return waitEnded(ctx)
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
			return waitEnded(ctx)
		}
	}
}

// waitEnded is why ctx ended: errThrottleQueueTimeout when queue_timeout
// passed, else the caller's ctx.Err() (the client left, or the total
// deadline passed: classified as anywhere else).
func waitEnded(ctx context.Context) error {
	if cause := context.Cause(ctx); errors.Is(cause, errThrottleQueueTimeout) {
		return errThrottleQueueTimeout
	}
	return ctx.Err()
}

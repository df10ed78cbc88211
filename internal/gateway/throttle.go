package gateway

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/backline/backline/internal/config"
)

// limitWindow is one throttle rule's bookkeeping.
type limitWindow struct {
	period    time.Duration
	perPeriod int
	sliding   bool
	block     bool

	// fixed window: start of the current window and requests released in it
	start time.Time
	count int
	// sliding window: release times of the last perPeriod requests (a ring)
	times []time.Time
	next  int
}

// nextAllowed is the earliest time a request may start under this rule.
func (l *limitWindow) nextAllowed(now time.Time) time.Time {
	if l.sliding {
		if len(l.times) < l.perPeriod {
			return now
		}
		oldest := l.times[l.next]
		return oldest.Add(l.period)
	}
	if l.start.IsZero() || !now.Before(l.start.Add(l.period)) || l.count < l.perPeriod {
		return now
	}
	return l.start.Add(l.period)
}

func (l *limitWindow) record(now time.Time) {
	if l.sliding {
		if len(l.times) < l.perPeriod {
			l.times = append(l.times, now)
			return
		}
		l.times[l.next] = now
		l.next = (l.next + 1) % l.perPeriod
		return
	}
	switch {
	case l.start.IsZero():
		// Windows are aligned to the first request, as in Couper.
		l.start, l.count = now, 0
	case !now.Before(l.start.Add(l.period)):
		elapsed := now.Sub(l.start)
		l.start = l.start.Add(elapsed / l.period * l.period)
		l.count = 0
	}
	l.count++
}

// throttle limits how many requests a backend starts per period. Waiting
// requests are released strictly in arrival order: only the head of the
// queue looks at the clock, so no goroutine runs while nobody waits.
type throttle struct {
	mu      sync.Mutex
	limits  []*limitWindow
	waiters list.List // of *throttleWaiter
	now     func() time.Time
	onQueue func(int)
}

type throttleWaiter struct {
	head chan struct{} // closed when this waiter becomes the head
}

func newThrottle(limits config.RateLimits, onQueue func(int)) *throttle {
	if len(limits) == 0 {
		return nil
	}
	if onQueue == nil {
		onQueue = func(int) {}
	}
	t := &throttle{now: time.Now, onQueue: onQueue}
	for _, l := range limits {
		t.limits = append(t.limits, &limitWindow{
			period: l.Period, perPeriod: l.PerPeriod,
			sliding: l.PeriodWindow != config.WindowFixed, block: l.Mode == config.ModeBlock,
		})
	}
	return t
}

// wait returns when the request may start; errThrottled when a block-mode
// rule is exhausted; ctx.Err() when the client gave up first. With several
// rules the longest wait counts.
func (t *throttle) wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	now := t.now()
	until, blocked := t.check(now)
	if blocked {
		t.mu.Unlock()
		return errThrottled
	}
	if t.waiters.Len() == 0 && !until.After(now) {
		t.recordAll(now)
		t.mu.Unlock()
		return nil
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

	select {
	case <-w.head:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		t.mu.Lock()
		now = t.now()
		until, _ = t.check(now)
		if !until.After(now) {
			t.recordAll(now)
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
		timer := time.NewTimer(until.Sub(now))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// check returns when every rule allows a start, and whether an exhausted
// rule is in block mode.
func (t *throttle) check(now time.Time) (until time.Time, blocked bool) {
	until = now
	for _, l := range t.limits {
		next := l.nextAllowed(now)
		if next.After(now) && l.block {
			blocked = true
		}
		if next.After(until) {
			until = next
		}
	}
	return until, blocked
}

func (t *throttle) recordAll(now time.Time) {
	for _, l := range t.limits {
		l.record(now)
	}
}

package gateway

import (
	"container/list"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// slotQueue bounds how many requests of one backend are in flight. Waiters
// are served first come, first served; one whose context ends leaves the
// queue without taking a slot. Because the transport never needs more
// connections than requests in flight (and MaxConnsPerHost backs it up),
// this caps the backend's connections at max_connections.
//
// The queue itself is bounded too (max_queue, queue_timeout): a request
// that finds it full is refused at once and one that waits too long gives
// up, so that overload is shed fast instead of piling up until the
// backend's timeout.
type slotQueue struct {
	limit    int
	maxQueue int           // waiters at most; 0: no cap
	maxWait  time.Duration // queue_timeout; 0: only the caller's context ends a wait

	mu      sync.Mutex
	inUse   int
	waiters list.List // of chan struct{}; closed when the slot is handed over

	// onQueue reports the queue length after each change (metrics).
	onQueue func(n int)
}

// Why a request got no slot; slotLayer answers both with backend_overloaded.
var (
	errQueueFull    = errors.New("max_connections slots in use and max_queue requests waiting")
	errQueueTimeout = errors.New("queue_timeout passed waiting for a max_connections slot")
)

func newSlotQueue(limit, maxQueue int, maxWait time.Duration, onQueue func(int)) *slotQueue {
	if onQueue == nil {
		onQueue = func(int) {}
	}
	return &slotQueue{limit: limit, maxQueue: maxQueue, maxWait: maxWait, onQueue: onQueue}
}

// limited reports whether requests may have to wait for a slot.
func (q *slotQueue) limited() bool { return q != nil && q.limit > 0 }

// acquire takes a slot or waits for one until ctx ends (ctx's error) or
// queue_timeout passes (errQueueTimeout). With max_queue requests already
// waiting it returns errQueueFull at once: the newest request is refused,
// so those waiting keep their turn.
func (q *slotQueue) acquire(ctx context.Context) error {
	if q == nil || q.limit <= 0 {
		return nil
	}
	q.mu.Lock()
	if q.inUse < q.limit && q.waiters.Len() == 0 {
		q.inUse++
		q.mu.Unlock()
		return nil
	}
	if q.maxQueue > 0 && q.waiters.Len() >= q.maxQueue {
		q.mu.Unlock()
		return errQueueFull
	}
	ready := make(chan struct{})
	elem := q.waiters.PushBack(ready)
	q.onQueue(q.waiters.Len())
	q.mu.Unlock()

	// The timer exists only while a request waits: the fast path above
	// pays nothing for queue_timeout.
	var expired <-chan time.Time
	if q.maxWait > 0 {
		t := time.NewTimer(q.maxWait)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = errQueueTimeout
	}
	q.mu.Lock()
	select {
	case <-ready:
		q.mu.Unlock()
		if errors.Is(err, errQueueTimeout) {
			return nil // the slot came as the timer fired: use it
		}
		// The slot arrived while the client was leaving: pass it on.
		q.release()
	default:
		q.waiters.Remove(elem)
		q.onQueue(q.waiters.Len())
		q.mu.Unlock()
	}
	return err
}

// release hands the slot to the first waiter or frees it.
func (q *slotQueue) release() {
	if q == nil || q.limit <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if front := q.waiters.Front(); front != nil {
		q.waiters.Remove(front)
		q.onQueue(q.waiters.Len())
		close(front.Value.(chan struct{}))
		return
	}
	q.inUse--
}

// queued is the number of waiting requests.
func (q *slotQueue) queued() int {
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiters.Len()
}

// connCounter counts a backend's open connections (active and idle).
type connCounter struct{ open atomic.Int64 }

// countedConn decrements the counter once, on the first Close.
type countedConn struct {
	net.Conn
	counter *connCounter
	closed  atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.counter.open.Add(-1)
	}
	return c.Conn.Close()
}

// NetConn is the wrapped connection (a websocket tunnel half-closes it).
func (c *countedConn) NetConn() net.Conn { return c.Conn }

func (cc *connCounter) wrap(c net.Conn) net.Conn {
	cc.open.Add(1)
	return &countedConn{Conn: c, counter: cc}
}

package gateway

import (
	"container/list"
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// slotQueue bounds how many requests of one backend are in flight. Waiters
// are served first come, first served; one whose context ends leaves the
// queue without taking a slot. Because the transport never needs more
// connections than requests in flight (and MaxConnsPerHost backs it up),
// this caps the backend's connections at max_connections.
type slotQueue struct {
	limit int

	mu      sync.Mutex
	inUse   int
	waiters list.List // of chan struct{}; closed when the slot is handed over

	// onQueue reports the queue length after each change (metrics).
	onQueue func(n int)
}

func newSlotQueue(limit int, onQueue func(int)) *slotQueue {
	if onQueue == nil {
		onQueue = func(int) {}
	}
	return &slotQueue{limit: limit, onQueue: onQueue}
}

// limited reports whether requests may have to wait for a slot.
func (q *slotQueue) limited() bool { return q != nil && q.limit > 0 }

// acquire takes a slot or waits for one until ctx ends.
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
	ready := make(chan struct{})
	elem := q.waiters.PushBack(ready)
	q.onQueue(q.waiters.Len())
	q.mu.Unlock()

	select {
	case <-ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	select {
	case <-ready:
		// The slot arrived while we were giving up: pass it on.
		q.mu.Unlock()
		q.release()
	default:
		q.waiters.Remove(elem)
		q.onQueue(q.waiters.Len())
		q.mu.Unlock()
	}
	return ctx.Err()
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

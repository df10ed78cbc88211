package state

import "sync"

// Flights is the queue behind the Redis batchers (the affinity reads here,
// nauthilus_redis's commands in package lua): items wait in one queue and
// go out in batches, at most Max batches in flight at once. There is no
// timer and no goroutine while idle. An item that finds fewer than Max
// flights starts one at once, so a lone item waits for nothing; otherwise
// it queues, and the next flight to finish its batch takes the whole queue
// (up to MaxBatch) as its next one.
type Flights[T comparable] struct {
	// Max is how many batches may be in flight at once, MaxBatch how many
	// items one carries; Send sends one batch, on the flight's goroutine.
	Max, MaxBatch int
	Send          func(batch []T)

	mu       sync.Mutex
	queue    []T
	inflight int
}

// Add queues item and starts a flight when fewer than Max are in flight.
func (f *Flights[T]) Add(item T) {
	f.mu.Lock()
	f.queue = append(f.queue, item)
	start := f.inflight < f.Max
	if start {
		f.inflight++
	}
	f.mu.Unlock()
	if start {
		go f.fly()
	}
}

// Remove takes item out of the queue if no flight has taken it yet (its
// caller gave up waiting).
func (f *Flights[T]) Remove(item T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, q := range f.queue {
		if q == item {
			f.queue = append(f.queue[:i], f.queue[i+1:]...)
			return
		}
	}
}

// Queued is how many items wait for a flight.
func (f *Flights[T]) Queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// fly sends batches until the queue is empty, then ends.
func (f *Flights[T]) fly() {
	for {
		f.mu.Lock()
		n := min(len(f.queue), f.MaxBatch)
		if n == 0 {
			f.inflight--
			f.mu.Unlock()
			return
		}
		batch := make([]T, n)
		copy(batch, f.queue)
		rest := copy(f.queue, f.queue[n:])
		clear(f.queue[rest:])
		f.queue = f.queue[:rest]
		f.mu.Unlock()
		f.Send(batch)
	}
}

// Package gcfloor keeps the garbage collector's heap goal from falling
// below a floor while the live heap is small.
//
// Go's default (GOGC=100) starts a collection whenever the heap has grown
// by as much as survived the last one. A proxy keeps little alive (about
// 1 MiB in bench/gateway) but allocates a few KiB per request, so at 20,000
// requests a second it collected 60 times a second: each cycle scans every
// goroutine's stack, empties the sync.Pools that hold the 64 KiB body
// buffers, and slows allocation with write barriers and assists. With a
// floor the heap may grow to the floor before a collection; once the live
// heap is large enough that GOGC=100 reaches the floor anyway, the
// percentage returns to 100. The memory this costs is bounded by the floor.
//
// It is the scheme of Uber's published GC tuning, written here because the
// libraries that offer it come with much else; it is about 60 lines.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// DefaultFloor is the heap goal serve keeps while the live heap is small.
const DefaultFloor = 32 << 20

// runtimeHeapMinimum is the Go runtime's smallest heap goal at GOGC=100;
// the runtime scales it with the percentage (4 MiB × GOGC/100), so the
// percentage is capped where that minimum reaches the floor: at 10,000 %
// a process with nothing live would grow to 400 MiB before collecting.
const runtimeHeapMinimum = 4 << 20

// Tuner adjusts the GC percentage after every collection.
type Tuner struct {
	floor    uint64
	base     int // the percentage to return to (GOGC's 100)
	stopped  atomic.Bool
	percent  atomic.Int64
	sample   []metrics.Sample
	restored int
}

// Start installs a tuner that keeps the heap goal at floor or above and
// returns it; Stop restores the percentage found at Start.
func Start(floor uint64) *Tuner {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	t := &Tuner{floor: floor, base: base, restored: base,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	if base < 0 {
		return t // GOGC=off: the operator chose; nothing to tune
	}
	t.percent.Store(int64(base))
	t.tune()
	t.arm()
	return t
}

// arm runs tune after the next collection, and re-arms from there: a
// cleanup attached to an object nothing references runs once a GC cycle
// has found it unreachable.
func (t *Tuner) arm() {
	sentinel := new([16]byte)
	runtime.AddCleanup(sentinel, func(t *Tuner) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets the percentage whose goal, live × (1 + p/100), reaches the floor.
func (t *Tuner) tune() {
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	p := percentFor(live, t.floor, t.base)
	if int64(p) != t.percent.Load() {
		t.percent.Store(int64(p))
		debug.SetGCPercent(p)
	}
}

// percentFor is the GC percentage for a live heap of live bytes: base when
// base already reaches the floor, else what does, but never so much that
// the runtime's own minimum goal passes the floor.
func percentFor(live, floor uint64, base int) int {
	if live >= floor || live*uint64(100+base)/100 >= floor {
		return base
	}
	limit := int(floor * 100 / runtimeHeapMinimum)
	if live == 0 {
		return max(limit, base)
	}
	p := (floor - live) * 100 / live
	return max(min(int(p), limit), base)
}

// Percent is the percentage the tuner last set.
func (t *Tuner) Percent() int { return int(t.percent.Load()) }

// Stop stops tuning and restores the percentage found at Start.
func (t *Tuner) Stop() {
	if t.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(t.restored)
}

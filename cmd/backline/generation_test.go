package main

import (
	"sync"
	"sync/atomic"
	"testing"
)

// newTestDaemon is a daemon with one generation whose close is counted.
func newTestDaemon(closed *atomic.Int64) (*daemon, *generation) {
	d := &daemon{}
	g := &generation{id: 1, closer: func(*generation) { closed.Add(1) }}
	g.releaseFunc = g.release
	d.cur.Store(g)
	return d, g
}

// A generation replaced while requests hold it closes exactly once, after
// the last of them released it, whatever the interleaving.
func TestGenerationClosesOnceAfterLastRelease(t *testing.T) {
	for range 50 {
		var closed atomic.Int64
		d, old := newTestDaemon(&closed)
		// While a worker holds old, old must not be closed.
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				for range 100 {
					g := d.acquire()
					if g == old && closed.Load() != 0 {
						t.Error("holding a generation that was closed")
					}
					g.release()
				}
			})
		}
		close(start)
		next := &generation{id: 2, closer: func(*generation) {}}
		next.releaseFunc = next.release
		d.cur.Store(next)
		old.retire()
		wg.Wait()
		if n := closed.Load(); n != 1 {
			t.Fatalf("old generation closed %d times", n)
		}
	}
}

// A reload that lands between reading the pointer and taking the
// reference: the old generation closes at once (nobody held it), so
// acquire must retry and hand out the new one.
func TestAcquireRetriesWhenReplacedMidway(t *testing.T) {
	var closed atomic.Int64
	d, old := newTestDaemon(&closed)
	next := &generation{id: 2, closer: func(*generation) { t.Error("new generation closed") }}
	next.releaseFunc = next.release
	d.afterLoad = func() {
		if d.cur.Load() == old {
			d.cur.Store(next)
			old.retire()
		}
	}
	g := d.acquire()
	if g != next {
		t.Fatalf("acquired generation %d, want 2", g.id)
	}
	g.release()
	if n := closed.Load(); n != 1 {
		t.Errorf("old generation closed %d times, want 1", n)
	}
}

// The cost a request pays for hot reload: pin and release a generation.
func BenchmarkAcquireRelease(b *testing.B) {
	var closed atomic.Int64
	d, _ := newTestDaemon(&closed)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, release := d.Routes()
			release()
		}
	})
}

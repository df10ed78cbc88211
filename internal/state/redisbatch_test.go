package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Concurrent Gets through the batcher each get their own user's entry,
// refreshed, and leave no goroutine behind.
func TestRedisAffinityConcurrentGets(t *testing.T) {
	m, c := miniredisClient(t)
	s := NewRedisAffinityStore(c, "bl:")
	ctx := context.Background()
	const users = 200
	for i := range users {
		must(t, s.Set(ctx, AffinityKey{User: fmt.Sprint("u", i), Protocol: "imap"}, fmt.Sprint("b", i), time.Minute))
	}
	ignore := goleak.IgnoreCurrent()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < users; i += 16 {
				v, ok, err := s.Get(ctx, AffinityKey{User: fmt.Sprint("u", i), Protocol: "imap"}, time.Hour)
				if err != nil || !ok || v != fmt.Sprint("b", i) {
					t.Errorf("u%d: %q, %v, %v", i, v, ok, err)
				}
			}
		})
	}
	wg.Wait()
	if ttl := m.TTL(s.Key(AffinityKey{User: "u7", Protocol: "imap"})); ttl < 59*time.Minute {
		t.Errorf("TTL after a refreshing Get: %v", ttl)
	}
	// No flight outlives the reads (the client's and miniredis's own
	// goroutines end with them).
	c.Close()
	m.Close()
	goleak.VerifyNone(t, ignore)
}

// A batch of several reads goes in one pipeline; each read gets its own
// reply (hit, miss, GET without refresh).
func TestGetBatcherPipeline(t *testing.T) {
	m, c := miniredisClient(t)
	must(t, m.Set("a", "A"))
	must(t, m.Set("b", "B"))
	b := newGetBatcher(c)
	reqs := []*getReq{
		{key: "a", refresh: time.Minute, done: make(chan getReply, 1)},
		{key: "missing", refresh: time.Minute, done: make(chan getReply, 1)},
		{key: "b", done: make(chan getReply, 1)},
	}
	b.flights.queue, b.flights.inflight = append(b.flights.queue, reqs...), 1
	b.flights.fly()
	if b.flights.inflight != 0 || len(b.flights.queue) != 0 {
		t.Fatalf("after fly: inflight %d, queue %d", b.flights.inflight, len(b.flights.queue))
	}
	for i, want := range []string{"A", "", "B"} {
		rep := <-reqs[i].done
		if rep.val != want || (want == "") != (rep.err != nil) {
			t.Errorf("%s: %q, %v", reqs[i].key, rep.val, rep.err)
		}
	}
	if m.TTL("a") != time.Minute || m.TTL("b") != 0 {
		t.Errorf("TTLs: a %v (GETEX), b %v (GET)", m.TTL("a"), m.TTL("b"))
	}
}

// A queued read whose context ends returns at once and leaves the queue;
// a context already done sends nothing.
func TestGetBatcherCancelledWhileQueued(t *testing.T) {
	m, c := miniredisClient(t)
	b := newGetBatcher(c)
	b.flights.inflight = maxFlights // every flight busy: the read queues
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.get(ctx, "k", time.Minute)
		done <- err
	}()
	for queued := false; !queued; {
		queued = b.flights.Queued() == 1
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v", err)
	}
	if n := b.flights.Queued(); n != 0 {
		t.Errorf("queue after cancel: %d", n)
	}
	before := m.CommandCount()
	if _, err := b.get(ctx, "k", time.Minute); !errors.Is(err, context.Canceled) || m.CommandCount() != before {
		t.Errorf("done context: %v, %d commands", err, m.CommandCount()-before)
	}
}

// Redis down: every read of a pipelined batch gets the error.
func TestGetBatcherDownIsAnErrorForEachRead(t *testing.T) {
	m, c := miniredisClient(t)
	m.Close()
	b := newGetBatcher(c)
	reqs := []*getReq{{key: "a", refresh: time.Minute, done: make(chan getReply, 1)}, {key: "b", done: make(chan getReply, 1)}}
	b.flights.queue, b.flights.inflight = append(b.flights.queue, reqs...), 1
	b.flights.fly()
	for _, r := range reqs {
		if rep := <-r.done; rep.err == nil {
			t.Errorf("%s on a stopped Redis: no error", r.key)
		}
	}
}

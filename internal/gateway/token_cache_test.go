package gateway

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable time for token caches.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

func TestTokenCacheHoldsFailuresBriefly(t *testing.T) {
	var fetches atomic.Int64
	tc := newTokenCache(nil, func(context.Context) (string, time.Duration, error) {
		fetches.Add(1)
		return "", 0, errors.New("idp down")
	})
	clock := newFakeClock()
	tc.now = clock.now
	for range 3 {
		if _, err := tc.get(context.Background()); err == nil || err.Error() != "idp down" {
			t.Fatalf("err = %v", err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within the hold, want 1", n)
	}
	clock.add(tokenFailHold)
	_, _ = tc.get(context.Background())
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the hold, want 2", n)
	}
}

// TestTokenCacheWaiterLeavingKeepsFetch: a request that gives up while the
// token is fetched does not end the fetch for the others.
func TestTokenCacheWaiterLeavingKeepsFetch(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int64
	tc := newTokenCache(nil, func(ctx context.Context) (string, time.Duration, error) {
		fetches.Add(1)
		<-release
		return "tok", time.Minute, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := tc.get(ctx); done <- err }()
	for {
		tc.mu.Lock()
		started := tc.inflight != nil
		tc.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("leaving waiter got %v", err)
	}
	got := make(chan string)
	go func() { v, _ := tc.get(context.Background()); got <- v }()
	close(release)
	if v := <-got; v != "tok" {
		t.Fatalf("token %q", v)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestTokenCacheInvalidateKeepsNewerToken: a 401 for an old token does not
// drop the one another request fetched meanwhile.
func TestTokenCacheInvalidateKeepsNewerToken(t *testing.T) {
	var n atomic.Int64
	tc := newTokenCache(nil, func(context.Context) (string, time.Duration, error) {
		return []string{"", "a", "b", "c"}[n.Add(1)], time.Minute, nil
	})
	first, _ := tc.get(context.Background())
	tc.invalidate(first)
	second, _ := tc.get(context.Background())
	tc.invalidate(first) // late 401 of a request that used the first token
	if v, _ := tc.get(context.Background()); v != second || second != "b" {
		t.Fatalf("token %q after a stale invalidate, want %q", v, second)
	}
}

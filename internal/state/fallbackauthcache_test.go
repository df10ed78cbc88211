package state

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

type fallbackHarness struct {
	store     *FallbackAuthCacheStore
	clock     *fakeClock
	mu        sync.Mutex
	fallbacks map[string]int
}

func (h *fallbackHarness) count(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fallbacks[op]
}

func newFallbackHarness(t *testing.T) (*fallbackHarness, func(), func()) {
	t.Helper()
	m, c, _, clock, _ := breakerClient(t)
	h := &fallbackHarness{clock: clock, fallbacks: map[string]int{}}
	h.store = NewFallbackAuthCacheStore(NewRedisAuthCacheStore(c, "p:"), NewMemoryAuthCacheStore(100, clock.Now))
	h.store.OnFallback = func(op string) { h.mu.Lock(); h.fallbacks[op]++; h.mu.Unlock() }
	stop := func() { m.Close() }
	restart := func() {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
		clock.Advance(RedisBreakerOpenFor) // the breaker lets the next call try
	}
	return h, stop, restart
}

var fbValue = json.RawMessage(`{"d":{"account":"alice"},"m":"00"}`)

func fbGet(t *testing.T, s AuthCacheStore, key string) bool {
	t.Helper()
	v, ok, err := s.Get(context.Background(), []byte(key))
	if err != nil {
		t.Fatalf("Get %s: %v (an outage must not be an error)", key, err)
	}
	if ok && string(v) != string(fbValue) {
		t.Fatalf("Get %s = %s", key, v)
	}
	return ok
}

func fbSet(t *testing.T, s AuthCacheStore, key string) {
	t.Helper()
	if err := s.Set(context.Background(), []byte(key), fbValue, time.Minute); err != nil {
		t.Fatalf("Set %s: %v (an outage must not be an error)", key, err)
	}
}

// Redis stops: entries written meanwhile are served from local memory (no
// error, counted); Redis's own entries are out of reach. Redis returns:
// lookups go to it again, local entries are not pushed and are dropped.
func TestFallbackAuthCacheOutageAndReturn(t *testing.T) {
	h, stop, restart := newFallbackHarness(t)
	s := h.store
	fbSet(t, s, "before")
	if !fbGet(t, s, "before") || s.Degraded() {
		t.Fatal("shared entry missing while Redis is up")
	}
	stop()
	if fbGet(t, s, "before") {
		t.Error("an entry only in Redis hit during the outage")
	}
	fbSet(t, s, "during")
	for range 3 {
		if !fbGet(t, s, "during") {
			t.Fatal("entry written during the outage missing: every login would hit the databases")
		}
	}
	if !s.Degraded() || h.count("get") != 4 || h.count("set") != 1 {
		t.Errorf("degraded %v, fallbacks %v", s.Degraded(), h.fallbacks)
	}
	restart()
	if !fbGet(t, s, "before") {
		t.Error("Redis back (data kept), its entry missing")
	}
	if s.Degraded() {
		t.Error("still degraded after Redis answered")
	}
	if fbGet(t, s, "during") {
		t.Error("an outage entry was pushed to Redis or kept locally")
	}
	// The next outage starts from an empty local cache.
	stop()
	if fbGet(t, s, "during") {
		t.Error("an old outage's entry came back in the next outage")
	}
}

// A Clear (passwd-file changed) during the outage clears local memory at
// once and reaches Redis before its first lookup there.
func TestFallbackAuthCacheClearDuringOutage(t *testing.T) {
	h, stop, restart := newFallbackHarness(t)
	s := h.store
	fbSet(t, s, "old")
	stop()
	fbSet(t, s, "local")
	if err := s.Clear(context.Background()); err != nil {
		t.Fatalf("Clear during the outage: %v", err)
	}
	if fbGet(t, s, "local") {
		t.Error("local entry survived Clear")
	}
	fbSet(t, s, "after-clear")
	if !fbGet(t, s, "after-clear") {
		t.Error("entry written after Clear missing")
	}
	restart()
	if fbGet(t, s, "old") {
		t.Error("an entry written before the Clear hit once Redis returned")
	}
	fbSet(t, s, "new")
	if !fbGet(t, s, "new") || s.Degraded() {
		t.Error("Redis not used after the replayed Clear")
	}
}

// What cannot be stored is the caller's error, never a fallback.
func TestFallbackAuthCacheInvalidEntry(t *testing.T) {
	h, stop, _ := newFallbackHarness(t)
	for _, down := range []bool{false, true} {
		if down {
			stop()
		}
		err := h.store.Set(context.Background(), []byte("k"), json.RawMessage(`"not an object"`), time.Minute)
		if !errors.Is(err, ErrInvalidCacheEntry) {
			t.Errorf("down %v: %v", down, err)
		}
		if _, _, err := h.store.Get(context.Background(), nil); !errors.Is(err, ErrInvalidCacheEntry) {
			t.Errorf("down %v: empty key: %v", down, err)
		}
	}
	if len(h.fallbacks) != 0 {
		t.Errorf("fallbacks %v", h.fallbacks)
	}
}

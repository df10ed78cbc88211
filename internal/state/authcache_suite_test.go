package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheHarness is one AuthCacheStore implementation under test: open
// returns another handle on the same shared cache (another instance);
// advance moves the clock the store expires by.
type cacheHarness struct {
	open    func() AuthCacheStore
	advance func(time.Duration)
	// ttl is the TTL the expiry subtest uses (default a minute); a real
	// server's clock cannot be moved, so it waits instead.
	ttl time.Duration
}

// runAuthCacheStoreSuite is the behavioural suite every AuthCacheStore
// passes; newHarness returns a fresh, empty shared cache per subtest.
func runAuthCacheStoreSuite(t *testing.T, newHarness func(t *testing.T) cacheHarness) {
	ctx := context.Background()
	k := func(s string) []byte { return []byte(s) }
	val := func(s string) json.RawMessage { return json.RawMessage(s) }

	t.Run("miss set hit replace", func(t *testing.T) {
		s := newHarness(t).open()
		if v, ok, err := s.Get(ctx, k("login-1")); ok || err != nil || v != nil {
			t.Fatalf("empty Get = %s %v %v", v, ok, err)
		}
		if err := s.Set(ctx, k("login-1"), val(`{"account":"alice"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		v, ok, err := s.Get(ctx, k("login-1"))
		if err != nil || !ok || string(v) != `{"account":"alice"}` {
			t.Fatalf("Get = %s %v %v", v, ok, err)
		}
		v[2] = 'X' // the caller's copy
		if err := s.Set(ctx, k("login-1"), val(`{"account":"alice2"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := s.Get(ctx, k("login-1")); !ok || string(v) != `{"account":"alice2"}` {
			t.Errorf("after replace: %s %v", v, ok)
		}
		if _, ok, _ := s.Get(ctx, k("login-2")); ok {
			t.Error("another key hit")
		}
	})

	t.Run("binary keys", func(t *testing.T) {
		s := newHarness(t).open()
		keys := [][]byte{{0}, {0, 0}, {0xff, '\n', ':', '{', '}'}, []byte(strings.Repeat("\x80", MaxAuthCacheKeyLen))}
		for i, key := range keys {
			if err := s.Set(ctx, key, val(fmt.Sprintf(`{"n":%d}`, i)), time.Minute); err != nil {
				t.Fatalf("Set(%x): %v", key, err)
			}
		}
		for i, key := range keys {
			if v, ok, _ := s.Get(ctx, key); !ok || string(v) != fmt.Sprintf(`{"n":%d}`, i) {
				t.Errorf("Get(%x) = %s %v", key, v, ok)
			}
		}
	})

	t.Run("expiry", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		ttl := h.ttl
		if ttl == 0 {
			ttl = time.Minute
		}
		if err := s.Set(ctx, k("timed"), val(`{}`), ttl); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(ctx, k("timed")); !ok {
			t.Fatal("miss before the TTL")
		}
		h.advance(ttl + ttl/2)
		if _, ok, _ := s.Get(ctx, k("timed")); ok {
			t.Error("hit after the TTL")
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := newHarness(t).open()
		if err := s.Delete(ctx, k("missing")); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		_ = s.Set(ctx, k("a"), val(`{}`), time.Minute)
		_ = s.Set(ctx, k("b"), val(`{}`), time.Minute)
		if err := s.Delete(ctx, k("a")); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(ctx, k("a")); ok {
			t.Error("a still there")
		}
		if _, ok, _ := s.Get(ctx, k("b")); !ok {
			t.Error("b gone with a")
		}
	})

	t.Run("instances share, clear reaches all", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		if err := a.Set(ctx, k("login"), val(`{"account":"bob"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := b.Get(ctx, k("login")); !ok || err != nil || string(v) != `{"account":"bob"}` {
			t.Fatalf("b does not see a's entry: %s %v %v", v, ok, err)
		}
		if err := b.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := a.Get(ctx, k("login")); ok {
			t.Error("a still hits after b's Clear")
		}
		// An entry written after the Clear counts, on both.
		if err := a.Set(ctx, k("login"), val(`{"account":"bob"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.Get(ctx, k("login")); !ok {
			t.Error("entry written after the Clear is a miss")
		}
	})

	t.Run("set racing a clear is never a stale hit", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		_, _, _ = a.Get(ctx, k("login")) // a learns the current epoch
		if err := b.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		// a's check ran against the old database; its Set lands after
		// the Clear. (The memory store, one instance, has today's race:
		// the entry counts until its TTL.)
		if err := a.Set(ctx, k("login"), val(`{"account":"old"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := b.Get(ctx, k("login")); ok && isRedis(b) {
			t.Errorf("stale entry after Clear is a hit: %s", v)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		s := newHarness(t).open()
		for name, c := range map[string]struct {
			key []byte
			v   json.RawMessage
			ttl time.Duration
		}{
			"empty key":   {nil, val(`{}`), time.Minute},
			"long key":    {[]byte(strings.Repeat("k", MaxAuthCacheKeyLen+1)), val(`{}`), time.Minute},
			"zero ttl":    {k("a"), val(`{}`), 0},
			"neg ttl":     {k("a"), val(`{}`), -time.Second},
			"long ttl":    {k("a"), val(`{}`), MaxAuthCacheTTL + time.Second},
			"nil value":   {k("a"), nil, time.Minute},
			"array":       {k("a"), val(`[]`), time.Minute},
			"truncated":   {k("a"), val(`{"account":"al`), time.Minute},
			"two objects": {k("a"), val(`{}{}`), time.Minute},
			"oversized":   {k("a"), val(`{"x":"` + strings.Repeat("y", MaxAuthCacheValue) + `"}`), time.Minute},
		} {
			if err := s.Set(ctx, c.key, c.v, c.ttl); !errors.Is(err, ErrInvalidCacheEntry) {
				t.Errorf("%s: Set = %v, want ErrInvalidCacheEntry", name, err)
			}
		}
		if _, ok, _ := s.Get(ctx, k("a")); ok {
			t.Error("an invalid entry was stored")
		}
		if _, _, err := s.Get(ctx, nil); !errors.Is(err, ErrInvalidCacheEntry) {
			t.Errorf("Get(nil) = %v", err)
		}
		if err := s.Delete(ctx, nil); !errors.Is(err, ErrInvalidCacheEntry) {
			t.Errorf("Delete(nil) = %v", err)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		for g := range 4 {
			s := h.open()
			wg.Go(func() {
				for i := range 30 {
					key := k(fmt.Sprintf("k%d", i%5))
					if err := s.Set(ctx, key, val(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)), time.Minute); err != nil {
						t.Error(err)
						return
					}
					if v, ok, err := s.Get(ctx, key); err != nil || (ok && !isJSONObject(v)) {
						t.Errorf("torn value %s, %v", v, err)
						return
					}
					if i%11 == 0 {
						_ = s.Clear(ctx)
					}
				}
			})
		}
		wg.Wait()
	})
}

func isRedis(s AuthCacheStore) bool { _, ok := s.(*RedisAuthCacheStore); return ok }

package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// affinityHarness is one AffinityStore implementation under test; open
// returns another handle on the same shared state (a second instance).
type affinityHarness struct {
	open    func() AffinityStore
	advance func(time.Duration)
	// unit scales the suite's TTLs: a real server's clock cannot be
	// moved, so its harness uses short TTLs and waits.
	unit time.Duration
}

func runAffinityStoreSuite(t *testing.T, newHarness func(t *testing.T) affinityHarness) {
	ctx := context.Background()
	key := func(u, p string) AffinityKey { return AffinityKey{User: u, Protocol: p} }

	t.Run("missing", func(t *testing.T) {
		s := newHarness(t).open()
		for _, refresh := range []time.Duration{0, time.Minute} {
			if b, ok, err := s.Get(ctx, key("alice", "imap"), refresh); ok || err != nil || b != "" {
				t.Fatalf("Get = %q, %v, %v", b, ok, err)
			}
		}
		if err := s.Delete(ctx, key("alice", "imap")); err != nil {
			t.Fatalf("Delete of a missing entry: %v", err)
		}
	})

	t.Run("set get replace delete, shared", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		if err := a.Set(ctx, key("alice", "imap"), "imap-a", time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := b.Get(ctx, key("alice", "imap"), 0); got != "imap-a" || !ok || err != nil {
			t.Fatalf("other handle Get = %q, %v, %v", got, ok, err)
		}
		if err := b.Set(ctx, key("alice", "imap"), "imap-b", time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := a.Get(ctx, key("alice", "imap"), time.Hour); got != "imap-b" {
			t.Fatalf("after replace Get = %q", got)
		}
		if err := a.Delete(ctx, key("alice", "imap")); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.Get(ctx, key("alice", "imap"), 0); ok {
			t.Fatal("entry still there after Delete")
		}
	})

	t.Run("per protocol, ASCII case folded", func(t *testing.T) {
		s := newHarness(t).open()
		must(t, s.Set(ctx, key("Alice", "imap"), "imap-a", time.Hour))
		must(t, s.Set(ctx, key("alice", "pop3"), "pop3-b", time.Hour))
		if got, _, _ := s.Get(ctx, key("ALICE", "imap"), 0); got != "imap-a" {
			t.Errorf("ALICE/imap = %q, want imap-a (case folded)", got)
		}
		if got, _, _ := s.Get(ctx, key("alice", "pop3"), 0); got != "pop3-b" {
			t.Errorf("alice/pop3 = %q", got)
		}
		if _, ok, _ := s.Get(ctx, key("bob", "imap"), 0); ok {
			t.Error("bob has alice's entry")
		}
		// Non-ASCII letters are not folded: "Ä" and "ä" are different names.
		must(t, s.Set(ctx, key("Ärger", "imap"), "imap-c", time.Hour))
		if _, ok, _ := s.Get(ctx, key("ärger", "imap"), 0); ok {
			t.Error("non-ASCII case folded")
		}
	})

	t.Run("hostile names", func(t *testing.T) {
		s := newHarness(t).open()
		names := []string{"a\x00b", "a\r\nSET x y", "{tag}", "*", "a:b", "ünï", strings.Repeat("x", MaxAffinityUserLen), "a b"}
		for i, n := range names {
			must(t, s.Set(ctx, key(n, "imap"), fmt.Sprintf("b%d", i), time.Hour))
		}
		for i, n := range names {
			if got, ok, err := s.Get(ctx, key(n, "imap"), 0); got != fmt.Sprintf("b%d", i) || !ok || err != nil {
				t.Errorf("Get(%q) = %q, %v, %v", n, got, ok, err)
			}
		}
	})

	t.Run("invalid refused", func(t *testing.T) {
		s := newHarness(t).open()
		long := strings.Repeat("x", MaxAffinityUserLen+1)
		for _, c := range []struct {
			k       AffinityKey
			backend string
			ttl     time.Duration
		}{
			{key("", "imap"), "a", time.Hour},
			{key(long, "imap"), "a", time.Hour},
			{key("u", ""), "a", time.Hour},
			{key("u", strings.Repeat("p", MaxAffinityProtocolLen+1)), "a", time.Hour},
			{key("u", "imap"), "", time.Hour},
			{key("u", "imap"), strings.Repeat("b", MaxIDLen+1), time.Hour},
			{key("u", "imap"), "a", 0},
			{key("u", "imap"), "a", -time.Second},
		} {
			if err := s.Set(ctx, c.k, c.backend, c.ttl); !errors.Is(err, ErrInvalidAffinity) {
				t.Errorf("Set(%.20q, %.20q, %s) = %v, want ErrInvalidAffinity", c.k.User, c.backend, c.ttl, err)
			}
		}
		if _, _, err := s.Get(ctx, key(long, "imap"), 0); !errors.Is(err, ErrInvalidAffinity) {
			t.Errorf("Get(long) = %v", err)
		}
		if err := s.Delete(ctx, key("", "imap")); !errors.Is(err, ErrInvalidAffinity) {
			t.Errorf("Delete(empty) = %v", err)
		}
	})

	t.Run("expiry, refresh on use, plain get does not refresh", func(t *testing.T) {
		h := newHarness(t)
		u := h.unit
		if u == 0 {
			u = time.Minute
		}
		s := h.open()
		must(t, s.Set(ctx, key("used", "imap"), "imap-a", 4*u))
		must(t, s.Set(ctx, key("peeked", "imap"), "imap-a", 4*u))
		h.advance(3 * u)
		if _, ok, _ := s.Get(ctx, key("used", "imap"), 4*u); !ok {
			t.Fatal("used expired early")
		}
		if _, ok, _ := s.Get(ctx, key("peeked", "imap"), 0); !ok {
			t.Fatal("peeked expired early")
		}
		h.advance(2 * u) // 5u: past the first TTL, inside the refreshed one
		if _, ok, _ := s.Get(ctx, key("used", "imap"), 0); !ok {
			t.Error("refresh on use did not extend the entry")
		}
		if _, ok, _ := s.Get(ctx, key("peeked", "imap"), 0); ok {
			t.Error("a plain Get extended the entry (explain must not write)")
		}
		h.advance(3 * u) // 8u: past the refreshed TTL
		if _, ok, _ := s.Get(ctx, key("used", "imap"), time.Hour); ok {
			t.Error("expired entry returned (and refreshed)")
		}
	})

	t.Run("get or set: a drained stored backend is returned without refresh", func(t *testing.T) {
		h := newHarness(t)
		u := h.unit
		if u == 0 {
			u = time.Minute
		}
		a, b := h.open(), h.open()
		must(t, a.Set(ctx, key("dave", "imap"), "imap-a", 4*u))
		h.advance(3 * u)
		// imap-a drained: returned, not refreshed; another ID in the
		// list changes nothing for an entry naming neither.
		got, created, err := b.GetOrSet(ctx, key("dave", "imap"), "imap-b", 4*u, []string{"imap-c", "imap-a"})
		if got != "imap-a" || created || err != nil {
			t.Fatalf("GetOrSet of a drained stored backend = %q, %v, %v", got, created, err)
		}
		must(t, a.Set(ctx, key("erin", "imap"), "imap-b", 4*u))
		if got, _, _ := a.GetOrSet(ctx, key("erin", "imap"), "imap-c", 4*u, []string{"imap-a"}); got != "imap-b" {
			t.Fatalf("GetOrSet of another user = %q", got)
		}
		h.advance(2 * u) // 5u: dave's entry expired; erin's was refreshed at 3u
		if got, ok, _ := a.Get(ctx, key("dave", "imap"), 0); ok {
			t.Fatalf("a drained stored backend was refreshed: still %q", got)
		}
		if got, ok, _ := b.Get(ctx, key("erin", "imap"), 0); got != "imap-b" || !ok {
			t.Fatalf("a stored backend not in noRefresh was not refreshed: %q, %v", got, ok)
		}
		// Expired: a new first login stores the candidate.
		got, created, err = b.GetOrSet(ctx, key("dave", "imap"), "imap-b", 4*u, []string{"imap-a"})
		if got != "imap-b" || !created || err != nil {
			t.Fatalf("GetOrSet after the drained entry expired = %q, %v, %v", got, created, err)
		}
	})

	t.Run("get or set: first stores, later refresh and return the stored", func(t *testing.T) {
		h := newHarness(t)
		u := h.unit
		if u == 0 {
			u = time.Minute
		}
		a, b := h.open(), h.open()
		got, created, err := a.GetOrSet(ctx, key("Carol", "imap"), "imap-a", 4*u, nil)
		if got != "imap-a" || !created || err != nil {
			t.Fatalf("first GetOrSet = %q, %v, %v", got, created, err)
		}
		// Another instance with another candidate gets the stored one.
		got, created, err = b.GetOrSet(ctx, key("carol", "imap"), "imap-b", 4*u, nil)
		if got != "imap-a" || created || err != nil {
			t.Fatalf("second GetOrSet = %q, %v, %v", got, created, err)
		}
		if got, _, _ := a.Get(ctx, key("carol", "pop3"), 0); got != "" {
			t.Fatalf("other protocol = %q", got)
		}
		h.advance(3 * u)
		if _, created, _ := a.GetOrSet(ctx, key("carol", "imap"), "imap-b", 4*u, nil); created {
			t.Fatal("expired early")
		}
		h.advance(2 * u) // 5u: past the first TTL, inside the refreshed one
		if got, ok, _ := b.Get(ctx, key("carol", "imap"), 0); got != "imap-a" || !ok {
			t.Fatalf("GetOrSet did not refresh: %q, %v", got, ok)
		}
		h.advance(5 * u) // past the refreshed TTL: a new first login
		got, created, err = b.GetOrSet(ctx, key("carol", "imap"), "imap-b", 4*u, nil)
		if got != "imap-b" || !created || err != nil {
			t.Fatalf("GetOrSet after expiry = %q, %v, %v", got, created, err)
		}
		long := strings.Repeat("x", MaxAffinityUserLen+1)
		for _, c := range []struct {
			k    AffinityKey
			cand string
			ttl  time.Duration
		}{
			{key(long, "imap"), "a", time.Hour},
			{key("u", ""), "a", time.Hour},
			{key("u", "imap"), "", time.Hour},
			{key("u", "imap"), strings.Repeat("b", MaxIDLen+1), time.Hour},
			{key("u", "imap"), "a", 0},
		} {
			if _, _, err := a.GetOrSet(ctx, c.k, c.cand, c.ttl, nil); !errors.Is(err, ErrInvalidAffinity) {
				t.Errorf("GetOrSet(%.20q, %.20q, %s) = %v, want ErrInvalidAffinity", c.k.User, c.cand, c.ttl, err)
			}
		}
	})

	t.Run("get or set: racing first logins agree", func(t *testing.T) {
		h := newHarness(t)
		stores := []AffinityStore{h.open(), h.open()}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			results = map[string]int{}
			creates int
		)
		for g := range 16 {
			s := stores[g%2]
			wg.Go(func() {
				got, created, err := s.GetOrSet(ctx, key("racer", "imap"), fmt.Sprintf("b%d", g), time.Hour, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				results[got]++
				if created {
					creates++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(results) != 1 || creates != 1 {
			t.Fatalf("results %v, %d created; want one backend, created once", results, creates)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		for g := range 4 {
			s := h.open()
			wg.Go(func() {
				for i := range 25 {
					k := key(fmt.Sprintf("u%d", i%5), "imap")
					if err := s.Set(ctx, k, fmt.Sprintf("b%d", g), time.Hour); err != nil {
						t.Error(err)
						return
					}
					if _, _, err := s.Get(ctx, k, time.Hour); err != nil {
						t.Error(err)
						return
					}
					if i%7 == 0 {
						_ = s.Delete(ctx, k)
					}
				}
			})
		}
		wg.Wait()
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

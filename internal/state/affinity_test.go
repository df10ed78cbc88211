package state

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMemoryAffinityStoreBounded(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s := NewMemoryAffinityStore(8, clock.Now)
	for i := range 100 {
		must(t, s.Set(ctx, AffinityKey{User: fmt.Sprintf("u%d", i), Protocol: "imap"}, "b", time.Hour))
		if n := s.Len(); n > 8 {
			t.Fatalf("after %d sets the store holds %d entries, max 8", i+1, n)
		}
	}
	// The newest entry is always kept.
	if _, ok, _ := s.Get(ctx, AffinityKey{User: "u99", Protocol: "imap"}, 0); !ok {
		t.Error("newest entry evicted")
	}
	// Expired entries make room before live ones are evicted.
	s = NewMemoryAffinityStore(4, clock.Now)
	must(t, s.Set(ctx, AffinityKey{User: "old", Protocol: "imap"}, "b", time.Second))
	for i := range 3 {
		must(t, s.Set(ctx, AffinityKey{User: fmt.Sprintf("live%d", i), Protocol: "imap"}, "b", time.Hour))
	}
	clock.Advance(2 * time.Second)
	must(t, s.Set(ctx, AffinityKey{User: "new", Protocol: "imap"}, "b", time.Hour))
	for i := range 3 {
		if _, ok, _ := s.Get(ctx, AffinityKey{User: fmt.Sprintf("live%d", i), Protocol: "imap"}, 0); !ok {
			t.Errorf("live%d evicted while an expired entry was there", i)
		}
	}
}

func TestRedisAffinityKeysUnderPrefixWithoutRawNames(t *testing.T) {
	m, c := miniredisClient(t)
	s := NewRedisAffinityStore(c, "bl:")
	ctx := context.Background()
	user := "Ev\x00il\r\n{tag}*"
	must(t, s.Set(ctx, AffinityKey{User: user, Protocol: "imap"}, "imap-a", time.Minute))
	keys := m.Keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "bl:affinity:") {
		t.Fatalf("keys = %q", keys)
	}
	for _, r := range keys[0] {
		if r < 0x21 || r > 0x7e || r == '{' || r == '}' {
			t.Fatalf("key %q holds %q", keys[0], r)
		}
	}
	if keys[0] != s.Key(AffinityKey{User: strings.ToLower(user), Protocol: "imap"}) {
		t.Error("key depends on ASCII case")
	}
	if ttl := m.TTL(keys[0]); ttl != time.Minute {
		t.Errorf("TTL = %s", ttl)
	}
	// A value another program left that is no backend ID is no entry.
	must(t, m.Set(keys[0], ""))
	if _, ok, err := s.Get(ctx, AffinityKey{User: user, Protocol: "imap"}, 0); ok || err != nil {
		t.Errorf("empty value: %v, %v", ok, err)
	}
}

func TestRedisAffinityDownIsAnError(t *testing.T) {
	m, c := miniredisClient(t)
	s := NewRedisAffinityStore(c, "bl:")
	m.Close()
	ctx := context.Background()
	if _, _, err := s.Get(ctx, AffinityKey{User: "u", Protocol: "imap"}, time.Minute); err == nil {
		t.Error("Get on a stopped Redis: no error")
	}
	if err := s.Set(ctx, AffinityKey{User: "u", Protocol: "imap"}, "b", time.Minute); err == nil {
		t.Error("Set on a stopped Redis: no error")
	}
}

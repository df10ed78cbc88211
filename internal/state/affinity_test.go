package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	// ... and a login's GetOrSet replaces it, as it does an oversized one.
	for _, foreign := range []string{"", strings.Repeat("z", MaxIDLen+1)} {
		must(t, m.Set(keys[0], foreign))
		got, created, err := s.GetOrSet(ctx, AffinityKey{User: user, Protocol: "imap"}, "imap-b", time.Minute, nil)
		if got != "imap-b" || !created || err != nil {
			t.Errorf("GetOrSet over %d-byte foreign value = %q, %v, %v", len(foreign), got, created, err)
		}
		if v, _ := m.Get(keys[0]); v != "imap-b" || m.TTL(keys[0]) != time.Minute {
			t.Errorf("stored %q, TTL %s", v, m.TTL(keys[0]))
		}
	}
}

// TestRedisGetOrSetPipelineReloadsScript: a pipeline of GetOrSets on a
// Redis that lost the script (SCRIPT FLUSH, restart) still answers each.
func TestRedisGetOrSetPipelineReloadsScript(t *testing.T) {
	_, c := miniredisClient(t)
	s := NewRedisAffinityStore(c, "bl:")
	ctx := context.Background()
	must(t, s.Set(ctx, AffinityKey{User: "old", Protocol: "imap"}, "imap-a", time.Minute))
	must(t, c.ScriptFlush(ctx).Err())
	batch := []*getReq{
		{key: s.key(AffinityKey{User: "old", Protocol: "imap"}), refresh: time.Hour, cand: "imap-z", done: make(chan getReply, 1)},
		{key: s.key(AffinityKey{User: "new", Protocol: "imap"}), refresh: time.Hour, cand: "imap-b", done: make(chan getReply, 1)},
		{key: s.key(AffinityKey{User: "old", Protocol: "imap"}), done: make(chan getReply, 1)},
	}
	s.reads.send(batch)
	for i, want := range []getReply{{val: "imap-a"}, {err: redis.Nil}, {val: "imap-a"}} {
		if got := <-batch[i].done; got.val != want.val || !errors.Is(got.err, want.err) && got.err != want.err {
			t.Errorf("reply %d = %q, %v; want %q, %v", i, got.val, got.err, want.val, want.err)
		}
	}
	if got, _, _ := s.Get(ctx, AffinityKey{User: "new", Protocol: "imap"}, 0); got != "imap-b" {
		t.Errorf("new = %q", got)
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
	if _, _, err := s.GetOrSet(ctx, AffinityKey{User: "u", Protocol: "imap"}, "b", time.Minute, nil); err == nil {
		t.Error("GetOrSet on a stopped Redis: no error")
	}
}

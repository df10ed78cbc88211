package state

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisAuthCacheKeysUnderPrefixWithTTL(t *testing.T) {
	m, c := miniredisClient(t)
	ctx := context.Background()
	a, b := NewRedisAuthCacheStore(c, "one:"), NewRedisAuthCacheStore(c, "two:")
	if err := a.Set(ctx, []byte{1, 2, 3}, json.RawMessage(`{"account":"x"}`), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Keys() {
		if !strings.HasPrefix(k, "one:{authcache}:") {
			t.Errorf("key %q outside the prefix", k)
		}
	}
	if ttl := m.TTL("one:{authcache}:e:010203"); ttl <= 0 || ttl > 90*time.Second {
		t.Errorf("entry TTL = %v, want 90s", ttl)
	}
	if _, ok, _ := b.Get(ctx, []byte{1, 2, 3}); ok {
		t.Error("another prefix hits")
	}
}

// A hostile or confused Redis: what it holds under an entry key is a miss,
// counted, never an error or a hit.
func TestRedisAuthCacheHostileValues(t *testing.T) {
	m, c := miniredisClient(t)
	ctx := context.Background()
	var reasons []string
	s := NewRedisAuthCacheStore(c, "p:")
	s.SetOnCorrupt(func(r string) { reasons = append(reasons, r) })
	key := []byte("login")
	entry := "p:{authcache}:e:" + "6c6f67696e"
	valid := func(v int, epoch, value string) string {
		b, _ := json.Marshal(map[string]any{"v": v, "epoch": epoch, "value": json.RawMessage(value)})
		return string(b)
	}
	for _, c := range []struct {
		name, stored, reason string
	}{
		{"oversized", `{"v":1,"epoch":"","value":{"x":"` + strings.Repeat("y", 1<<20) + `"}}`, CorruptOversized},
		{"not json", "\x00\xffgarbage", CorruptNotJSON},
		{"truncated", `{"v":1,"epoch":"","value":{"acc`, CorruptNotJSON},
		{"version 2", valid(2, "", `{"account":"x"}`), CorruptVersion},
		{"version 0", `{"epoch":"","value":{"account":"x"}}`, CorruptVersion},
		{"value not an object", `{"v":1,"epoch":"","value":"alice"}`, CorruptVersion},
		{"value null", `{"v":1,"epoch":"","value":null}`, CorruptVersion},
	} {
		reasons = nil
		m.Set(entry, c.stored)
		v, ok, err := s.Get(ctx, key)
		if ok || err != nil || v != nil {
			t.Errorf("%s: Get = %.40s %v %v, want a miss", c.name, v, ok, err)
		}
		if len(reasons) != 1 || reasons[0] != c.reason {
			t.Errorf("%s: OnCorrupt heard %v, want [%s]", c.name, reasons, c.reason)
		}
	}

	// Another program's key of another type.
	reasons = nil
	m.Del(entry)
	m.HSet(entry, "f", "v")
	if _, ok, err := s.Get(ctx, key); ok || err != nil || len(reasons) != 1 || reasons[0] != CorruptWrongType {
		t.Errorf("hash at the key: %v %v %v", ok, err, reasons)
	}

	// A valid entry under an epoch that is not the current one is a miss
	// but no corruption; an oversized epoch is compared as far as read.
	m.Del(entry)
	m.Set(entry, valid(1, "old", `{"account":"x"}`))
	m.Set("p:{authcache}:epoch", strings.Repeat("E", 1<<20))
	reasons = nil
	if _, ok, err := s.Get(ctx, key); ok || err != nil || len(reasons) != 0 {
		t.Errorf("old epoch: %v %v %v", ok, err, reasons)
	}
	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, key, json.RawMessage(`{"account":"x"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, key); !ok {
		t.Error("no hit after Clear repaired the epoch")
	}
}

func TestRedisAuthCacheDownIsAnError(t *testing.T) {
	m, _ := miniredisClient(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	defer c.Close()
	s := NewRedisAuthCacheStore(c, "p:")
	m.Close()
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, []byte("k")); ok || err == nil {
		t.Errorf("Get with Redis down = %v, %v; want an error", ok, err)
	}
	if err := s.Set(ctx, []byte("k"), json.RawMessage(`{}`), time.Minute); err == nil {
		t.Error("Set with Redis down: no error")
	}
}

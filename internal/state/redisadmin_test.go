package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
)

// miniredisClient starts a miniredis and returns a client on it; both stop
// with the test.
func miniredisClient(t *testing.T) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return m, c
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func deletePrefix(t *testing.T, addr, prefix string) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err == nil && len(keys) > 0 {
		err = c.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Logf("cleaning up %s*: %v", prefix, err)
	}
}

func TestRedisAdminStoreKeysUnderPrefix(t *testing.T) {
	m, c := miniredisClient(t)
	ctx := context.Background()
	a, b := NewRedisAdminStore(c, "one:"), NewRedisAdminStore(c, "two:")
	if err := a.Set(ctx, AdminEntry{ID: "imap-a", Record: json.RawMessage(`{"state":"drain"}`), Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Keys() {
		if !strings.HasPrefix(k, "one:{admin}:") {
			t.Errorf("key %q outside the prefix", k)
		}
	}
	if ttl := m.TTL("one:{admin}:e:imap-a"); ttl <= 0 || ttl > time.Hour {
		t.Errorf("entry TTL = %v, want its until (about 1h)", ttl)
	}
	if list, _ := b.List(ctx); len(list) != 0 {
		t.Errorf("another prefix sees %v", list)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(mustGet(t, m, "one:{admin}:e:imap-a")), &v); err != nil || v["id"] != "imap-a" || v["until"] == nil {
		t.Errorf("stored value %v (%v)", v, err)
	}
}

func mustGet(t *testing.T, m *miniredis.Miniredis, key string) string {
	t.Helper()
	s, err := m.Get(key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return s
}

// TestRedisAdminStoreSkipsCorruptValues: anyone with access to the Redis,
// or an older backline, may have written the keys.
func TestRedisAdminStoreSkipsCorruptValues(t *testing.T) {
	m, c := miniredisClient(t)
	ctx := context.Background()
	s := NewRedisAdminStore(c, "p:")
	var mu sync.Mutex
	var corrupt []string
	s.OnCorrupt = func(key string, err error) {
		mu.Lock()
		corrupt = append(corrupt, key+": "+err.Error())
		mu.Unlock()
	}
	if err := s.Set(ctx, AdminEntry{ID: "good", Record: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"garbage":   "not json",
		"truncated": `{"v":1,"id":"truncated","record":{"st`,
		"other-id":  `{"v":1,"id":"good","record":{}}`,
		"version":   `{"v":2,"id":"version","record":{}}`,
		"array":     `{"v":1,"id":"array","record":[]}`,
		"huge":      `{"v":1,"id":"huge","record":{"x":"` + strings.Repeat("y", maxRedisAdminValue) + `"}}`,
		"empty":     "",
	}
	for id, val := range bad {
		m.Set("p:{admin}:e:"+id, val)
		m.SAdd("p:{admin}:ids", id)
	}
	m.SAdd("p:{admin}:ids", "vanished") // its key expired
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "good" {
		t.Fatalf("List = %v, %v", list, err)
	}
	if len(corrupt) != len(bad) {
		t.Errorf("OnCorrupt heard %d, want %d: %q", len(corrupt), len(bad), corrupt)
	}
	if ok, _ := m.SIsMember("p:{admin}:ids", "vanished"); ok {
		t.Error("the ID of a vanished entry was not removed from the set")
	}
	if _, ok, err := s.Get(ctx, "garbage"); ok || err != nil {
		t.Errorf("Get(garbage) = %v, %v", ok, err)
	}
}

// TestRedisDownAndBack: errors, never a panic or a hang; the watcher reports
// the outage once and the recovery once.
func TestRedisDownAndBack(t *testing.T) {
	m, c := miniredisClient(t)
	ctx := context.Background()
	s := NewRedisAdminStore(c, "p:")
	var status []error
	w := &AdminWatcher{Store: s, Apply: func([]AdminEntry) {}, Status: func(err error) { status = append(status, err) }}
	w.Poll(ctx)
	m.Close()
	if err := s.Set(ctx, AdminEntry{ID: "a", Record: json.RawMessage(`{}`)}); err == nil {
		t.Error("Set with Redis down succeeded")
	}
	if _, err := s.List(ctx); err == nil {
		t.Error("List with Redis down succeeded")
	}
	w.Poll(ctx)
	w.Poll(ctx)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	w.Poll(ctx)
	w.Poll(ctx)
	if len(status) != 3 || status[0] != nil || status[1] == nil || status[2] != nil {
		t.Errorf("status = %v, want [nil, error, nil]", status)
	}
}

func TestRedisPasswordNeverInErrors(t *testing.T) {
	const secret = "Uq7-redis-secret-9f8e"
	m := miniredis.RunT(t)
	m.RequireAuth("the-right-one")
	yml := "storage:\n  redis:\n    primary:\n      address: " + m.Addr() + "\n      password: " + secret + "\n"
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRedisClient(cfg.Storage.Redis)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := NewRedisAdminStore(c, cfg.Storage.Redis.Prefix)
	_, err = s.List(context.Background())
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error reveals the password: %v", err)
	}
}

func TestNewRedisClientFromConfig(t *testing.T) {
	m := miniredis.RunT(t)
	m.RequireUserAuth("backline", "pw")
	yml := "storage:\n  redis:\n    primary:\n      address: " + m.Addr() + "\n      username: backline\n      password: pw\n    database_number: 3\n    prefix: 'bl:'\n"
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRedisClient(cfg.Storage.Redis)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := NewRedisAdminStore(c, cfg.Storage.Redis.Prefix)
	if err := s.Set(context.Background(), AdminEntry{ID: "a", Record: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	m.Select(3)
	if !m.Exists("bl:{admin}:e:a") {
		t.Errorf("entry not in database 3 under bl:; keys there: %v", m.Keys())
	}

	for _, c := range []struct {
		yml  string
		want any
	}{
		{"sentinels:\n      master: mymaster\n      addresses: [127.0.0.1:1]\n", &redis.Client{}},
		{"cluster:\n      addresses: [127.0.0.1:1, 127.0.0.1:2]\n", &redis.ClusterClient{}},
	} {
		cfg, err := config.Parse([]byte("storage:\n  redis:\n    " + c.yml))
		if err != nil {
			t.Fatal(err)
		}
		cl, err := NewRedisClient(cfg.Storage.Redis)
		if err != nil {
			t.Fatal(err)
		}
		if _, isCluster := cl.(*redis.ClusterClient); isCluster != (cfg.Storage.Redis.Mode() == config.RedisClusterMode) {
			t.Errorf("%s: client %T", cfg.Storage.Redis.Mode(), cl)
		}
		cl.Close()
	}
}

func TestNewRedisClientTLSFileErrors(t *testing.T) {
	r := &config.Redis{Primary: config.RedisNode{Address: "127.0.0.1:1"}, TLS: config.RedisTLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}}
	if _, err := NewRedisClient(r); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("err = %v", err)
	}
	if _, err := NewRedisClient(&config.Redis{}); err == nil {
		t.Error("no topology accepted")
	}
}

package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

func timeNowForTest() time.Time { return time.Unix(1700000000, 0) }

func TestCacheKeyIsNotThePassword(t *testing.T) {
	c := newPositiveCache(time.Minute, 10)
	k := c.key("alice", testPassword, "imap")
	if bytes.Contains(k[:], []byte(testPassword)) || bytes.Contains(k[:], []byte("alice")) {
		t.Fatal("cache key contains the user or password")
	}
	// The key is a keyed MAC: the plain SHA-256 of the same input differs,
	// and so do keys of another process (another cache).
	plain := sha256.Sum256([]byte("alice\x00" + testPassword + "\x00imap"))
	if hmac.Equal(k[:], plain[:]) {
		t.Error("cache key is an unkeyed hash")
	}
	if other := newPositiveCache(time.Minute, 10).key("alice", testPassword, "imap"); other == k {
		t.Error("two caches share a key")
	}
	// Each component matters; separators prevent ambiguity.
	for _, alt := range []cacheKey{
		c.key("alice", testPassword, "pop3"),
		c.key("alice", testPassword+"x", "imap"),
		c.key("alice\x00"+testPassword, "", "imap"),
	} {
		if alt == k {
			t.Error("different inputs share a cache key")
		}
	}
}

func TestCacheHitMissAndExpiry(t *testing.T) {
	env := newEnv(t, nil)
	now := timeNowForTest()
	env.h.cache.now = func() time.Time { return now }

	get := func(pass string) string {
		return env.do(nginxRequest(testUser, pass, "imap", "1")).Header().Get("X-Nauthilus-Memory-Cache")
	}
	if got := get(testPassword); got != "Miss" {
		t.Errorf("first: %s", got)
	}
	if got := get(testPassword); got != "Hit" {
		t.Errorf("second: %s", got)
	}
	// A wrong password never hits and is never cached.
	if w := env.do(nginxRequest(testUser, "wrong-password", "imap", "1")); w.Header().Get("Auth-Status") == "OK" {
		t.Error("wrong password accepted")
	}
	if n := env.h.cache.len(); n != 1 {
		t.Errorf("cache holds %d entries, want 1", n)
	}
	// Inspect the stored entry: no field holds the password.
	env.h.cache.mu.RLock()
	for k, e := range env.h.cache.entries {
		if strings.Contains(string(k[:]), testPassword) || e.account != testUser {
			t.Errorf("entry %+v", e)
		}
		for _, vs := range e.attributes {
			for _, v := range vs {
				if v == testPassword {
					t.Error("cached attributes hold the password")
				}
			}
		}
	}
	env.h.cache.mu.RUnlock()

	now = now.Add(config.DefaultAuthCacheTTL)
	if got := get(testPassword); got != "Miss" {
		t.Errorf("after TTL: %s", got)
	}

	// ?cache=0 bypasses the cache.
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.URL.RawQuery = "cache=0"
	if got := env.do(r).Header().Get("X-Nauthilus-Memory-Cache"); got != "Miss" {
		t.Errorf("cache=0: %s", got)
	}

	text := env.logs.String()
	if !strings.Contains(text, "cache_hit=true") || !strings.Contains(text, "cache_hit=false") {
		t.Errorf("log lacks cache results:\n%s", text)
	}
}

func TestCacheDisabledAndBounded(t *testing.T) {
	zero := time.Duration(0)
	env := newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Cache.TTL = &zero })
	if env.h.cache != nil {
		t.Fatal("ttl 0 must disable the cache")
	}
	for range 2 {
		if got := env.do(nginxRequest(testUser, testPassword, "imap", "1")).Header().Get("X-Nauthilus-Memory-Cache"); got != "Miss" {
			t.Errorf("disabled cache: %s", got)
		}
	}

	c := newPositiveCache(time.Minute, 3)
	for i := range 10 {
		c.put(context.Background(), c.key(string(rune('a'+i)), "pw", "imap"), cacheEntry{account: "x"}, "pw")
		if c.len() > 3 {
			t.Fatalf("cache grew to %d entries", c.len())
		}
	}
}

func TestCacheMetrics(t *testing.T) {
	env := newEnv(t, nil)
	env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	env.do(nginxRequest(testUser, "wrong-password", "smtp", "1"))
	// An empty user is a failed login; a malformed request is invalid.
	env.do(nginxRequest("", "", "imap", "1"))
	env.do(nginxRequest(testUser, testPassword, "imap", "many"))
	got := gatherCounters(t, env)
	for k, v := range map[string]float64{
		`backline_auth_cache_total{result="hit"}`:                                          1,
		`backline_auth_cache_total{result="miss"}`:                                         2,
		`backline_auth_requests_total{endpoint="nginx",outcome="ok",protocol="imap"}`:      2,
		`backline_auth_requests_total{endpoint="nginx",outcome="fail",protocol="smtp"}`:    1,
		`backline_auth_requests_total{endpoint="nginx",outcome="fail",protocol="imap"}`:    1,
		`backline_auth_requests_total{endpoint="nginx",outcome="invalid",protocol="none"}`: 1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// TestCacheKeySeparatesParts: the pooled buffer keeps the parts apart and
// the same input gives the same key whatever came before it.
func TestCacheKeySeparatesParts(t *testing.T) {
	c := newPositiveCache(time.Minute, 10)
	a := c.key("user", "pass", "imap")
	long := c.key(strings.Repeat("u", 10000), strings.Repeat("p", 10000), "imap") // not pooled
	if a == long {
		t.Fatal("different input, same key")
	}
	for _, other := range [][3]string{{"use", "rpass", "imap"}, {"user", "pas", "simap"}, {"user", "pass", "imap\x00"}, {"user", "pass", "pop3"}} {
		if c.key(other[0], other[1], other[2]) == a {
			t.Errorf("%q gives the key of user/pass/imap", other)
		}
	}
	if c.key("user", "pass", "imap") != a {
		t.Error("same input, different key")
	}
}

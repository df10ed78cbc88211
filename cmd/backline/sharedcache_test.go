package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// sharedCacheConfig is a file with storage.redis at addr, a passwd-file
// with one user and, when withKey, auth.cache.hmac_key_file.
func sharedCacheConfig(t *testing.T, addr string, withKey bool) *config.Config {
	t.Helper()
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	key := filepath.Join(dir, "cache-key")
	if err := os.WriteFile(passwd, []byte("alice:{PLAIN}Alice-pw-9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(strings.Repeat("k", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "auth:\n  passdb:\n    - type: passwd_file\n      path: " + passwd + "\n"
	if withKey {
		yml += "  cache:\n    hmac_key_file: " + key + "\n"
	}
	yml += "storage:\n  redis:\n    primary:\n      address: " + addr + "\n"
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSharedAuthCacheWiring: two daemons on one Redis build auth handlers
// whose cache is shared; without the key file each keeps its own.
func TestSharedAuthCacheWiring(t *testing.T) {
	m := miniredis.RunT(t)
	instance := func(withKey bool) http.Handler {
		cfg := sharedCacheConfig(t, m.Addr(), withKey)
		client, err := state.NewRedisClient(cfg.Storage.Redis)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		store, err := newAuthCacheStore(cfg, client, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		d := &daemon{authCache: store}
		if got := d.sharedAuthCache(cfg); (got != nil) != withKey {
			t.Fatalf("withKey %v: sharedAuthCache = %v", withKey, got)
		}
		mounts, engine, err := extraMounts(cfg, adminEngine(t), passChecker{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), d.sharedAuthCache(cfg), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(engine.Close)
		mux := http.NewServeMux()
		mounts[0].(*auth.Handler).Register(mux)
		return mux
	}
	login := func(h http.Handler) string {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/nginx", nil)
		for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": "alice", "Auth-Pass": "Alice-pw-9",
			"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.7"} {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Header().Get("Auth-Status") != "OK" {
			t.Fatalf("login: %v", w.Header())
		}
		return w.Header().Get("X-Nauthilus-Memory-Cache")
	}
	a, b := instance(true), instance(true)
	if got := login(a); got != "Miss" {
		t.Errorf("a: %s", got)
	}
	if got := login(b); got != "Hit" {
		t.Errorf("b after a: %s, want a hit through Redis", got)
	}
	local := instance(false)
	if got := login(local); got != "Miss" {
		t.Errorf("without the key file: %s, want its own cache", got)
	}
}

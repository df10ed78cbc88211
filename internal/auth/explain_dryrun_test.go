package auth

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
)

// Explain runs the real filters in dry-run mode: a filter that counts
// logins in nauthilus_cache reads the count but does not change it, and
// the answer lists the skipped write. A real login still counts.
func TestExplainDoesNotRunFilterWrites(t *testing.T) {
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb[0].Path = writePasswd(t, "user:{PLAIN}"+testPassword)
	}, "route_by_login_count.lua")
	first := ""
	for range 3 {
		ans, w := env.explain(`{"username":"user","protocol":"imap"}`)
		if ans.Status != "ok" || ans.Backend == nil {
			t.Fatalf("explain: %s", w.Body.String())
		}
		if first == "" {
			first = ans.Backend.Host
		} else if ans.Backend.Host != first {
			t.Fatalf("explain counted a login: %s then %s", first, ans.Backend.Host)
		}
		want := []string{"route_by_login_count: nauthilus_cache.cache_set"}
		if !slices.Equal(ans.SuppressedEffects, want) {
			t.Errorf("suppressed_side_effects %q, want %q", ans.SuppressedEffects, want)
		}
	}
	if first != "127.0.0.1" {
		t.Fatalf("first login goes to %s", first)
	}

	w := env.do(nginxRequest("user", testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Server"); got != "127.0.0.1" {
		t.Fatalf("real login -> %q (%v)", got, w.Header())
	}
	// The real login wrote the count, which explain reads.
	ans, w := env.explain(`{"username":"user","protocol":"imap"}`)
	if ans.Backend == nil || ans.Backend.Host != "127.0.0.2" {
		t.Fatalf("explain after a real login: %s", w.Body.String())
	}
}

// A filter that raises on a call the dry run did not run (a Redis script:
// it may write, and has no harmless stand-in) makes explain answer
// tempfail, and that answer still lists the skipped call, so the operator
// sees why; the key is on every answer, [] when nothing was skipped.
func TestExplainListsTheSkippedCallOfAFailedFilter(t *testing.T) {
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	host := lua.NewHost()
	host.SetRedis(client, &config.Redis{Primary: config.RedisNode{Address: m.Addr()}}, nil)
	t.Cleanup(host.CloseRedisPools)
	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Storage.Redis = &config.Redis{Primary: config.RedisNode{Address: m.Addr()}}
		c.Lua.Filters = []config.LuaFilter{{Name: "rate_limit", ScriptPath: "testdata/rate_limit_script.lua"}}
		engine, err := lua.NewEngine(lua.Options{Config: c.Lua, Health: o.Health, Checker: o.Checker,
			Logger: slog.New(slog.DiscardHandler), Host: host})
		if err != nil {
			t.Fatalf("lua engine: %v", err)
		}
		t.Cleanup(engine.Close)
		o.Lua = engine
	})

	// A real login runs the script: the count is in Redis.
	if w := env.do(nginxRequest(testUser, testPassword, "imap", "1")); w.Header().Get("Auth-Status") != "OK" {
		t.Fatalf("real login: %v", w.Header())
	}
	if got, _ := m.Get("logins:" + testUser); got != "1" {
		t.Fatalf("the real login's count is %q, want 1", got)
	}

	ans, w := env.explain(`{"username":"alice","protocol":"imap"}`)
	if ans.Status != "tempfail" || !strings.Contains(ans.Reason, "nauthilus_redis.redis_run_script: not run in a dry run (explain)") {
		t.Fatalf("explain: %s", w.Body.String())
	}
	// Every call the run skipped before it failed, the one it raised on last.
	want := []string{"rate_limit: nauthilus_cache.cache_set", "rate_limit: nauthilus_redis.redis_run_script"}
	if !slices.Equal(ans.SuppressedEffects, want) {
		t.Errorf("suppressed_side_effects %q, want %q", ans.SuppressedEffects, want)
	}
	if got, _ := m.Get("logins:" + testUser); got != "1" {
		t.Errorf("explain ran the script: count %q", got)
	}

	// The key is on every answer: [] when nothing was skipped, and on a
	// refused body.
	plain := newEnv(t, nil)
	for _, body := range []string{`{"username":"alice","protocol":"imap"}`, `{"username":"alice","protocol":"IMAP"}`} {
		w := plain.do(explainRequestFor(body))
		if !strings.Contains(w.Body.String(), `"suppressed_side_effects": []`) {
			t.Errorf("%s: %d %s, want suppressed_side_effects: []", body, w.Code, w.Body.String())
		}
	}
}

package auth

import (
	"slices"
	"testing"

	"github.com/backline/backline/internal/config"
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

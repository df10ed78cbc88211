package auth

import (
	"testing"

	"github.com/backline/backline/internal/config"
)

// One nauthilus_context per authentication request: what the Lua passdb
// stores, the filters of the same request read; the next request starts
// empty (the passdb script raises when it finds a leftover, which would
// be a tempfail instead of a plain failure).
func TestLuaContextSharedByPassdbAndFiltersOfOneRequest(t *testing.T) {
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/ctx_passdb.lua"})
	}, "ctx_filter.lua")
	w := env.do(nginxRequest("ctxuser", "ctx-pass", "imap", "1"))
	if got := w.Header().Get("Auth-Status") + " " + w.Header().Get("Auth-Port"); got != "OK 1143" {
		t.Fatalf("filter did not see the passdb's context: %s (%v)\n%s", got, w.Header(), env.logs.String())
	}
	w = env.do(nginxRequest("ctxuser", "wrong", "imap", "1"))
	if got := w.Header().Get("Auth-Status"); got != config.DefaultFailureMessage {
		t.Fatalf("second request: %q (%v)\n%s", got, w.Header(), env.logs.String())
	}
	// A positive cache hit skips the passdb, so its context values are
	// absent then, as in Nauthilus (the filter routes to its fallback).
	w = env.do(nginxRequest("ctxuser", "ctx-pass", "imap", "1"))
	if got := w.Header().Get("Auth-Status") + " " + w.Header().Get("Auth-Port"); got != "OK 9999" {
		t.Fatalf("cache hit: %s (%v)", got, w.Header())
	}
}

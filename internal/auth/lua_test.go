package auth

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
)

// newLuaEnv runs the real Lua engine with the given filter scripts.
func newLuaEnv(t testing.TB, mutate func(*config.Config), scripts ...string) *testEnv {
	t.Helper()
	return newLuaEnvWith(t, func(c *config.Config, _ *Options) {
		if mutate != nil {
			mutate(c)
		}
	}, scripts...)
}

// newLuaEnvWith is newLuaEnv with the handler's options at hand too.
func newLuaEnvWith(t testing.TB, mutate func(*config.Config, *Options), scripts ...string) *testEnv {
	t.Helper()
	return newEnv(t, func(c *config.Config, o *Options) {
		for _, s := range scripts {
			c.Lua.Filters = append(c.Lua.Filters, config.LuaFilter{Name: strings.TrimSuffix(s, ".lua"), ScriptPath: "testdata/" + s})
		}
		if mutate != nil {
			mutate(c, o)
		}
		engine, err := lua.NewEngine(lua.Options{Config: c.Lua, Health: o.Health, Checker: o.Checker, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("lua engine: %v", err)
		}
		t.Cleanup(engine.Close)
		o.Lua = engine
	})
}

func TestLuaFilterSelectsBackend(t *testing.T) {
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb[0].Path = writePasswd(t, "user:{PLAIN}"+testPassword, "user+b:{PLAIN}"+testPassword, "locked:{PLAIN}"+testPassword)
	}, "route_by_suffix.lua")

	w := env.do(nginxRequest("user", testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"); got != "127.0.0.1:1143" {
		t.Errorf("user -> %s (%v)", got, w.Header())
	}
	w = env.do(nginxRequest("user+b", testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"); got != "127.0.0.2:2143" {
		t.Errorf("user+b -> %s (%v)", got, w.Header())
	}
	w = env.do(nginxRequest("locked", testPassword, "smtp", "1"))
	if got := w.Header().Get("Auth-Status"); got != "Account locked" || w.Header().Get("Auth-Error-Code") != "535 5.7.8" {
		t.Errorf("locked: %v", w.Header())
	}

	// Header endpoint: Lua attributes are added, passdb ones kept.
	r := headerRequest("user", testPassword, "imap")
	w = env.do(r)
	if w.Header().Get("X-Nauthilus-Routed_by") != "lua" || w.Header().Get("X-Nauthilus-Authenticated") != "true" {
		t.Errorf("header attributes: %v", w.Header())
	}
	// Failed password: filters run unauthenticated, the answer is a failure.
	w = env.do(nginxRequest("user", "wrong-password", "imap", "1"))
	if w.Header().Get("Auth-Status") != config.DefaultFailureMessage {
		t.Errorf("wrong password: %v", w.Header())
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "filter_results=route_by_suffix:ok") || !strings.Contains(logs, "lua_route_user=user+b") {
		t.Errorf("log lacks filter results:\n%s", logs)
	}
}

func TestLuaFilterErrorIsTempfail(t *testing.T) {
	env := newLuaEnv(t, nil, "broken_filter.lua")
	w := env.do(nginxRequest(testUser, testPassword, "smtp", "1"))
	if w.Header().Get("Auth-Status") != config.DefaultTempfailMessage || w.Header().Get("Auth-Error-Code") != "451 4.3.0" {
		t.Errorf("lua error: %v", w.Header())
	}
	if !strings.Contains(env.logs.String(), "outcome=tempfail") {
		t.Errorf("log:\n%s", env.logs.String())
	}
}

func TestLuaPassdb(t *testing.T) {
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/passdb.lua"})
	})
	w := env.do(jsonRequestFor("POST", `{"username":"luauser","password":"lua-pass","protocol":"imap"}`))
	want := `{"ok":true,"account_field":"uid","totp_secret_field":"","backend":3,"attributes":{"Proxy-Host":["127.0.0.1"],"Proxy-Port":["1143"],"mailhost":["10.1.1.1"],"uid":["luauser@example.org"]}}`
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("lua passdb: %d %s", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Auth-User"); got != "luauser@example.org" {
		t.Errorf("Auth-User %q", got)
	}
	if w := env.do(jsonRequestFor("POST", `{"username":"luauser","password":"nope"}`)); w.Code != 403 {
		t.Errorf("wrong lua password: %d", w.Code)
	}
	if w := env.do(jsonRequestFor("POST", `{"username":"failing","password":"x"}`)); w.Code != 500 {
		t.Errorf("failing backend: %d", w.Code)
	}
	// The passwd-file comes first and still answers for alice.
	if w := env.do(jsonRequestFor("POST", `{"username":"alice","password":"`+testPassword+`"}`)); w.Code != 200 {
		t.Errorf("alice: %d", w.Code)
	}
}

// BACKEND_RESULT_ERROR is a failed login, never a tempfail and never a
// success: Nauthilus reads the undefined constant as 0 and lets the result
// object decide, and its proxy_backend.lua returns it for the upstream's
// wrong-password answer.
func TestLuaPassdbBackendResultError(t *testing.T) {
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb = append(c.Auth.Passdb,
			config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/passdb_error.lua"},
			config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/passdb.lua"})
	})
	if w := env.do(jsonRequestFor("POST", `{"username":"proxied","password":"proxy-pass"}`)); w.Code != 200 {
		t.Errorf("proxied: %d", w.Code)
	}
	if w := env.do(jsonRequestFor("POST", `{"username":"proxied","password":"nope"}`)); w.Code != 403 {
		t.Errorf("refused by the upstream: %d", w.Code)
	}
	// user_found=false passes to the next database, which knows luauser.
	if w := env.do(jsonRequestFor("POST", `{"username":"luauser","password":"lua-pass"}`)); w.Code != 200 {
		t.Errorf("next database: %d", w.Code)
	}
	if w := env.do(jsonRequestFor("POST", `{"username":"claims","password":"x"}`)); w.Code != 403 {
		t.Errorf("ERROR claiming a login: %d", w.Code)
	}
	if w := env.do(jsonRequestFor("POST", `{"username":"failing","password":"x"}`)); w.Code != 500 {
		t.Errorf("BACKEND_RESULT_FAIL: %d", w.Code)
	}
	if !strings.Contains(env.logs.String(), "returned BACKEND_RESULT_FAIL, not BACKEND_RESULT_OK") {
		t.Errorf("log:\n%s", env.logs.String())
	}
}

func TestLuaPassdbNeedsEngine(t *testing.T) {
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbLua, ScriptPath: "testdata/passdb.lua"}}
	if _, err := New(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "auth.passdb[0]: type lua needs the Lua engine") {
		t.Errorf("err = %v", err)
	}
}

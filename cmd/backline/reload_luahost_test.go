package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/lua"
)

// bigCacheFilter stores 100 KB in nauthilus_cache, which a cache bounded
// at 64 KiB refuses (the run fails), and then picks port 1143.
const bigCacheFilter = `
local nauthilus_backend = require("nauthilus_backend")
local cache = require("nauthilus_cache")
function nauthilus_call_filter(request)
  cache.cache_set("big", string.rep("x", 100000), 0)
  if request.authenticated then
    nauthilus_backend.select_backend_server("127.0.0.1", 1143)
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// The Lua host outlives reloads, and a reload's settings for it
// (cache_max_memory, max_memory for the Redis reply guard,
// password_hash_workers) apply only once the reload can no longer fail:
// one that fails after its Lua engine was built (here a passwd-file that
// validation read whole and the auth handler, built after the Lua engine,
// refuses: the file changed in between) leaves the running
// configuration's settings.
func TestFailedReloadKeepsLuaHostSettings(t *testing.T) {
	host := lua.NewHost()
	before := fileVersion{filterPort: 1143, origin: "a", luaSource: bigCacheFilter,
		luaConfig: "password_hash_workers: 3\ncache_max_memory: 1MiB\nmax_memory: 16MiB"}
	f := startReloadFixtureHost(t, before, host)
	check := func(when, workers string, replyLimit int64, cacheFits bool) {
		t.Helper()
		if got := f.metric("backline_lua_password_hash_workers"); got != workers {
			t.Errorf("%s: backline_lua_password_hash_workers = %s, want %s", when, got, workers)
		}
		if got := host.RedisReplyGuard().Limit(); got != replyLimit {
			t.Errorf("%s: Redis reply guard limit %d, want %d", when, got, replyLimit)
		}
		port, err := f.nginxPort()
		if fits := err == nil && port == "1143"; fits != cacheFits {
			t.Errorf("%s: a 100 KB cache value stored: %v (%q, %v), want %v", when, fits, port, err, cacheFits)
		}
	}
	check("at start", "3", 16<<20, true)

	users := filepath.Join(f.dir, "users")
	good, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	after := before
	after.luaConfig = "password_hash_workers: 5\ncache_max_memory: 64KiB\nmax_memory: 32MiB"
	f.write(after)
	// Validation reads the passwd-file with the auth handler's parser, so
	// the file goes bad only once the gateway is built: a user listed
	// twice, which the auth handler, built after the Lua engine, refuses.
	edited := false
	breakUsers := func() {
		edited = true
		if err := os.WriteFile(users, append(good, good...), 0o600); err != nil {
			t.Error(err)
		}
	}
	f.gatewayBuilt.Store(&breakUsers)
	status, a := f.reload()
	f.gatewayBuilt.Store(nil)
	if err := os.WriteFile(users, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if !edited || status != 422 || !strings.Contains(strings.Join(a.Errors, "\n"), "listed twice") {
		t.Fatalf("reload with a passwd-file broken after the gateway was built: %v %d %+v", edited, status, a)
	}
	check("after the failed reload", "3", 16<<20, true)

	if status, a := f.reload(); status != 200 || a.Status != "ok" {
		t.Fatalf("reload: %d %+v\n%s", status, a, f.logs.String())
	}
	check("after the reload", "5", 32<<20, false)
}

package main

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/backline/backline/internal/config"
)

// A filter using nauthilus_prometheus, nauthilus_cache and
// nauthilus_context; %d is the port it selects.
const metricsFilter = `
local nauthilus_backend = require("nauthilus_backend")
local prom = require("nauthilus_prometheus")
local cache = require("nauthilus_cache")
local ctx = require("nauthilus_context")

function nauthilus_call_filter(request)
  prom.create_counter_vec("lua_script_logins_total", "Logins seen by the filter", { "service" })
  prom.create_gauge_vec("lua_script_cached_logins", "Logins counted in nauthilus_cache", {})
  prom.create_histogram_vec("lua_script_step_seconds", "Filter step time", { "step" })
  local timer = prom.start_histogram_timer("lua_script_step_seconds", { step = "pick" })
  prom.increment_counter("lua_script_logins_total", { service = request.protocol })
  local n = cache.cache_update("logins", function(old) return (old or 0) + 1 end)
  prom.set_gauge("lua_script_cached_logins", n, {})
  ctx.context_set("picked", %d)
  if request.authenticated then
    nauthilus_backend.select_backend_server("127.0.0.1", ctx.context_get("picked"))
  end
  prom.stop_timer(timer)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// Script-defined metrics appear on backline's /metrics without a prefix,
// and they (like the cache) survive a reload that runs the same creates.
func TestLuaScriptMetricsOnMetricsEndpointSurviveReload(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a", luaSource: fmt.Sprintf(metricsFilter, 1143)})
	f.want("origin-a", "1143")
	if got := f.metric(`lua_script_logins_total{service="imap"}`); got != "1" {
		t.Fatalf("lua_script_logins_total = %s, want 1", got)
	}
	if got := f.metric(`lua_script_cached_logins`); got != "1" {
		t.Errorf("lua_script_cached_logins = %s, want 1", got)
	}
	if got := f.metric(`lua_script_step_seconds_count{step="pick"}`); got != "1" {
		t.Errorf("histogram count = %s, want 1", got)
	}

	f.write(fileVersion{filterPort: 2143, origin: "b", luaSource: fmt.Sprintf(metricsFilter, 2143)})
	if status, a := f.reload(); status != 200 || a.Status != "ok" {
		t.Fatalf("reload: %d %+v\n%s", status, a, f.logs.String())
	}
	f.want("origin-b", "2143")
	if got := f.metric(`lua_script_logins_total{service="imap"}`); got != "2" {
		t.Errorf("after reload lua_script_logins_total = %s, want 2", got)
	}
	if got := f.metric(`lua_script_cached_logins`); got != "2" {
		t.Errorf("after reload the cache restarted: lua_script_cached_logins = %s, want 2", got)
	}
	if got := f.metric(`backline_lua_metric_series_dropped_total{metric="lua_script_logins_total"}`); got != "missing" {
		t.Errorf("dropped series counted: %s", got)
	}
}

// TestReloadAppliesPasswordHashWorkers: the hash workers live in the Lua
// host, which outlives reloads; a reload sets their number, and removing
// the key goes back to the default.
func TestReloadAppliesPasswordHashWorkers(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a", luaConfig: "password_hash_workers: 3"})
	if got := f.metric("backline_lua_password_hash_workers"); got != "3" {
		t.Fatalf("backline_lua_password_hash_workers = %s, want 3", got)
	}
	for _, c := range []struct{ luaConfig, want string }{
		{"password_hash_workers: 5", "5"},
		{"", strconv.Itoa(config.DefaultLuaPasswordHashWorkers())},
	} {
		f.write(fileVersion{filterPort: 1143, origin: "a", luaConfig: c.luaConfig})
		if status, a := f.reload(); status != 200 || a.Status != "ok" {
			t.Fatalf("reload: %d %+v\n%s", status, a, f.logs.String())
		}
		if got := f.metric("backline_lua_password_hash_workers"); got != c.want {
			t.Errorf("after a reload to %q: %s workers, want %s", c.luaConfig, got, c.want)
		}
	}
}

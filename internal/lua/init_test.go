package lua

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
)

// initEngine builds an engine on host with the init scripts and filters
// given (init_script_path is the first init script, when any).
func initEngine(t *testing.T, host *Host, timeout time.Duration, inits []string, filters ...config.LuaFilter) (*Engine, *syncBuffer) {
	t.Helper()
	cfg := config.LuaConfig{ScriptTimeout: timeout, VMPoolSize: 2}
	if len(inits) > 0 {
		cfg.InitScriptPath, cfg.InitScriptPaths = inits[0], inits[1:]
	}
	logs := &syncBuffer{}
	e, err := NewEngine(Options{Config: config.Lua{Filters: filters, Config: cfg}, Host: host, Logger: newTestLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, logs
}

// An init script creates the metric and registers the pool; the filters
// that run afterwards use both. It sees the init bindings: no request,
// no response, no backend, a logging table; its context is thrown away.
func TestInitScriptSetsUpMetricsAndPools(t *testing.T) {
	storage, poolRedis := miniredis.RunT(t), miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: storage.Addr()})
	t.Cleanup(func() { client.Close() })
	reg := prometheus.NewRegistry()
	host := NewHost()
	host.Registerer = reg
	host.SetRedis(client, defaultStorage(storage.Addr()), []string{poolRedis.Addr()})
	t.Cleanup(host.CloseRedisPools)

	init := writeScript(t, "init.lua", `local prom = require("nauthilus_prometheus")
local redis = require("nauthilus_redis")
function nauthilus_run_hook(logging)
  assert(logging.log_level == "info" and logging.log_format == "default", "logging table")
  assert(nauthilus_http_request.get_http_method == nil, "http_request is a placeholder")
  assert(nauthilus_http_response.set_http_status == nil, "http_response is a placeholder")
  assert(nauthilus_backend.get_backend_servers == nil, "backend is a placeholder")
  nauthilus_context.context_set("from_init", "x")
  prom.create_counter_vec("init_test_logins_total", "Logins", {"service"})
  local ok, err = redis.register_redis_pool("sessions", "standalone", {address = "`+poolRedis.Addr()+`"})
  assert(ok == "OK", tostring(err))
  return {level = "info", caller = "init.lua", pools = 1}
end`, 0)
	f := filter(t, "counts", `local prom = require("nauthilus_prometheus")
local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  assert(nauthilus_context.context_get("from_init") == nil, "init context leaked")
  prom.increment_counter("init_test_logins_total", {service = "imap"})
  local conn = redis.get_redis_connection("sessions")
  local ok, err = redis.redis_set(conn, "seen", request.username)
  assert(ok == "OK", tostring(err))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`)
	e, logs := initEngine(t, host, time.Minute, []string{init}, f)
	if failed := e.RunInitScripts(context.Background()); failed != 0 {
		t.Fatalf("%d init scripts failed: %s", failed, logs)
	}
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, series := gathered(t, reg, "init_test_logins_total")
	if v := series["service=imap"].GetCounter().GetValue(); v != 1 {
		t.Errorf("counter = %v, want 1; logs: %s", v, logs)
	}
	if got, _ := poolRedis.Get("seen"); got != "alice" {
		t.Errorf("the pool's Redis has seen = %q", got)
	}
	if storage.Exists("seen") {
		t.Error("the filter wrote to storage.redis, not to the init script's pool")
	}
	text := logs.String()
	for _, want := range []string{`msg="Lua init script ran"`, "result.caller=init.lua", "result.pools=1"} {
		if !strings.Contains(text, want) {
			t.Errorf("logs lack %s: %s", want, text)
		}
	}
	if strings.Contains(text, "unknown metric") {
		t.Errorf("logs: %s", text)
	}
}

// A failing init script (an error, no nauthilus_run_hook, a syntax error
// at run time through load) is logged once at ERROR with its path and
// reason; the others still run and so do the filters.
func TestInitScriptFailuresDoNotStopOthers(t *testing.T) {
	raises := writeScript(t, "raises.lua", `function nauthilus_run_hook(logging) error("boom-init") end`, 0)
	noHook := writeScript(t, "nohook.lua", `local x = 1`, 0)
	topLevel := writeScript(t, "toplevel.lua", `error("top-level-fails")`, 0)
	memory := writeScript(t, "memory.lua", `function nauthilus_run_hook(logging) return string.rep("x", 1e10) end`, 0)
	// A hostile result: a huge key and value, more fields than are logged.
	good := writeScript(t, "good.lua", `function nauthilus_run_hook(logging)
  local r = {caller = "good.lua", [string.rep("k", 100000)] = string.rep("v", 100000)}
  for i = 1, 1000 do r["f" .. i] = i end
  return r
end`, 0)
	e, logs := initEngine(t, NewHost(), time.Minute, []string{raises, noHook, topLevel, memory, good}, filter(t, "f", "function nauthilus_call_filter(request) "+acceptReturn+" end"))
	if failed := e.RunInitScripts(context.Background()); failed != 4 {
		t.Errorf("failed = %d, want 4", failed)
	}
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatalf("filter after failed init scripts: %v", err)
	}
	text := logs.String()
	if n := strings.Count(text, `level=ERROR msg="Lua init script failed"`); n != 4 {
		t.Errorf("%d ERROR lines, want 4: %s", n, text)
	}
	ranLine := text[strings.Index(text, `msg="Lua init script ran"`):]
	ranLine = ranLine[:strings.IndexByte(ranLine, '\n')]
	if !strings.Contains(ranLine, "result.caller=good.lua") || strings.Count(ranLine, " result.") != maxInitResultFields ||
		strings.Contains(ranLine, strings.Repeat("k", 33)) {
		t.Errorf("the result's fields were not capped: %s", ranLine)
	}
	if len(text) > 64<<10 {
		t.Errorf("%d bytes of log for five init scripts", len(text))
	}
	for _, want := range []string{"path=" + raises, "boom-init", "path=" + noHook, "entry function 'nauthilus_run_hook' is not defined",
		"top-level-fails", "path=" + memory, "memory budget exceeded", `msg="Lua init script ran" script=` + good} {
		if !strings.Contains(text, want) {
			t.Errorf("logs lack %q: %s", want, text)
		}
	}
}

// An init script that never ends is stopped at lua.config.script_timeout.
func TestInitScriptTimeout(t *testing.T) {
	loops := writeScript(t, "loops.lua", `function nauthilus_run_hook(logging) while true do end end`, 0)
	e, logs := initEngine(t, NewHost(), 100*time.Millisecond, []string{loops})
	if failed := e.RunInitScripts(context.Background()); failed != 1 {
		t.Fatalf("failed = %d", failed)
	}
	if text := logs.String(); !strings.Contains(text, `msg="Lua init script failed"`) || !strings.Contains(text, "timed out after 100ms") {
		t.Errorf("logs: %s", text)
	}
	if s := e.Stats(); s.Timeouts != 1 {
		t.Errorf("timeouts = %d", s.Timeouts)
	}
}

// backline check refuses an init script that does not compile, naming the
// key; NewEngine does too.
func TestCompileScriptsInitScripts(t *testing.T) {
	good := writeScript(t, "good.lua", `function nauthilus_run_hook(logging) end`, 0)
	bad := writeScript(t, "bad.lua", "function nauthilus_run_hook(\n", 0)
	cfg := &config.Config{}
	cfg.Lua.Config.InitScriptPath = good
	cfg.Lua.Config.InitScriptPaths = []string{good, bad}
	err := CompileScripts(cfg)
	if err == nil || !strings.Contains(err.Error(), "lua.config.init_script_paths[1]: "+bad) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "init_script_path:") || strings.Contains(err.Error(), "init_script_paths[0]") {
		t.Errorf("a good script was refused: %v", err)
	}
	_, err = NewEngine(Options{Config: config.Lua{Config: cfg.Lua.Config}})
	if err == nil || !strings.Contains(err.Error(), "lua.config.init_script_paths[1]") {
		t.Errorf("NewEngine: err = %v", err)
	}
}

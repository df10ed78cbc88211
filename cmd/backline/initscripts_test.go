package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// promFilter counts logins in a vector only the init script creates.
const promFilter = `
local prom = require("nauthilus_prometheus")
local nauthilus_backend = require("nauthilus_backend")
function nauthilus_call_filter(request)
  prom.increment_counter("init_logins_total", {service = "imap"})
  if request.authenticated then
    nauthilus_backend.select_backend_server("127.0.0.1", 1143)
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// The daemon runs its init scripts once, before it serves: a failing one
// is logged and the others and the filters run. A reload does not run
// them again and refuses a change of their paths.
func TestDaemonRunsInitScriptsOnce(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	failing := write("failing.lua", `function nauthilus_run_hook(logging) error("init-went-wrong") end`)
	good := write("metrics.lua", `local prom = require("nauthilus_prometheus")
function nauthilus_run_hook(logging)
  prom.create_counter_vec("init_logins_total", "Logins", {"service"})
  return {level = "info", caller = "metrics.lua"}
end`)
	v := fileVersion{luaSource: promFilter, luaConfig: "init_script_path: " + failing + "\ninit_script_paths: [" + good + "]"}
	f := startReloadFixture(t, v)
	logs := f.logs.String()
	ran, started := strings.Index(logs, `msg="Lua init script ran" script=`+good), strings.Index(logs, `msg="backline started"`)
	if ran < 0 || started < 0 || ran > started {
		t.Errorf("the init script did not run before the daemon started serving:\n%s", logs)
	}
	if !strings.Contains(logs, `level=ERROR msg="Lua init script failed" script=`+failing) || !strings.Contains(logs, "init-went-wrong") {
		t.Errorf("the failing init script was not logged:\n%s", logs)
	}
	if port, err := f.nginxPort(); err != nil || port != "1143" {
		t.Fatalf("login after the init scripts: %q %v", port, err)
	}
	if got := f.metric(`init_logins_total{service="imap"}`); got != "1" {
		t.Errorf("init_logins_total = %s\n%s", got, f.logs.String())
	}

	if status, a := f.reload(); status != 200 || a.Status != "ok" {
		t.Fatalf("reload: %d %+v", status, a)
	}
	if n := strings.Count(f.logs.String(), `msg="Lua init script ran"`); n != 1 {
		t.Errorf("init scripts ran %d times, want once (not on reload)", n)
	}
	if got := f.metric(`init_logins_total{service="imap"}`); got != "1" {
		t.Errorf("after the reload init_logins_total = %s", got)
	}
	if port, err := f.nginxPort(); err != nil || port != "1143" {
		t.Fatalf("login after the reload: %q %v", port, err)
	}
	if got := f.metric(`init_logins_total{service="imap"}`); got != "2" {
		t.Errorf("the reload's filter did not count: init_logins_total = %s", got)
	}

	changed := v
	changed.luaConfig = "init_script_path: " + good
	f.write(changed)
	status, a := f.reload()
	text := strings.Join(a.Errors, "\n")
	if status != 422 || !strings.Contains(text, "lua.config.init_script_path (line") ||
		!strings.Contains(text, "lua.config.init_script_paths (line") || !strings.Contains(text, "restart backline") {
		t.Errorf("reload with changed init scripts: %d %+v", status, a)
	}
}

// lua test --init runs init scripts before the filter, in order; a
// failing one is logged and the filter still runs, as in serve.
func TestLuaTestInitScripts(t *testing.T) {
	first := writeFile(t, "first.lua", `local prom = require("nauthilus_prometheus")
function nauthilus_run_hook(logging)
  prom.create_counter_vec("lua_test_init_total", "Runs", {})
  return {caller = "first.lua"}
end`)
	failing := writeFile(t, "failing.lua", `function nauthilus_run_hook(logging) error("second-fails") end`)
	script := writeFile(t, "f.lua", `local prom = require("nauthilus_prometheus")
function nauthilus_call_filter(request)
  prom.increment_counter("lua_test_init_total", {})
  nauthilus_builtin.custom_log_add("filter", "ran")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`)
	code, stdout, stderr := backline(t, "lua", "test", "--init", first, "--init", failing, "--script", script)
	if code != exitOK || !strings.Contains(stdout, "log: filter=ran") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	ran, failed := strings.Index(stdout, `msg="Lua init script ran" script=`+first), strings.Index(stdout, `msg="Lua init script failed" script=`+failing)
	if ran < 0 || failed < ran || !strings.Contains(stdout, "second-fails") || strings.Contains(stdout, "unknown metric") {
		t.Errorf("stdout %q", stdout)
	}
}

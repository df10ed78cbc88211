package lua

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func TestBuiltinAndUtilFunctions(t *testing.T) {
	t.Setenv("BACKLINE_LUA_TEST_ENV", "from-env")
	src := `
local util = require("nauthilus_util")
local json = require("nauthilus_json")
function nauthilus_call_filter(request)
  local log = nauthilus_builtin.custom_log_add
  log("const", table.concat({tostring(nauthilus_builtin.FILTER_ACCEPT), tostring(nauthilus_builtin.FILTER_REJECT),
    nauthilus_builtin.FILTER_RESULT_OK, nauthilus_builtin.FILTER_RESULT_FAIL,
    nauthilus_builtin.BACKEND_RESULT_OK, nauthilus_builtin.BACKEND_RESULT_FAIL}, ","))
  log("bool", true)
  log("num", 42)
  log("tbl", {1})
  log("env", util.getenv("BACKLINE_LUA_TEST_ENV", "x") .. "/" .. util.getenv("BACKLINE_LUA_TEST_UNSET", "dflt"))
  log("exists", util.exists_in_table({"a", "b"}, "b") and not util.exists_in_table({"a"}, "z"))
  log("len", util.table_length({a = 1, b = 2, 3}))
  log("types", util.is_table({}) and util.is_string("s") and util.is_number(1) and not util.is_string(1))
  log("bools", util.toboolean("yes") and util.toboolean("1") and not util.toboolean("no") and not util.toboolean(nil))
  log("ts", #util.get_current_timestamp() > 0)
  log("rnd", #util.generate_random_string(12))
  log("routable", tostring(util.is_routable_ip("8.8.8.8")) .. tostring(util.is_routable_ip("10.1.1.1")))
  log("redis", util.get_redis_key(request, "k"))
  local ok, err = pcall(util.if_error_raise, "bad thing")
  log("raise", tostring(ok) .. " " .. tostring(err):match("bad thing"))
  util.if_error_raise(nil)
  local enc = json.encode({b = 1, a = {"x", "y"}, c = {}, d = {k = true}})
  log("json", enc)
  local dec = json.decode('{"list":[1,2],"s":"v","n":null}')
  log("decoded", dec.s .. #dec.list .. tostring(dec.n))
  local _, jerr = json.decode("{broken")
  log("jerr", jerr ~= nil)
  log("os", tostring(os.execute) .. tostring(os.exit) .. tostring(io) .. type(os.time()))
  nauthilus_builtin.status_message_set("Go away")
  util.log_info(request, {caller = "test", detail = 1})
  util.log_error("plain string")
  return false, 0
end`
	out, err, logs := runOne(t, src, engineSetup{cfg: config.LuaConfig{Environment: []string{"BACKLINE_LUA_TEST_ENV"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogField{
		{"const", "false,true,0,1,0,1"},
		{"bool", true},
		{"num", float64(42)},
		{"tbl", "UNSUPPORTED"},
		{"env", "from-env/dflt"},
		{"exists", true},
		{"len", float64(3)},
		{"types", true},
		{"bools", true},
		{"ts", true},
		{"rnd", float64(12)},
		{"routable", "truefalse"},
		{"redis", "k"},
		{"raise", "false bad thing"},
		{"json", `{"a":["x","y"],"b":1,"c":{},"d":{"k":true}}`},
		{"decoded", "v2nil"},
		{"jerr", true},
		{"os", "nilnilnilnumber"},
	}
	if diff := cmp.Diff(want, out.Logs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if out.StatusMessage != "Go away" {
		t.Errorf("status = %q", out.StatusMessage)
	}
	for _, line := range []string{`level=INFO msg="Lua script log" script=f caller=test detail=1`, `level=ERROR msg="plain string" script=f`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
}

func TestPackagePathModules(t *testing.T) {
	dir := t.TempDir()
	writeScriptAt(t, dir, "mymod.lua", `local M = {} function M.pick() return "picked" end return M`)
	src := `
local mymod = require("mymod")
function nauthilus_call_filter(r) nauthilus_builtin.custom_log_add("m", mymod.pick()) return false, 0 end`
	out, err, _ := runOne(t, src, engineSetup{cfg: configWithPackagePath(dir + "/?.lua")})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "m"); v != "picked" {
		t.Errorf("m = %v", v)
	}
}

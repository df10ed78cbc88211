package lua

import (
	"context"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// isolationScript runs ATTACK (inside pcall, so the run ends cleanly and the
// state goes back to the pool) for user "attack", and for anybody else checks
// that the shared globals, libraries and metatables are as they were.
const isolationScript = `
local original_path = package.path
function nauthilus_call_filter(request)
  if request.username == "attack" then
    local server = nauthilus_backend_result.new()
    local ok, err = pcall(function()
      ATTACK
    end)
    nauthilus_builtin.custom_log_add("attack", tostring(err))
    return false, 0
  end
  -- A table, not a string upvalue: gopher-lua loses writes to an upvalue
  -- made after a nested pcall caught an error.
  local bad = {}
  local function try(name, f)
    local ok, res = pcall(f)
    if not ok or res ~= true then bad[#bad + 1] = name .. "(" .. tostring(res) .. ")" end
  end
  try("global", function() return pwned == nil and rawget(_G, "pwned") == nil end)
  try("getfenv0", function() return getfenv(0).pwned == nil end)
  try("getfenv_print", function() return getfenv(print).pwned == nil end)
  try("getfenv_shared", function() return getfenv(coroutine.wrap).pwned == nil end)
  try("require_G", function() local g = require("_G") return g.pwned == nil end)
  try("string.rep", function() return string.rep("ab", 2) == "abab" end)
  try("string.upper", function() return string.upper("a") == "A" end)
  try("string.format", function() return string.format("%d-%s", 1, "x") == "1-x" end)
  try("method", function() local u, r = ("x"):upper(), ("ab"):rep(2) return u == "X" and r == "abab" end)
  try("string.pwned", function() return string.pwned == nil and ("x").pwned == nil end)
  try("string[1]", function() return string[1] == nil end)
  try("string_mt", function() local mt = getmetatable("") return mt == nil or mt.__index == nil or mt.__index.rep("a", 2) == "aa" end)
  try("number_mt", function() return getmetatable(1) == nil and getmetatable(print) == nil end)
  try("table", function() return table.concat({"a", "b"}, ",") == "a,b" end)
  try("math", function() return math.floor(1.5) == 1 end)
  try("os", function() return type(os.time()) == "number" end)
  try("coroutine", function() return coroutine.wrap(function() return 7 end)() == 7 end)
  try("pairs", function() local n = 0 for _ in pairs({a = 1, b = 2}) do n = n + 1 end return n == 2 end)
  try("tostring", function() return tostring(12) == "12" and type(print) == "function" end)
  try("util", function() local nu = require("nauthilus_util") return nu.pwned == nil and type(nu.log_info) == "function" end)
  try("loaded", function() return package.loaded.pwned == nil and package.loaded.string.pwned == nil end)
  try("preload", function() return package.preload.pwned == nil and not pcall(require, "pwned") end)
  try("path", function() return package.path == original_path end)
  try("result", function() local r = nauthilus_backend_result.new() r:authenticated(true) local v = r:authenticated() return v == true end)
  try("debug", function() return debug == nil end)
  local text = ""
  for i = 1, #bad do text = text .. bad[i] .. " " end
  nauthilus_builtin.status_message_set(text)
  return false, 0
end`

// TestSharedGlobalsAreNotReachable: a run must not be able to change what a
// later run on the same pooled state sees, whichever path it takes to the
// shared globals, library tables or metatables.
func TestSharedGlobalsAreNotReachable(t *testing.T) {
	cases := []struct{ name, attack string }{
		{"getfenv of a native", `getfenv(print).pwned = true`},
		{"getfenv 0", `getfenv(0).pwned = true`},
		{"getfenv levels", `for i = 1, 5 do pcall(function() getfenv(i).pwned = true end) end`},
		{"getfenv no argument", `getfenv().pwned = true`},
		{"getfenv of a module function", `getfenv(nauthilus_util.log_info).pwned = true`},
		{"getfenv of a shared Lua function", `getfenv(coroutine.wrap).pwned = true`},
		{"getfenv inside a coroutine", `coroutine.wrap(function() getfenv(0).pwned = true end)()`},
		{"env metatable", `getmetatable(_G).__index.pwned = true`},
		{"env metatable replaced", `getmetatable(_G).__index = {pwned = true}`},
		{"require _G", `require("_G").pwned = true`},
		{"package.loaded._G", `package.loaded._G.pwned = true`},
		{"library write", `string.upper = function() return "pwned" end`},
		{"library field", `string.pwned = true`},
		{"library writes everywhere", `pcall(function() table.concat = nil end) pcall(function() math.floor = nil end)
      pcall(function() os.time = nil end) pcall(function() coroutine.wrap = nil end) string.format = nil`},
		{"string.rep through the string metatable", `getmetatable("").__index.rep = function() return "pwned" end`},
		{"string metatable __index", `getmetatable("").__index = {}`},
		{"setmetatable on a string", `setmetatable("", {__index = {}})`},
		{"setmetatable on a number", `setmetatable(1, {__index = function() return "pwned" end})`},
		{"setmetatable on a function", `setmetatable(print, {__index = {}})`},
		{"package.loaded library", `package.loaded.string.pwned = true`},
		{"require library", `require("string").rep = function() return "pwned" end`},
		{"package.loaded entry", `package.loaded.pwned = {}`},
		{"package.preload", `package.preload.pwned = function() return {} end`},
		{"package.loaders", `package.loaders[1] = function() return function() return {} end end`},
		{"package.path", `package.path = "/tmp/?.lua"`},
		{"rawset on a library", `rawset(string, "pwned", true)`},
		{"rawset replaces a library function", `rawset(string, "rep", function() return "pwned" end)`},
		{"rawset on a module proxy", `rawset(nauthilus_util, "pwned", true)`},
		{"table.insert into a library", `table.insert(string, "pwned")`},
		{"pairs hands out the table", `local _, t = pairs(string) t.pwned = true`},
		{"next over a library", `for k, v in next, package do if type(v) == "table" then v.pwned = true end end`},
		{"setfenv 0", `setfenv(0, {pwned = true})`},
		{"setfenv of a shared Lua function", `setfenv(coroutine.wrap, {pwned = true})`},
		{"module()", `module("pwned")`},
		{"package.seeall", `local t = {} package.seeall(t) getmetatable(t).__index.pwned = true`},
		{"userdata metatable", `getmetatable(server).__index.authenticated = function() return "pwned" end`},
		{"newproxy metatable", `getmetatable(newproxy(server)).__index.authenticated = nil`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(isolationScript, "ATTACK", tc.attack, 1)
			e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)},
				cfg: config.LuaConfig{VMPoolSize: 1}})
			attack, err := e.RunFilters(context.Background(), &Request{Username: "attack"})
			if err != nil {
				t.Fatalf("attack run: %v\n%s", err, logs)
			}
			attackErr, _ := logValue(attack, "attack")
			t.Logf("the attack ended with %v", attackErr)
			first := e.pool.idle[0]
			out, err := e.RunFilters(context.Background(), &Request{Username: "check"})
			if err != nil {
				t.Fatalf("check run: %v\n%s", err, logs)
			}
			if e.pool.idle[0] != first {
				t.Fatal("the state was not reused")
			}
			if out.StatusMessage != "" {
				t.Errorf("leaked into the next run: %s (the attack: %v)", out.StatusMessage, attackErr)
			}
		})
	}
}

// TestSandboxKeepsWhatScriptsDo: the read-only proxies leave alone what
// filters do with globals, libraries, modules and their own tables.
func TestSandboxKeepsWhatScriptsDo(t *testing.T) {
	dir := t.TempDir()
	writeScriptAt(t, dir, "counter.lua", `local M = {} local n = 0
function M.inc() n = n + 1 return n end
module_global = "set by the module"
return M`)
	src := `
local nu = require("nauthilus_util")
my_global = "mine"
local function own() return 1 end
function nauthilus_call_filter(request)
  local bad = {}
  local function try(name, f)
    local ok, res = pcall(f)
    if not ok or res ~= true then bad[#bad + 1] = name .. "(" .. tostring(res) .. ")" end
  end
  try("own global", function() return my_global == "mine" and _G.my_global == "mine" end)
  try("util", function() return type(nu.log_info) == "function" and nu.is_table({}) end)
  try("format", function() return string.format("%s=%d", "a", 1) == "a=1" end)
  try("methods", function() local s = "abc" local u, c = s:upper(), s:sub(2, 2) return u == "ABC" and c == "b" end)
  try("pairs string", function() local n = 0 for k, v in pairs(string) do n = n + 1 end return n > 10 end)
  try("next string", function() return next(string) ~= nil end)
  try("ipairs loaders", function() local n = 0 for _, f in ipairs(package.loaders) do n = n + 1 end return n == 3 end)
  try("pairs package", function() local seen for k, v in pairs(package) do if k == "loaded" then seen = v end end
    return seen == package.loaded end)
  try("pairs own", function() local n = 0 for k, v in pairs({a = 1, 2}) do n = n + 1 end return n == 2 end)
  try("ipairs own", function() local n = 0 for i, v in ipairs({5, 6, 7}) do n = n + v end return n == 18 end)
  try("getfenv", function() return getfenv(own) == _G and getfenv(print) == _G and getfenv(0) == _G and getfenv(1) == _G end)
  try("setfenv own", function() local f = function() return x end setfenv(f, {x = 5}) return f() == 5 end)
  try("setmetatable own", function() local t = setmetatable({}, {__index = function() return 3 end}) return t.y == 3 end)
  try("rawset own", function() local t = {} rawset(t, "a", 1) table.insert(t, 2) table.sort(t) return t.a == 1 and t[1] == 2 end)
  try("string metatable", function() return getmetatable("").__index.upper("a") == "A" end)
  try("package.path", function() local p = package.path package.path = p .. ";" package.path = p return package.path == p end)
  try("module", function() local c = require("counter") return c.inc() == 1 and module_global == "set by the module" end)
  try("module cached", function() return require("counter") == package.loaded.counter end)
  try("module write", function() local c = require("counter") c.inc = nil return true end)
  local text = ""
  for i = 1, #bad do text = text .. bad[i] .. " " end
  nauthilus_builtin.status_message_set(text)
  return false, 0
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)},
		cfg: config.LuaConfig{VMPoolSize: 1, PackagePath: dir + "/?.lua"}})
	for i := range 3 {
		out, err := e.RunFilters(context.Background(), &Request{Username: "u"})
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, logs)
		}
		if out.StatusMessage != "" {
			t.Errorf("run %d: %s", i, out.StatusMessage)
		}
	}
}

package lua

import (
	"context"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// runOnOneState runs src once per request on an engine with a single
// state, so every run reuses the tables of the one before, and returns the
// custom_log_add values of each run.
func runOnOneState(t *testing.T, src string, reqs ...*Request) []*FilterOutcome {
	t.Helper()
	return runOnOneStateWith(t, src, StaticSource{}, reqs...)
}

func runOnOneStateWith(t *testing.T, src string, health StaticSource, reqs ...*Request) []*FilterOutcome {
	t.Helper()
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}, cfg: config.LuaConfig{VMPoolSize: 1}, health: health})
	var outs []*FilterOutcome
	var first *vm
	for i, req := range reqs {
		out, err := e.RunFilters(context.Background(), req)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if i == 0 {
			first = e.pool.idle[0]
		} else if e.pool.idle[0] != first {
			t.Fatal("the state was not reused; the test proves nothing")
		}
		outs = append(outs, out)
	}
	return outs
}

func wantLog(t *testing.T, run int, out *FilterOutcome, key string, want any) {
	t.Helper()
	if got, _ := logValue(out, key); got != want {
		t.Errorf("run %d: %s = %v, want %v", run, key, got, want)
	}
}

// TestReusedRequestTableHasNoStaleFields: fields of an earlier request,
// and fields a script added to it, are gone in the next run on the state.
func TestReusedRequestTableHasNoStaleFields(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  local n, stale = 0, {}
  for k, v in pairs(request) do
    n = n + 1
    if k == "added" or k == 1 or k == "client_port" or k == "ssl_cipher" then stale[#stale + 1] = tostring(k) end
  end
  nauthilus_builtin.custom_log_add("stale", table.concat(stale, ","))
  nauthilus_builtin.custom_log_add("client_port", request.client_port)
  nauthilus_builtin.custom_log_add("ssl_cipher", request.ssl_cipher)
  nauthilus_builtin.custom_log_add("log_level", request.logging.log_level)
  nauthilus_builtin.custom_log_add("user", request.username)
  request.added = "x"
  request.client_port = "9999"
  request.logging.log_level = "debug"
  request.logging.extra = true
  return false, 0
end`
	outs := runOnOneState(t, src,
		&Request{Username: "first", ClientPort: "1234", SSL: map[string]string{"ssl_cipher": "AES"}},
		&Request{Username: "second"},
		&Request{Username: "third"})
	wantLog(t, 0, outs[0], "client_port", "1234")
	wantLog(t, 0, outs[0], "ssl_cipher", "AES")
	wantLog(t, 0, outs[0], "stale", "client_port,ssl_cipher")
	for i := 1; i < len(outs); i++ {
		wantLog(t, i, outs[i], "stale", "")
		wantLog(t, i, outs[i], "client_port", "")
		wantLog(t, i, outs[i], "ssl_cipher", "")
		wantLog(t, i, outs[i], "log_level", "info")
	}
	wantLog(t, 2, outs[2], "user", "third")
}

// TestReusedEnvironmentForgetsEverything: globals, a replaced metatable of
// _G, setfenv of the main chunk and writes into the module proxies do not
// reach the next run on the state.
func TestReusedEnvironmentForgetsEverything(t *testing.T) {
	src := `
local setfenv, setmetatable, rawget, require, table, nauthilus_builtin, pcall = setfenv, setmetatable, rawget, require, table, nauthilus_builtin, pcall
local seen = {}
if marker ~= nil then seen[#seen + 1] = "marker" end
if rawget(_G, "via_G") ~= nil then seen[#seen + 1] = "via_G" end
if undefined_name ~= nil then seen[#seen + 1] = "metatable" end
if nauthilus_backend.added ~= nil then seen[#seen + 1] = "module" end
if nauthilus_builtin.added ~= nil then seen[#seen + 1] = "builtin" end
if json.added ~= nil then seen[#seen + 1] = "json" end
if require("nauthilus_util").added ~= nil then seen[#seen + 1] = "require" end
if fenv_marker ~= nil then seen[#seen + 1] = "fenv" end
if type(nauthilus_backend) ~= "table" or type(json) ~= "table" then seen[#seen + 1] = "module name" end
if type(_G) ~= "table" or rawget(_G, "marker") ~= marker then seen[#seen + 1] = "_G" end
local result = table.concat(seen, ",")

function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("seen", result)
  return false, 0
end

marker = true
_G.via_G = true
nauthilus_backend.added = true
nauthilus_builtin.added = true
json.added = true
require("nauthilus_util").added = true
pcall(setmetatable, _G, {__index = function() return "leaked" end})
nauthilus_backend, json, _G = "overwritten", nil, "overwritten"
setfenv(1, setmetatable({fenv_marker = true}, {__index = _G}))`
	outs := runOnOneState(t, src, &Request{}, &Request{}, &Request{})
	for i, out := range outs {
		wantLog(t, i, out, "seen", "")
	}
}

// TestReusedTableIsReplacedWhenItGrows: a script that keeps adding keys
// gets a fresh table now and then; one storing a numeric key at once.
func TestReusedTableIsReplacedWhenItGrows(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  if request.username == "numeric" then
    request[1] = true
    return false, 0
  end
  for i = 1, 1000 do request[request.username .. i] = true end
  return false, 0
end`
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}, cfg: config.LuaConfig{VMPoolSize: 1}})
	run := func(user string) *vm {
		if _, err := e.RunFilters(context.Background(), &Request{Username: user}); err != nil {
			t.Fatal(err)
		}
		return e.pool.idle[0]
	}
	v := run("a")
	first := v.requestTable.t
	replaced := false
	for i := range 6 {
		run(strings.Repeat("b", i+1))
		if v.requestTable.t != first {
			replaced = true
			break
		}
	}
	if !replaced {
		t.Fatalf("request table kept after %d keys were emptied from it", v.requestTable.cleared)
	}
	if v.requestTable.cleared > reuseMaxKeys {
		t.Fatalf("cleared count %d not reset with the fresh table", v.requestTable.cleared)
	}
	before := v.requestTable.t
	run("numeric")
	if v.requestTable.t == before {
		t.Fatal("a table that held a numeric key was reused")
	}
}

// TestReusedTableBoundsKeyBytes: a few huge keys also force a fresh table,
// so emptied keys cannot pin memory outside the run's budget.
func TestReusedTableBoundsKeyBytes(t *testing.T) {
	rt := newReusedTable(0)
	var s tableScratch
	first := rt.t
	rt.t.RawSetString(strings.Repeat("k", reuseMaxKeyBytes+1), glTrue)
	rt.reset(&s)
	if rt.t == first {
		t.Fatal("table that held a key larger than reuseMaxKeyBytes was reused")
	}
	rt.t.RawSetString("small", glTrue)
	kept := rt.t
	rt.reset(&s)
	if rt.t != kept {
		t.Fatal("small table was not reused")
	}
	if k, _ := rt.t.Next(glNil); k != glNil {
		t.Fatalf("reset table still holds %v", k)
	}
}

var (
	glTrue = glua.LTrue
	glNil  = glua.LValue(glua.LNil)
)

// TestCachedServerObjectsAreReset: get_backend_servers' objects are kept
// per snapshot, but a metatable a run set on one, or a change to the list,
// is gone in the next run.
func TestCachedServerObjectsAreReset(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  local servers = nauthilus_backend.get_backend_servers()
  nauthilus_builtin.custom_log_add("count", #servers)
  nauthilus_builtin.custom_log_add("host", tostring(servers[1].host))
  pcall(setmetatable, servers[1], {__index = function() return "tampered" end})
  table.remove(servers, 1)
  return false, 0
end`
	outs := runOnOneStateWith(t, src, tenTargets(), &Request{}, &Request{})
	for i, out := range outs {
		wantLog(t, i, out, "count", float64(10))
		wantLog(t, i, out, "host", "10.0.1.0")
	}
}

// TestSizerSkipsNilEnvironments: require leaves a userdata with a nil
// environment in package.loaded while a module loads; a measurement at
// that moment panicked and failed the run (seen under load in
// TestPackagePathModules).
func TestSizerSkipsNilEnvironments(t *testing.T) {
	tbl := (&glua.LState{}).CreateTable(0, 1)
	tbl.RawSetString("loading", &glua.LUserData{})
	if got := newSizer(1 << 20).measure(tbl); got <= 0 {
		t.Fatalf("size %d", got)
	}
}

// TestMainChunkBuildsNoArgTable: the main chunk no longer gets Lua 5.0's
// hidden arg table (it had no name for it: arg there is a global, nil);
// vararg functions inside keep their compat arg.
func TestMainChunkBuildsNoArgTable(t *testing.T) {
	src := `
local function count(...) return arg.n end
local main_arg = arg
function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("inner", count(1, 2, 3))
  nauthilus_builtin.custom_log_add("main", tostring(main_arg))
  return false, 0
end`
	outs := runOnOneState(t, src, &Request{}, &Request{})
	for i, out := range outs {
		wantLog(t, i, out, "inner", float64(3))
		wantLog(t, i, out, "main", "nil")
	}
}

// TestReusedBoxedFieldsFollowTheRequest: the state reuses a field's boxed
// value only while the text is the same; a changed (or emptied, or
// changed-back) value is what the script reads.
func TestReusedBoxedFieldsFollowTheRequest(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("user", tostring(request.username))
  nauthilus_builtin.custom_log_add("service", tostring(request.service))
  nauthilus_builtin.custom_log_add("level", tostring(request.log_level))
  return false, 0
end`
	reqs := []*Request{
		{Username: "first", Service: "nginx"},
		{Username: "first", Service: "nginx"},
		{Username: "second", Service: "header", LogLevel: "debug"},
		{Username: "", Service: "nginx"},
		{Username: "first", Service: "nginx"},
	}
	outs := runOnOneState(t, src, reqs...)
	want := [][3]string{
		{"first", "nginx", "info"}, {"first", "nginx", "info"}, {"second", "header", "debug"},
		{"", "nginx", "info"}, {"first", "nginx", "info"},
	}
	for i, w := range want {
		wantLog(t, i, outs[i], "user", w[0])
		wantLog(t, i, outs[i], "service", w[1])
		wantLog(t, i, outs[i], "level", w[2])
	}
}

// TestIpairsIndicesPastTheBoxedRange: ipairs hands out pre-boxed indices
// below 1024 and fresh ones above; both are ordinary numbers to a script.
func TestIpairsIndicesPastTheBoxedRange(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  local t = {}
  for i = 1, 1030 do t[i] = i * 2 end
  local sum, last, bad = 0, 0, 0
  for i, v in ipairs(t) do
    sum = sum + i
    if v ~= i * 2 or i ~= last + 1 or type(i) ~= "number" then bad = bad + 1 end
    last = i
  end
  nauthilus_builtin.custom_log_add("sum", sum)
  nauthilus_builtin.custom_log_add("bad", bad)
  nauthilus_builtin.custom_log_add("last", last)
  return false, 0
end`
	outs := runOnOneState(t, src, &Request{}, &Request{})
	for i, out := range outs {
		wantLog(t, i, out, "sum", float64(1030*1031/2))
		wantLog(t, i, out, "bad", float64(0))
		wantLog(t, i, out, "last", float64(1030))
	}
}

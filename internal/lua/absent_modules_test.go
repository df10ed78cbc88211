package lua

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// A Nauthilus module backline lacks fails require with the reason, a
// name nobody knows with only the places require looked, and a Lua file
// of an absent module's name on package_path is loaded as usual.
func TestRequireOfAnAbsentModuleSaysWhy(t *testing.T) {
	pkgDir := t.TempDir()
	writeScriptAt(t, pkgDir, "nauthilus_dns.lua", `return { from = "package_path" }`)
	dir := t.TempDir()
	src := `
local _, dbErr = pcall(require, "tcp")
local _, otherErr = pcall(require, "no_such_module")
local dns = require("nauthilus_dns")
function nauthilus_call_filter(r)
  nauthilus_builtin.status_message_set(dbErr .. "|" .. otherErr .. "|" .. dns.from)
  ` + acceptReturn + `
end`
	parts := runMainStatusParts(t, dir, src, pkgDir, 3)
	if want := "backline does not provide tcp: raw TCP connections"; !strings.Contains(parts[0], want) {
		t.Errorf("require(\"tcp\") error %q lacks %q", parts[0], want)
	}
	if strings.Contains(parts[1], "backline does not provide") || !strings.Contains(parts[1], "module no_such_module not found") {
		t.Errorf("require of an unknown name: %q", parts[1])
	}
	if parts[2] != "package_path" {
		t.Errorf("nauthilus_dns.lua on package_path gave %q", parts[2])
	}
}

// check warns about a script that requires an absent module by name,
// once per module, unless a file on package_path supplies it.
func TestAbsentModuleWarnings(t *testing.T) {
	pkgDir := t.TempDir()
	writeScriptAt(t, pkgDir, "nauthilus_dns.lua", `return {}`)
	dir := t.TempDir()
	writeScriptAt(t, dir, "backend.lua", `local tcp = require("tcp")
local again = require 'tcp'
local dns = require "nauthilus_dns"
local json = require("json")
local t = { tcp = "not a require" }
function nauthilus_backend_verify_password(request) end`)
	cfg := &config.Config{
		Lua: config.Lua{
			Filters: []config.LuaFilter{{Name: "ok", ScriptPath: filepath.Join(dir, "backend.lua")}},
			Config:  config.LuaConfig{PackagePath: pkgDir + "/?.lua", InitScriptPaths: []string{filepath.Join(dir, "backend.lua")}},
		},
	}
	got := AbsentModuleWarnings(cfg)
	if len(got) != 2 || !strings.HasPrefix(got[0], "lua.filters[0].script_path: the script requires tcp, which backline does not provide") ||
		!strings.HasPrefix(got[1], "lua.config.init_script_paths[0]: the script requires tcp") {
		t.Fatalf("warnings %q", got)
	}
}

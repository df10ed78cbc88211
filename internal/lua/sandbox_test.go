package lua

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// statusOf runs src (which must set a status message) and returns it.
func statusOf(t *testing.T, src string, s engineSetup) string {
	t.Helper()
	out, err, logs := runOne(t, src, s)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	return out.StatusMessage
}

// TestEnvironmentHiddenUnlessListed: os.getenv and nauthilus_util.getenv
// see only the variables listed in lua.config.environment.
func TestEnvironmentHiddenUnlessListed(t *testing.T) {
	t.Setenv("BACKLINE_TEST_HIDDEN", "hidden-value")
	t.Setenv("BACKLINE_TEST_LISTED", "listed-value")
	src := `function nauthilus_call_filter(r)
  local nu = require("nauthilus_util")
  nauthilus_builtin.status_message_set(tostring(os.getenv("BACKLINE_TEST_HIDDEN")) .. "|" ..
    tostring(nu.getenv("BACKLINE_TEST_HIDDEN")) .. "|" .. tostring(nu.getenv("BACKLINE_TEST_HIDDEN", "dflt")) .. "|" ..
    tostring(os.getenv("BACKLINE_TEST_LISTED")) .. "|" .. tostring(nu.getenv("BACKLINE_TEST_LISTED")) .. "|" ..
    tostring(os.getenv("PATH")))
  ` + acceptReturn + `
end`
	got := statusOf(t, src, engineSetup{cfg: config.LuaConfig{Environment: []string{"BACKLINE_TEST_LISTED"}}})
	if want := "nil|nil|dflt|listed-value|listed-value|nil"; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
}

// TestHealthCheckPasswordNotReadableThroughGetenv: a target password given
// as ${VAR} in the configuration cannot be read back by a filter.
func TestHealthCheckPasswordNotReadableThroughGetenv(t *testing.T) {
	const secret = "hc-Secret-4711"
	t.Setenv("BACKLINE_HC_PASSWORD", secret)
	dir := t.TempDir()
	script := filepath.Join(dir, "leak.lua")
	writeScriptAt(t, dir, "leak.lua", `function nauthilus_call_filter(r)
  local v = os.getenv("BACKLINE_HC_PASSWORD") or require("nauthilus_util").getenv("BACKLINE_HC_PASSWORD") or "none"
  nauthilus_builtin.status_message_set(v)
  `+acceptReturn+`
end`)
	cfgPath := filepath.Join(dir, "backline.yml")
	yml := `auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - protocol: imap
          host: 127.0.0.1
          port: 143
          deep_check: true
          tls_mode: implicit
          test_username: probe
          test_password: ${BACKLINE_HC_PASSWORD}
lua:
  filters:
    - name: leak
      script_path: ` + script + `
`
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Auth.Services.BackendHealthChecks.Targets[0].TestPassword; got != secret {
		t.Fatalf("config did not expand the password: %q", got)
	}
	e, err := NewEngine(Options{Config: cfg.Lua, Health: snapshotOf(mail(target("t", "127.0.0.1", 143), true))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusMessage != "none" || strings.Contains(out.StatusMessage, secret) {
		t.Errorf("status = %q", out.StatusMessage)
	}
}

// TestFileLoadingConfinedToScriptAndPackagePaths: loadfile, dofile and
// require reach only files under the filter's directory and package_path.
func TestFileLoadingConfinedToScriptAndPackagePaths(t *testing.T) {
	outside := t.TempDir()
	writeScriptAt(t, outside, "evil.lua", `return "outside"`)
	writeScriptAt(t, outside, "shadow", "root:$6$saltsalt$H4shH4shH4sh:19000:0:99999:7:::\n")
	pkgDir := t.TempDir()
	writeScriptAt(t, pkgDir, "helper.lua", `return { name = "helper" }`)
	outsideEvil := filepath.Join(outside, "evil.lua")
	outsideShadow := filepath.Join(outside, "shadow")

	dir := t.TempDir()
	writeScriptAt(t, dir, "sibling.lua", `return "sibling"`)
	src := `
local results = {}
local function add(s) results[#results + 1] = tostring(s) end
local f, err = loadfile("` + outsideEvil + `")
add(f); add(err)
local ok, derr = pcall(dofile, "` + outsideEvil + `")
add(ok); add(derr)
f, err = loadfile("` + outsideShadow + `")
add(f); add(err)
f, err = loadfile()
add(f); add(err)
add(package.loadlib)
add(#package.cpath)
package.path = "` + outside + `/?.lua;" .. package.path
ok, err = pcall(require, "evil")
add(ok); add(err)
add(require("helper").name)
add(dofile("` + filepath.Join(dir, "sibling.lua") + `"))
add(loadfile("` + filepath.Join(dir, "sibling.lua") + `")())
function nauthilus_call_filter(r)
  nauthilus_builtin.status_message_set(table.concat(results, "|"))
  ` + acceptReturn + `
end`
	parts := runMainStatusParts(t, dir, src, pkgDir, 15)
	outsideErr := "outside the Lua script and package paths"
	checks := []struct {
		i    int
		want string
	}{
		{0, "nil"}, {1, outsideErr},
		{2, "false"}, {3, outsideErr},
		{4, "nil"}, {5, outsideErr},
		{6, "nil"}, {7, "loadfile needs a file name"},
		{8, "nil"}, {9, "0"},
		{10, "false"}, {11, outsideErr},
		{12, "helper"}, {13, "sibling"}, {14, "sibling"},
	}
	for _, c := range checks {
		if !strings.Contains(parts[c.i], c.want) {
			t.Errorf("result %d = %q, want it to contain %q", c.i, parts[c.i], c.want)
		}
	}
	if status := strings.Join(parts, "|"); strings.Contains(status, "H4sh") || strings.Contains(status, "root") {
		t.Errorf("file content leaked: %q", status)
	}
}

// TestLoadfileErrorNeverShowsContent: a file inside the allowed paths that
// is not Lua gives an error with its name and line, not its text.
func TestLoadfileErrorNeverShowsContent(t *testing.T) {
	dir := t.TempDir()
	writeScriptAt(t, dir, "secret.txt", "password: Hunter2-xyz\n")
	src := `local f, err = loadfile("` + filepath.Join(dir, "secret.txt") + `")
local ok, rerr = pcall(require, "secret_txt")
function nauthilus_call_filter(r)
  nauthilus_builtin.status_message_set(tostring(f) .. "|" .. tostring(err))
  ` + acceptReturn + `
end`
	writeScriptAt(t, dir, "main.lua", src)
	writeScriptAt(t, dir, "bad_mod.lua", "x = 'Hunter2-abc' 'Hunter2-def'\n")
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{{Name: "main", ScriptPath: filepath.Join(dir, "main.lua")}}})
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.StatusMessage, "Hunter2") || !strings.Contains(out.StatusMessage, "secret.txt:1:") {
		t.Errorf("status = %q", out.StatusMessage)
	}

	src = `function nauthilus_call_filter(r)
  local ok, err = pcall(require, "bad_mod")
  nauthilus_builtin.status_message_set(tostring(ok) .. "|" .. tostring(err))
  ` + acceptReturn + `
end`
	out, err, _ = runOne(t, src, engineSetup{cfg: config.LuaConfig{PackagePath: dir + "/?.lua"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.StatusMessage, "Hunter2") || !strings.Contains(out.StatusMessage, "bad_mod.lua:1:") {
		t.Errorf("status = %q", out.StatusMessage)
	}
}

// TestLoadStringStaysInSandbox documents the decision for load/loadstring:
// source text is fine (it runs in the same sandbox), binary chunks are not.
func TestLoadStringStaysInSandbox(t *testing.T) {
	src := `function nauthilus_call_filter(r)
  local f = loadstring("return 40 + 2")
  local g, err = loadstring("\27Lua\81\0\1\4")
  local h = load(function() local s = nil; return s end)
  nauthilus_builtin.status_message_set(tostring(f()) .. "|" .. tostring(g) .. "|" .. tostring(err) .. "|" .. type(h))
  ` + acceptReturn + `
end`
	got := statusOf(t, src, engineSetup{health: StaticSource{Snap: &health.Snapshot{}}})
	if !strings.HasPrefix(got, "42|nil|") || !strings.Contains(got, "binary chunks are not loaded") || !strings.HasSuffix(got, "|function") {
		t.Errorf("status = %q", got)
	}
}

// TestCollectGarbageIsNoop: collectgarbage would run a full process GC per
// call, a cheap way for a script to stall every other request.
func TestCollectGarbageIsNoop(t *testing.T) {
	src := `function nauthilus_call_filter(r)
  nauthilus_builtin.status_message_set(tostring(collectgarbage("count")))
  ` + acceptReturn + `
end`
	if got := statusOf(t, src, engineSetup{}); got != "0" {
		t.Errorf("status = %q", got)
	}
}

// TestRootDirectoryIsNeverAllowed: a package_path template in "/" (or a
// relative one such as "./?.lua" when the working directory is "/", as
// under systemd) used to allow loadfile, dofile and require everywhere.
func TestRootDirectoryIsNeverAllowed(t *testing.T) {
	src := `function nauthilus_call_filter(r)
  local f, err = loadfile("/etc/hostname")
  nauthilus_builtin.status_message_set(tostring(f) .. "|" .. tostring(err))
  ` + acceptReturn + `
end`
	for _, pkgPath := range []string{"/?.lua", "/?/init.lua;/?.lua"} {
		got := statusOf(t, src, engineSetup{cfg: config.LuaConfig{PackagePath: pkgPath}})
		if !strings.Contains(got, outsidePaths) {
			t.Errorf("package_path %q: status = %q", pkgPath, got)
		}
	}
	t.Chdir("/")
	got := statusOf(t, src, engineSetup{cfg: config.LuaConfig{PackagePath: "./?.lua"}})
	if !strings.Contains(got, outsidePaths) {
		t.Errorf("package_path ./?.lua in /: status = %q", got)
	}
}

// TestPrintIsARedactedLogLine: print used to write to the daemon's stdout
// (the journal), past the password redaction nauthilus_util.log_* applies.
func TestPrintIsARedactedLogLine(t *testing.T) {
	src := `function nauthilus_call_filter(r)
  print("debug", r.password, 42)
  ` + acceptReturn + `
end`
	_, err, logs := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, "s3cret-Passw0rd") || !strings.Contains(out, "debug\\t<redacted>\\t42") {
		t.Errorf("logs = %s", out)
	}
}

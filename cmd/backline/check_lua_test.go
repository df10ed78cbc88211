package main

import (
	"strings"
	"testing"
)

// luaConfig is a configuration with one filter and one Lua passdb.
func luaConfig(filterPath, passdbPath string) string {
	return `server:
  address: 127.0.0.1:1
auth:
  passdb:
    - type: lua
      script_path: ` + passdbPath + `
lua:
  filters:
    - name: route
      script_path: ` + filterPath + `
`
}

const goodFilter = "function nauthilus_call_filter(r) return false, 0 end\n"
const goodPassdb = "function nauthilus_backend_verify_password(r) return 1, nil end\n"

// TestCheckCompilesLuaScripts: a syntax error in any filter or Lua passdb
// script fails check with the key path, its line, the file and the line in
// the file (issue 9, item 11).
func TestCheckCompilesLuaScripts(t *testing.T) {
	badFilter := writeFile(t, "bad_filter.lua", "-- routing\nfunction nauthilus_call_filter(r)\n  local x = = 1\nend\n")
	badPassdb := writeFile(t, "bad_passdb.lua", "function nauthilus_backend_verify_password(r)\n  return 1,\n")
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "c.yml", luaConfig(badFilter, badPassdb)))
	if code != exitFail || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{
		"lua.filters[0].script_path (line 10): " + badFilter + ":3: syntax error near '='",
		"auth.passdb[0].script_path (line 6): " + badPassdb + ": syntax error at end of file",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestCheckAcceptsValidLuaScripts(t *testing.T) {
	cfg := luaConfig(writeFile(t, "f.lua", goodFilter), writeFile(t, "p.lua", goodPassdb))
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "c.yml", cfg))
	if code != exitOK || !strings.HasPrefix(stdout, "configuration OK") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestServeRefusesLuaSyntaxErrorWithKeyPath: serve refuses the same file
// before it starts anything, naming the key path.
func TestServeRefusesLuaSyntaxErrorWithKeyPath(t *testing.T) {
	bad := writeFile(t, "bad.lua", "function nauthilus_call_filter(r)\n  return (\nend\n")
	cfg := luaConfig(bad, writeFile(t, "p.lua", goodPassdb))
	code, _, stderr := backline(t, "serve", "--config", writeFile(t, "c.yml", cfg))
	if code != exitFail {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if want := "lua.filters[0].script_path (line 10): " + bad + ":3: syntax error near 'end'"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// check validates scripts that use the db module: with nothing allowed it
// says every db.open fails; with an allow list it names each literal DSN
// that would be refused, never its password.
func TestCheckValidatesDBScripts(t *testing.T) {
	const secret = "never-in-check-output"
	passdb := writeFile(t, "p.lua", `local db = require("db")
function nauthilus_backend_verify_password(r)
  local h = db.open("mysql", "auth:`+secret+`@tcp(db.internal)/auth", {shared = true})
  return 1, nil
end
`)
	cfg := luaConfig(writeFile(t, "f.lua", goodFilter), passdb)
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "c.yml", cfg))
	if code != exitOK || !strings.Contains(stdout, "warning: auth.passdb[0].script_path (line 6): the script requires db, but lua.config.db.allowed_addresses is empty") {
		t.Fatalf("nothing allowed: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Contains(stdout, "does not provide db") {
		t.Error("db reported as absent")
	}
	cfg += "  config:\n    db:\n      allowed_addresses: [\"127.0.0.1:3306\"]\n"
	code, stdout, stderr = backline(t, "check", "--config", writeFile(t, "c2.yml", cfg))
	if code != exitOK || !strings.Contains(stdout, "line 3: db.open fails: db.internal:3306 is not allowed (lua.config.db.allowed_addresses)") {
		t.Fatalf("refused DSN: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Error("check printed the DSN's password")
	}
	cfg = strings.Replace(cfg, "127.0.0.1:3306", "db.internal:3306", 1)
	if code, stdout, _ := backline(t, "check", "--config", writeFile(t, "c3.yml", cfg)); code != exitOK || strings.Contains(stdout, "db.open") {
		t.Errorf("an allowed DSN: exit %d, %q", code, stdout)
	}
}

// check shows the db module's effective pool limits, an explicit
// max_idle_connections: 0 as 0 (not the default it used to become).
func TestCheckShowsDBLimits(t *testing.T) {
	cfg := luaConfig(writeFile(t, "f.lua", goodFilter), writeFile(t, "p.lua", goodPassdb)) +
		"  config:\n    db:\n      allowed_addresses: [\"127.0.0.1:3306\"]\n      max_idle_connections: 0\n"
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "c.yml", cfg))
	want := "lua.config.db: 1 allowed address(es); per DSN max_open_connections 10, max_idle_connections 0 (none kept between queries); max_rows 10000\n"
	if code != exitOK || !strings.Contains(stdout, want) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = backline(t, "check", "--config", writeFile(t, "c2.yml", strings.Replace(cfg, "max_idle_connections: 0", "max_open_connections: 0", 1)))
	if code != exitFail || stdout != "" {
		t.Errorf("max_open_connections: 0 accepted: exit %d, %q", code, stdout)
	}
}

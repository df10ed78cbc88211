package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestLuaSectionDefaultsAndModes(t *testing.T) {
	script := filepath.Join(t.TempDir(), "f.lua")
	if err := os.WriteFile(script, []byte("-- empty"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(`
lua:
  filters:
    - name: plain
      script_path: ` + script + `
    - name: noauth
      script_path: ` + script + `
      when_no_auth: true
    - name: authonly
      script_path: ` + script + `
      when_authenticated: true
      when_unauthenticated: false
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Lua.Config.VMPoolSize != DefaultLuaVMPoolSize() || c.Lua.Config.ScriptTimeout != DefaultLuaScriptTimeout ||
		c.Lua.Config.MaxMemory != DefaultLuaMaxMemory || c.Lua.Config.Environment != nil {
		t.Errorf("defaults: %+v", c.Lua.Config)
	}
	type modes struct{ a, u, n bool }
	want := []modes{{true, true, false}, {false, false, true}, {true, false, false}}
	for i, f := range c.Lua.Filters {
		a, u, n := f.Modes()
		if (modes{a, u, n}) != want[i] {
			t.Errorf("%s: modes %v %v %v", f.Name, a, u, n)
		}
	}
}

func TestLuaSectionSettings(t *testing.T) {
	c, err := Parse([]byte(`
lua:
  config:
    package_path: /etc/backline/lua/?.lua
    filter_vm_pool_size: 3
    script_timeout: 2s
    expose_test_credentials: true
    max_memory: 16MiB
    environment: [TZ, BACKLINE_REGION]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := LuaConfig{PackagePath: "/etc/backline/lua/?.lua", VMPoolSize: 3, ScriptTimeout: 2 * time.Second,
		ExposeTestCredentials: true, MaxMemory: 16 << 20, Environment: []string{"TZ", "BACKLINE_REGION"},
		CacheMaxMemory: DefaultLuaCacheMaxMemory}
	got := c.Lua.Config
	got.LuaModuleConfig = LuaModuleConfig{} // lua_modules_test.go
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}

func TestLuaSectionErrorsNameKeyAndLine(t *testing.T) {
	script := filepath.Join(t.TempDir(), "f.lua")
	if err := os.WriteFile(script, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Parse([]byte(`lua:
  filters:
    - name: one
      script_path: ` + script + `
    - name: one
      script_path: /nonexistent/x.lua
    - script_path: ` + script + `
    - name: nopath
  config:
    vm_pool_size: 0
    script_timeout: 6m
`))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	text := err.Error()
	for _, want := range []string{
		`lua.filters[1].name (line 5): filter name "one" is already used by lua.filters[0]`,
		`lua.filters[1].script_path (line 6): cannot read script`,
		`lua.filters[2].name (line 7): is required`,
		`lua.filters[3].script_path (line 8): is required`,
		`lua.config.vm_pool_size (line 10): must be between 1 and 1024, got 0`,
		`lua.config.script_timeout (line 11): must be more than 0 and at most 5m0s, got 6m0s`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

// TestLuaPasswordHashWorkers: unset and 0 both mean the per-core rule
// (kept as 0, resolved by the Lua host); 1 and 1024 are taken as written.
func TestLuaPasswordHashWorkers(t *testing.T) {
	for in, want := range map[string]int{"": 0, "password_hash_workers: 0": 0, "password_hash_workers: 1": 1, "password_hash_workers: 1024": 1024} {
		c, err := Parse([]byte("lua:\n  config:\n    " + in + "\n"))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := c.Lua.Config.PasswordHashWorkers; got != want {
			t.Errorf("%q: %d workers, want %d", in, got, want)
		}
	}
	if n := DefaultLuaPasswordHashWorkers(); n < 2 || n < runtime.GOMAXPROCS(0) {
		t.Errorf("default %d workers", n)
	}
}

func TestLuaMaxMemoryAndEnvironmentErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"max_memory: 0", "lua.config.max_memory (line 3): must be between 1MiB and 4GiB, got 0B"},
		{"max_memory: 512KiB", "lua.config.max_memory (line 3): must be between 1MiB and 4GiB, got 512KiB"},
		{"max_memory: 5g", "lua.config.max_memory (line 3): must be between 1MiB and 4GiB, got 5GiB"},
		{"max_memory: lots", `lua.config.max_memory (line 3): must be a size such as 65536, 64KiB, 64MiB or 1GiB, got "lots"`},
		{"max_memory: -1MiB", `lua.config.max_memory (line 3): must be a size`},
		{"max_memory: 99999999999999999999", `lua.config.max_memory (line 3): size "99999999999999999999" is too large`},
		{"max_memory: 9999999999999G", `lua.config.max_memory (line 3): size "9999999999999G" is too large`},
		{"environment: [OK_NAME, \"BAD=1\"]", `lua.config.environment[1] (line 3): "BAD=1" is not an environment variable name`},
		{"environment: [\"\", 1X]", `lua.config.environment[0] (line 3): "" is not an environment variable name`},
		{"environment: PATH", `lua.config.environment (line 3): must be a list`},
		{"password_hash_workers: -1", "lua.config.password_hash_workers (line 3): must be between 0 (one per core, at least 2) and 1024, got -1"},
		{"password_hash_workers: 1025", "lua.config.password_hash_workers (line 3): must be between 0 (one per core, at least 2) and 1024, got 1025"},
		{"password_hash_workers: many", "lua.config.password_hash_workers (line 3)"},
	} {
		_, err := Parse([]byte("lua:\n  config:\n    " + c.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.yaml, err, c.want)
		}
	}
	for in, want := range map[string]ByteSize{"1048576": 1 << 20, "2m": 2 << 20, "2 MiB": 2 << 20, "1GB": 1 << 30, "64KiB": 64 << 10} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v", in, got, err)
		}
	}
}

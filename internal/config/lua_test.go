package config

import (
	"errors"
	"os"
	"path/filepath"
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
	if c.Lua.Config.VMPoolSize != DefaultLuaVMPoolSize() || c.Lua.Config.ScriptTimeout != DefaultLuaScriptTimeout {
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
`))
	if err != nil {
		t.Fatal(err)
	}
	want := LuaConfig{PackagePath: "/etc/backline/lua/?.lua", VMPoolSize: 3, ScriptTimeout: 2 * time.Second, ExposeTestCredentials: true}
	if c.Lua.Config != want {
		t.Errorf("got %+v", c.Lua.Config)
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

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// init_script_path and init_script_paths may be used together (the single
// one runs first); each path must be a readable file, named by key and line.
func TestLuaInitScripts(t *testing.T) {
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.lua"), filepath.Join(dir, "two.lua")
	for _, p := range []string{one, two} {
		if err := os.WriteFile(p, []byte("-- init"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Parse([]byte("lua:\n  config:\n    init_script_path: " + one + "\n    init_script_paths:\n      - " + two + "\n      - " + one + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []InitScript{{"lua.config.init_script_path", one}, {"lua.config.init_script_paths[0]", two}, {"lua.config.init_script_paths[1]", one}}
	if got := c.Lua.Config.InitScripts(); !reflect.DeepEqual(got, want) {
		t.Errorf("InitScripts() = %v", got)
	}

	missing := filepath.Join(dir, "missing.lua")
	for name, c := range map[string]struct{ yaml, want string }{
		"missing single": {"lua:\n  config:\n    init_script_path: " + missing + "\n",
			"lua.config.init_script_path (line 3): cannot read script: stat " + missing},
		"missing in list": {"lua:\n  config:\n    init_script_paths:\n      - " + one + "\n      - " + missing + "\n",
			"lua.config.init_script_paths[1] (line 5): cannot read script"},
		"directory": {"lua:\n  config:\n    init_script_paths: [" + dir + "]\n",
			"lua.config.init_script_paths[0] (line 3): cannot read script: " + dir + " is a directory"},
		"empty single":  {"lua:\n  config:\n    init_script_path: \"\"\n", "lua.config.init_script_path (line 3): must not be empty"},
		"empty in list": {"lua:\n  config:\n    init_script_paths: [\"\"]\n", "lua.config.init_script_paths[0] (line 3): must not be empty"},
		"not a list":    {"lua:\n  config:\n    init_script_paths: " + one + "\n", "lua.config.init_script_paths"},
	} {
		_, err := Parse([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "Nauthilus key") {
			t.Errorf("%s: still hinted as a Nauthilus-only key: %v", name, err)
		}
	}
}

package config

import (
	"path/filepath"
	"testing"
)

// A lua passdb's script_path is judged as the lua section's scripts are:
// a directory (which a stat alone let through, to fail at start without
// its key) is refused at its key, as is a missing file.
func TestLuaPassdbScriptPathMustBeAReadableFile(t *testing.T) {
	dir := t.TempDir()
	yml := func(path string) string {
		return "auth:\n  passdb:\n    - type: lua\n      script_path: " + path + "\n"
	}
	wantOnlyError(t, yml(dir), "auth.passdb[0].script_path (line 4): cannot read script: "+dir+" is a directory")
	missing := filepath.Join(dir, "missing.lua")
	wantOnlyError(t, yml(missing), "auth.passdb[0].script_path (line 4): cannot read script: stat "+missing+": no such file or directory")
}

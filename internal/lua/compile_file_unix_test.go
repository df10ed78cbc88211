//go:build unix

package lua

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// TestCompileScriptsRefusesNonRegularFiles: check and serve read the
// configured filter and Lua passdb scripts. A FIFO used to block them for
// good (opening it waits for a writer) and /dev/zero to read until memory
// ran out; both are now errors with the key path, in milliseconds.
func TestCompileScriptsRefusesNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "passdb.lua")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbLua, ScriptPath: fifo}}
	done := make(chan error, 1)
	go func() { done <- CompileScripts(cfg) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "auth.passdb[0].script_path") || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(time.Minute): // a blocked open waits for good; a minute only for a starved machine
		// Unblock the reader so the test binary can end.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("CompileScripts blocked on a FIFO")
	}
	if _, err := compile("p", fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("compile: err = %v", err)
	}
}

// TestCompileScriptsRefusesOversizedScripts: a script over 4 MiB (the
// limit for files a script loads) is refused instead of read whole.
func TestCompileScriptsRefusesOversizedScripts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.lua")
	if err := os.WriteFile(path, []byte(strings.Repeat("-- x\n", maxLoadedFile/5+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.Lua.Filters = []config.LuaFilter{{Name: "big", ScriptPath: path}}
	if err := CompileScripts(cfg); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
}

//go:build unix

package lua

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// TestLoadfileNeverOpensFIFOs: loadfile, dofile and require check the file
// type before they open it. Opening a FIFO waits for a writer, so a script
// naming one in its own directory used to block inside a native call until
// the run was abandoned, and the state kept its pool slot for good.
func TestLoadfileNeverOpensFIFOs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.lua")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	writeScriptAt(t, dir, "main.lua", `function nauthilus_call_filter(r)
  local f, err = loadfile("`+fifo+`")
  local ok, rerr = pcall(require, "pipe")
  nauthilus_builtin.status_message_set(tostring(f) .. "|" .. tostring(err) .. "|" .. tostring(ok))
  `+acceptReturn+`
end`)
	e, _ := newEngine(t, engineSetup{
		filters: []config.LuaFilter{{Name: "main", ScriptPath: filepath.Join(dir, "main.lua")}},
		// A blocked open waits for good, so any timeout shows it; 30 s,
		// not 2 s, so a starved -race run is not taken for one.
		cfg: config.LuaConfig{PackagePath: dir + "/?.lua", ScriptTimeout: 30 * time.Second},
	})
	start := time.Now()
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice"})
	if err != nil {
		t.Fatalf("run failed after %v: %v", time.Since(start), err)
	}
	if !strings.Contains(out.StatusMessage, "not a regular file") || !strings.HasSuffix(out.StatusMessage, "|false") {
		t.Errorf("status = %q", out.StatusMessage)
	}
	if st := e.Stats(); st.AbandonedRunning != 0 {
		t.Errorf("abandoned runs still running: %d", st.AbandonedRunning)
	}
}

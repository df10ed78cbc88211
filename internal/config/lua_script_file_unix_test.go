//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLuaScriptPathMustBeRegularFile: a FIFO as lua.filters[].script_path
// used to block check and serve when the loader opened it; a device passed
// the check and was read whole later (/dev/zero until memory ran out).
func TestLuaScriptPathMustBeRegularFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "filter.lua")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	paths := []string{fifo}
	if _, err := os.Stat("/dev/zero"); err == nil {
		paths = append(paths, "/dev/zero")
	}
	for _, path := range paths {
		done := make(chan error, 1)
		go func() {
			_, err := Parse([]byte("lua:\n  filters:\n    - name: f\n      script_path: " + path + "\n"))
			done <- err
		}()
		select {
		case err := <-done:
			want := "lua.filters[0].script_path (line 4): cannot read script: " + path + " is not a regular file"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			t.Fatalf("%s: loading blocked", path)
		}
	}
}

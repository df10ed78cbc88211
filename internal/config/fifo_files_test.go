//go:build unix

package config

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A FIFO named as a secret file or a Lua script is refused, not waited on:
// both are opened without waiting and judged as opened, so a FIFO renamed
// in after a look at the path cannot hang check, start or a reload.
func TestFIFOSecretFileAndScriptRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := readFileLimited(fifo, 1<<10); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("secret file: %v", err)
	}
	if err := checkReadable(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("script: %v", err)
	}
}

//go:build unix

package passwdfile

import (
	"path/filepath"
	"syscall"
	"testing"
)

// A FIFO named as the passwd-file is refused without opening it: opening
// one waits for a writer, which would hang check and serve.
func TestLoadRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "users")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := Load(fifo); err == nil || err.Error() != "passwd-file "+fifo+": not a regular file" {
		t.Errorf("a FIFO: %v", err)
	}
}

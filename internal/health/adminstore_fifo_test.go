//go:build unix

package health

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A FIFO at the state file's path is refused at once; os.Open waited for
// a writer and held the daemon's start.
func TestLoadAdminFileRefusesAFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "state.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := LoadAdminFile(fifo)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("LoadAdminFile(fifo) = %v, want not a regular file", err)
	}
}

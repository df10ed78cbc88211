//go:build unix

package connlimit

import (
	"syscall"
	"testing"
)

// The Go runtime raises the soft descriptor limit to the hard one before
// main (Go 1.19+); the defaults rely on that instead of raising it again.
func TestRuntimeRaisedFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	if lim.Cur+1 < lim.Max {
		t.Errorf("soft limit %d, hard %d: the runtime did not raise it", lim.Cur, lim.Max)
	}
	if FileLimit() != uint64(lim.Cur) {
		t.Errorf("FileLimit() = %d, want %d", FileLimit(), lim.Cur)
	}
}

//go:build unix

package connlimit

import "syscall"

// FileLimit returns the soft RLIMIT_NOFILE, 0 if unknown. The Go runtime
// has already raised it to the hard limit at start-up (Go 1.19 and later),
// so there is nothing left to raise here.
func FileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}

//go:build !unix

package connlimit

// FileLimit is unknown (0) where there is no RLIMIT_NOFILE.
func FileLimit() uint64 { return 0 }

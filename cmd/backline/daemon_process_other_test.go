//go:build !unix

package main

// runAsDaemonSubprocess: the subprocess tests need Unix signals and rlimits.
func runAsDaemonSubprocess() (code int, ok bool) { return 0, false }

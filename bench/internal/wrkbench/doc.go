// Package wrkbench holds what the wrk-driven benchmarks under bench/ share:
// building backline, loopback ports and fake IMAP backends, starting
// children pinned with taskset (and killing them on a fatal error), wrk runs
// and their summary, and server CPU time read from /proc/<pid>/stat.
//
// It is for benchmark programs only: errors end the program through Fatalf,
// which first kills every child started through Start.
package wrkbench

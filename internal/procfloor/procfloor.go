// Package procfloor runs the Go scheduler with two Ps where it would run
// one: a machine, CPU set or container limit of one CPU.
//
// With one P, a system call that is still running when the runtime's
// monitor (sysmon) looks twice, 20 µs apart, loses its P: sysmon hands it
// to another thread, which is woken to run what waits, and the thread
// coming back from the call finds its P gone and parks. A proxy makes four
// or five calls per request, and a write on loopback takes 10–20 µs (the
// kernel delivers to the peer inside it), so with one P this cost a
// thread switch on most requests and kept sysmon waking every 20 µs. With
// a second P that is idle, sysmon leaves a P in a call alone while nothing
// waits on its run queue. Measured with bench/gateway (the proxy pinned to
// one CPU, docs/benchmarks.md "Stop 27"): the gateway's CPU per proxied
// 22-byte GET fell by about a fifth, go-floor's (a plain Go proxy) did not
// change, and three Ps were worse than two.
//
// An operator's GOMAXPROCS is left as it is. Like any explicit setting,
// raising it stops the runtime from following a container's CPU limit
// that changes later (only where the runtime had chosen one P).
package procfloor

import (
	"os"
	"runtime"
)

// Apply raises GOMAXPROCS from 1 to 2 unless the environment sets it, and
// returns the value before and after.
func Apply() (before, after int) {
	before = runtime.GOMAXPROCS(0)
	after = floor(before, os.Getenv("GOMAXPROCS"))
	if after != before {
		runtime.GOMAXPROCS(after)
	}
	return before, after
}

// floor is the P count for a runtime that chose n, with env the
// GOMAXPROCS variable.
func floor(n int, env string) int {
	if env != "" || n != 1 {
		return n
	}
	return 2
}

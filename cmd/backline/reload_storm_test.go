package main

import (
	"os"
	"runtime"
	"testing"
)

// openFDs counts this process's open file descriptors (Linux).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// A storm of reloads, good and bad, with traffic on both listeners, leaves
// descriptors and goroutines where they were: every replaced generation's
// Lua states and upstream connections are closed while the daemon runs,
// not only at stop.
func TestReloadStormLeavesFDsAndGoroutinesFlat(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a"})
	versions := []fileVersion{
		{filterPort: 2143, origin: "b"},
		{filterPort: 2143, origin: "b", luaSource: "syntax error here"},
		{filterPort: 1143, origin: "a"},
	}
	cycle := func(n int) {
		for i := range n {
			v := versions[i%len(versions)]
			f.write(v)
			f.reload()
			if _, err := f.gateway(); err != nil {
				t.Fatalf("gateway after reload %d: %v", i, err)
			}
			if _, err := f.nginxPort(); err != nil {
				t.Fatalf("nginx after reload %d: %v", i, err)
			}
		}
	}
	settle := func() {
		// Generations close in the background once their last request ended.
		for len(f.closedGens) > 0 {
			<-f.closedGens
		}
		f.client.CloseIdleConnections()
		runtime.GC()
	}
	cycle(6)
	settle()
	baseFD, baseG := openFDs(t), runtime.NumGoroutine()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	const storm = 60
	cycle(storm)
	var fds, gs int
	waitFor(t, "descriptors and goroutines back to their level", func() bool {
		settle()
		fds, gs = openFDs(t), runtime.NumGoroutine()
		return fds <= baseFD+4 && gs <= baseG+8
	})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("after %d reloads: fds %d -> %d, goroutines %d -> %d, heap %d KiB -> %d KiB",
		storm, baseFD, fds, baseG, gs, base.HeapAlloc>>10, after.HeapAlloc>>10)
	// Every third file had a Lua syntax error: 2 of the first 6, 20 of 60.
	if got := f.metric(`backline_config_reloads_total{result="failure"}`); got != "22" {
		t.Errorf("failed reloads counted %s, want 22", got)
	}
}

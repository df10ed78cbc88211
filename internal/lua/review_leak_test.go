package lua

import (
	"context"
	"runtime"
	"testing"

	"github.com/backline/backline/internal/config"
)

// TestUnknownMetricNamesAreNotKept: using a metric nobody created logs a
// warning once per name; the name was kept whole in a process-wide map
// (and logged whole), so each run could pin a string as large as its
// budget for the life of the daemon. Names are now cut before they are
// kept or logged.
func TestUnknownMetricNamesAreNotKept(t *testing.T) {
	src := `function nauthilus_call_filter(request)
  local big = string.rep("n", 8 * 1024 * 1024)
  for i = 1, 3 do nauthilus_prometheus.increment_counter(big .. i, {}) end
  ` + acceptReturn + `
end`
	e, logs := newEngineWith(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}}, nil)
	host := e.host
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Fatalf("the heap kept %d bytes after the run (names of 8 MiB pinned)", grown)
	}
	m := host.metrics()
	m.mu.Lock()
	kept := 0
	for k := range m.warned {
		kept += len(k)
	}
	m.mu.Unlock()
	if kept > 4096 {
		t.Fatalf("the unknown-metric warnings keep %d bytes of names", kept)
	}
	if n := len(logs.String()); n > 64<<10 {
		t.Fatalf("the warnings logged %d bytes", n)
	}
}

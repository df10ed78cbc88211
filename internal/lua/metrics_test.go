package lua

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRunAndFailureCounters: every finished run counts once; failures
// count by cause (error, timeout, memory), which the Lua error-rate alert
// and the dashboard read (deploy/).
func TestRunAndFailureCounters(t *testing.T) {
	// The ok, error and memory runs must end within the timeout too: 2 s,
	// not 200 ms, so a starved -race run is not counted as a timeout.
	s := budgetSetup(2 * time.Second)
	s.filters = nil
	s.filters = append(s.filters, filter(t, "f", filterBody(`
if r.username == "error" then error("boom") end
if r.username == "timeout" then while true do end end
if r.username == "memory" then local s = string.rep("x", 4 * 1024 * 1024) end`)))
	e, _ := newEngine(t, s)
	for _, user := range []string{"ok", "ok", "error", "timeout", "memory"} {
		_, err := e.RunFilters(context.Background(), &Request{Username: user})
		if (err == nil) != (user == "ok") {
			t.Fatalf("%s: err = %v", user, err)
		}
	}
	want := Stats{Runs: 5, Errors: 1, Timeouts: 1, MemoryStops: 1}
	got := e.Stats()
	got.AbandonedRuns, got.AbandonedRunning, got.ProcessLimitStops = 0, 0, 0
	if got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "backline_lua_runs") && !strings.HasPrefix(f.GetName(), "backline_lua_failures") {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue()
			}
			series = append(series, fmt.Sprintf("%s{%s} %v", f.GetName(), labels, m.GetCounter().GetValue()))
		}
	}
	wantSeries := "backline_lua_failures_total{reason=error} 1\nbackline_lua_failures_total{reason=memory} 1\nbackline_lua_failures_total{reason=timeout} 1\nbackline_lua_runs_total{} 5"
	if got := strings.Join(series, "\n"); got != wantSeries {
		t.Fatalf("series:\n%s\nwant:\n%s", got, wantSeries)
	}
}

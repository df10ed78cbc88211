package lua

import "github.com/prometheus/client_golang/prometheus"

// Collectors exposes what the budget and the deadline did, so an operator
// sees a script that keeps getting abandoned (each such state holds a pool
// slot until its native call returns) or runs stopped by the process-wide
// soft limit.
func (e *Engine) Collectors() []prometheus.Collector { return StatsCollectors(e.Stats) }

// StatsCollectors are Collectors over any source of Stats: a hot reload
// registers them once over the sum of the engines it has built.
func StatsCollectors(stats func() Stats) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "backline_lua_abandoned_runs_total",
			Help: "Lua runs given up at script_timeout while inside a native call; their states are discarded.",
		}, func() float64 { return float64(stats().AbandonedRuns) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "backline_lua_abandoned_running",
			Help: "Abandoned Lua runs still inside their native call, each holding a vm_pool_size slot.",
		}, func() float64 { return float64(stats().AbandonedRunning) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "backline_lua_process_limit_stops_total",
			Help: "Lua runs stopped because the daemon's Lua memory soft limit was reached.",
		}, func() float64 { return float64(stats().ProcessLimitStops) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "backline_lua_runs_total",
			Help: "Finished Lua script runs (filters and password scripts), failed ones included.",
		}, func() float64 { return float64(stats().Runs) }),
		failures(stats, "error", func(s Stats) int64 { return s.Errors }),
		failures(stats, "timeout", func(s Stats) int64 { return s.Timeouts }),
		failures(stats, "memory", func(s Stats) int64 { return s.MemoryStops }),
	}
}

// failures is one reason's series of backline_lua_failures_total.
func failures(stats func() Stats, reason string, count func(Stats) int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "backline_lua_failures_total",
		Help:        "Failed Lua script runs by reason: error, timeout (script_timeout), memory (max_memory or the soft limit). Canceled runs are not counted.",
		ConstLabels: prometheus.Labels{"reason": reason},
	}, func() float64 { return float64(count(stats())) })
}

package main

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/lua"
)

// reloadMetrics are registered once per process, like every other series:
// the configuration the daemon started with counts as the first success.
type reloadMetrics struct {
	successful prometheus.Gauge
	timestamp  prometheus.Gauge
	total      *prometheus.CounterVec
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	m := &reloadMetrics{
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backline_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or failed and the previous configuration still runs (0).",
		}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backline_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load (start or reload).",
		}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_config_reloads_total",
			Help: "Configuration reloads (SIGHUP, POST /api/v1/reload) by result: success or failure.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.successful, m.timestamp, m.total)
	m.total.WithLabelValues("success")
	m.total.WithLabelValues("failure")
	return m
}

// succeeded records a successful load; the start-up load is not counted
// as a reload.
func (m *reloadMetrics) succeeded() {
	m.successful.Set(1)
	m.timestamp.Set(float64(time.Now().UnixNano()) / 1e9)
}

func (m *reloadMetrics) reloaded() {
	m.succeeded()
	m.total.WithLabelValues("success").Inc()
}

func (m *reloadMetrics) failed() {
	m.successful.Set(0)
	m.total.WithLabelValues("failure").Inc()
}

// luaStatsSum adds up the counters of every Lua engine the daemon built:
// those still open, and the final counts of closed ones, so a reload does
// not make the Lua counters fall back to zero.
type luaStatsSum struct {
	mu     sync.Mutex
	closed lua.Stats
	live   map[*lua.Engine]struct{}
}

func newLuaStatsSum() *luaStatsSum { return &luaStatsSum{live: map[*lua.Engine]struct{}{}} }

func (s *luaStatsSum) add(e *lua.Engine) {
	s.mu.Lock()
	s.live[e] = struct{}{}
	s.mu.Unlock()
}

// fold moves a closed engine's counters into the closed total.
func (s *luaStatsSum) fold(e *lua.Engine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[e]; !ok {
		return
	}
	delete(s.live, e)
	st := e.Stats()
	s.closed.AbandonedRuns += st.AbandonedRuns
	s.closed.ProcessLimitStops += st.ProcessLimitStops
	s.closed.Runs += st.Runs
	s.closed.Errors += st.Errors
	s.closed.Timeouts += st.Timeouts
	s.closed.MemoryStops += st.MemoryStops
}

func (s *luaStatsSum) stats() lua.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.closed
	for e := range s.live {
		st := e.Stats()
		sum.AbandonedRuns += st.AbandonedRuns
		sum.AbandonedRunning += st.AbandonedRunning
		sum.ProcessLimitStops += st.ProcessLimitStops
		sum.Runs += st.Runs
		sum.Errors += st.Errors
		sum.Timeouts += st.Timeouts
		sum.MemoryStops += st.MemoryStops
	}
	return sum
}

package health

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// probeBuckets span a loopback connect (about 1ms) to the longest allowed
// deep timeout we expect in practice (30s).
var probeBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30}

// metrics are the engine's Prometheus collectors. Label values are group
// and target names (operator-chosen, host:port by default), protocols,
// phases, step names and reasons: never credentials.
//
// The per-target series (up, phase up, cert expiry, probe duration) are
// produced at scrape time by targetCollector from the published snapshot
// and each target's own histogram: client_golang's vectors keep a
// label-pair set per child, about 3 KB per target for these four, which at
// 10,000 targets was a third of the engine's memory. The sparse or small
// families (failures, transitions, steps, the seed's status gauge) stay
// ordinary vectors.
type metrics struct {
	stepDuration  *prometheus.HistogramVec
	failures      *prometheus.CounterVec
	localErrors   *prometheus.CounterVec
	stalledProbes *prometheus.CounterVec
	transitions   *prometheus.CounterVec
	serversStatus *prometheus.GaugeVec
	adminChanges  *prometheus.CounterVec
	rechecks      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, e *Engine) (*metrics, error) {
	m := &metrics{
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "backline_probe_step_duration_seconds",
			Help:    "Duration of the stages of health probes (connect, tls, greeting, auth, ...).",
			Buckets: probeBuckets,
		}, []string{"protocol", "step"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_probe_failures_total",
			Help: "Failed health probes by reason.",
		}, []string{"group", "name", "phase", "reason"}),
		localErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_probe_local_errors_total",
			Help: "Health probes that could not open a socket because this host ran out of resources (errno: EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL); the backend's state was kept.",
		}, []string{"group", "errno"}),
		stalledProbes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_probe_stalled_total",
			Help: "Health probes that timed out while this process was stalled (got no CPU) for at least half of the probe's time; the backend's state was kept.",
		}, []string{"group"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_backend_transitions_total",
			Help: "Health gate changes by phase and new state.",
		}, []string{"group", "name", "phase", "to"}),
		serversStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backend_servers_status",
			Help: "Mail backend targets: wanted = configured, alive = healthy (Nauthilus-compatible).",
		}, []string{"server_status"}),
		adminChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_backend_admin_changes_total",
			Help: "Admin state changes through the API (and resets), by the resulting state.",
		}, []string{"state"}),
		rechecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_probe_requests_total",
			Help: "Requests to probe a backend now (API, Lua report_failure, passive ejection, fast_interval, down_interval) by result: started, joined (shared a probe not yet finished) or limited (dropped: one was requested less than a second before).",
		}, []string{"source", "result"}),
	}
	var err error
	// A reload builds a new engine on the same registry: adopt the vectors
	// already registered (counters carry on) instead of failing.
	if m.stepDuration, err = adopt(reg, m.stepDuration); err != nil {
		return nil, err
	}
	if m.failures, err = adopt(reg, m.failures); err != nil {
		return nil, err
	}
	if m.localErrors, err = adopt(reg, m.localErrors); err != nil {
		return nil, err
	}
	if m.stalledProbes, err = adopt(reg, m.stalledProbes); err != nil {
		return nil, err
	}
	if m.transitions, err = adopt(reg, m.transitions); err != nil {
		return nil, err
	}
	if m.serversStatus, err = adopt(reg, m.serversStatus); err != nil {
		return nil, err
	}
	if m.adminChanges, err = adopt(reg, m.adminChanges); err != nil {
		return nil, err
	}
	if m.rechecks, err = adopt(reg, m.rechecks); err != nil {
		return nil, err
	}
	// The per-target collector reads one engine's state, so the new engine
	// replaces the old one's: removed targets disappear with it.
	if err := replace(reg, newTargetCollector(e)); err != nil {
		return nil, err
	}
	return m, nil
}

func adopt[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("health metrics: %w", err)
}

func replace(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		err = reg.Register(c)
	}
	if err != nil {
		return fmt.Errorf("health metrics: %w", err)
	}
	return nil
}

// observe records one probe's metrics after the gates were updated.
func (m *metrics) observe(s *targetState, res *probe.Result, out *outcome, steps stepObservers) {
	if out.phase == probe.PhaseDeep && s.deepLatency != nil {
		s.deepLatency.observe(res.Duration.Seconds())
	} else {
		s.connectLatency.observe(res.Duration.Seconds())
	}
	for _, st := range res.Steps {
		steps.get(m, s.target.Protocol, st.Name).Observe(st.Duration.Seconds())
	}
	if out.connectRecorded {
		s.connectLatency.observe(out.connectLatency.Seconds())
		if !out.connectOK {
			m.failures.WithLabelValues(s.group, s.name, string(probe.PhaseConnect), string(out.reason)).Inc()
		}
	}
	if !out.ok {
		m.failures.WithLabelValues(s.group, s.name, string(out.phase), string(out.reason)).Inc()
	}
	for _, c := range out.changes {
		m.transitions.WithLabelValues(s.group, s.name, string(c.phase), stateName(c.to)).Inc()
	}
}

// stepObservers caches step histograms per (protocol, step); owned by one
// group loop, so it needs no lock.
type stepObservers map[[2]string]prometheus.Observer

func (so stepObservers) get(m *metrics, protocol, step string) prometheus.Observer {
	key := [2]string{protocol, step}
	o, ok := so[key]
	if !ok {
		o = m.stepDuration.WithLabelValues(protocol, step)
		so[key] = o
	}
	return o
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func stateName(healthy bool) string {
	if healthy {
		return "healthy"
	}
	return "unhealthy"
}

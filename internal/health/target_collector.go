package health

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// targetCollector exports the per-target series at scrape time: gauges from
// the current snapshot, durations from each target's latencyHistogram.
type targetCollector struct {
	e          *Engine
	up         *prometheus.Desc
	phaseUp    *prometheus.Desc
	duration   *prometheus.Desc
	certExpiry *prometheus.Desc
	eligible   *prometheus.Desc
	draining   *prometheus.Desc
	ejected    *prometheus.Desc
	ejections  *prometheus.Desc
	lastCheck  *prometheus.Desc
	interval   *prometheus.Desc
	inUse      *prometheus.Desc
	uptime     *prometheus.Desc
	agent      agentDescs
}

func newTargetCollector(e *Engine) *targetCollector {
	return &targetCollector{
		e:     e,
		agent: newAgentDescs(),
		up: prometheus.NewDesc("backline_backend_up",
			"1 if the backend is healthy (all its gates), else 0.",
			[]string{"group", "name", "protocol"}, nil),
		phaseUp: prometheus.NewDesc("backline_backend_phase_up",
			"1 if the backend's connect or deep gate is healthy, else 0.",
			[]string{"group", "name", "phase"}, nil),
		duration: prometheus.NewDesc("backline_probe_duration_seconds",
			"Duration of health probes.",
			[]string{"group", "name", "phase"}, nil),
		certExpiry: prometheus.NewDesc("backline_backend_cert_expiry_timestamp_seconds",
			"Expiry (Unix time) of the leaf certificate seen by the last TLS handshake.",
			[]string{"group", "name"}, nil),
		eligible: prometheus.NewDesc("backline_backend_eligible",
			"1 if selection may pick the backend (health, admin state, weight), else 0.",
			[]string{"group", "name"}, nil),
		// Beside eligible, which reads 0 for a draining backend as for a
		// dead one: an operator's drain is not an outage to page for.
		draining: prometheus.NewDesc("backline_backend_draining",
			"1 if the backend is drained (by an operator, its check's drain_on_status or its agent) but otherwise eligible (policy sticky still sends it the users stored for it), else 0.",
			[]string{"group", "name"}, nil),
		ejected: prometheus.NewDesc("backline_backend_ejected",
			"1 while passive health keeps the backend out of selection, else 0 (backends of groups with passive health only).",
			[]string{"group", "name", "reason"}, nil),
		ejections: prometheus.NewDesc("backline_backend_ejections_total",
			"Passive health ejections of the backend since it was configured (kept across reloads by backend ID).",
			[]string{"group", "name", "reason"}, nil),
		// With interval, lets an alert see probes falling behind their
		// schedule (a stuck or overloaded scheduler) before the backends
		// turn stale.
		lastCheck: prometheus.NewDesc("backline_probe_last_check_timestamp_seconds",
			"End (Unix time) of the last health probe of the phase; absent before the first and while checks are paused.",
			[]string{"group", "name", "phase"}, nil),
		interval: prometheus.NewDesc("backline_probe_interval_seconds",
			"Configured probe interval of the group's phase (connect_interval, deep_interval).",
			[]string{"group", "phase"}, nil),
		// Per backend: down_interval (fast_interval) replaces the group's
		// interval while it is down (part-way to a flip), so an alert on
		// probe age compares with this, not with the group's.
		inUse: prometheus.NewDesc("backline_probe_interval_in_use_seconds",
			"How far apart the backend's phase is probed now: the group's interval, or fast_interval while it is part-way to a flip, or down_interval while it is down (when set).",
			[]string{"group", "name", "phase", "state"}, nil),
		// The same figures as the status page and API (uptime.go); a
		// window with no checked time has no series rather than a 0.
		uptime: prometheus.NewDesc("backline_backend_uptime_ratio",
			"Share of the checked time in the window (1h, 24h, 7d) the backend was healthy; kept in the state store (storage.redis: across restarts and instances).",
			[]string{"group", "name", "window"}, nil),
	}
}

func (c *targetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.phaseUp
	ch <- c.duration
	ch <- c.certExpiry
	ch <- c.eligible
	ch <- c.draining
	ch <- c.ejected
	ch <- c.ejections
	ch <- c.lastCheck
	ch <- c.interval
	ch <- c.inUse
	ch <- c.uptime
	c.agent.describe(ch)
}

// Collect pairs snapshot entries with the registry's target states by ID.
// States are read only for their atomic histograms; the name label comes
// from the snapshot entry (Target.Name, else host:port, as the state's).
func (c *targetCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.e.Snapshot()
	gen := c.e.gen.Load()
	byID := gen.byID
	for _, l := range gen.loops {
		ch <- prometheus.MustNewConstMetric(c.interval, prometheus.GaugeValue, l.group.ConnectInterval.Seconds(), l.group.Name, string(probe.PhaseConnect))
		ch <- prometheus.MustNewConstMetric(c.interval, prometheus.GaugeValue, l.group.DeepInterval.Seconds(), l.group.Name, string(probe.PhaseDeep))
	}
	for i := range snap.Backends {
		b := &snap.Backends[i]
		s := byID[b.ID]
		if s == nil {
			continue // removed by a Reconfigure between the two loads
		}
		name := b.Target.Name
		if name == "" {
			name = b.Target.Address()
		}
		ch <- prometheus.MustNewConstMetric(c.eligible, prometheus.GaugeValue, boolGauge(b.Eligible), b.Group, name)
		ch <- prometheus.MustNewConstMetric(c.draining, prometheus.GaugeValue, boolGauge(b.Draining), b.Group, name)
		if s.passive.policy.Load() != nil {
			until, n := s.passive.view()
			reason := string(ReasonPassive)
			ch <- prometheus.MustNewConstMetric(c.ejected, prometheus.GaugeValue, boolGauge(c.e.now().Before(until)), b.Group, name, reason)
			ch <- prometheus.MustNewConstMetric(c.ejections, prometheus.CounterValue, float64(n), b.Group, name, reason)
		}
		c.agent.collect(ch, b, s, name)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolGauge(b.Healthy), b.Group, name, b.Target.Protocol)
		ch <- prometheus.MustNewConstMetric(c.phaseUp, prometheus.GaugeValue, boolGauge(b.Connect.Healthy), b.Group, name, string(probe.PhaseConnect))
		ch <- s.connectLatency.metric(c.duration, b.Group, name, string(probe.PhaseConnect))
		c.collectLastCheck(ch, b, name, probe.PhaseConnect, b.Connect.LastCheck)
		c.collectInUse(ch, b, name, probe.PhaseConnect, b.Schedule.Connect)
		if b.Target.DeepCheck {
			c.collectLastCheck(ch, b, name, probe.PhaseDeep, b.Deep.LastCheck)
			c.collectInUse(ch, b, name, probe.PhaseDeep, b.Schedule.Deep)
			ch <- prometheus.MustNewConstMetric(c.phaseUp, prometheus.GaugeValue, boolGauge(b.Deep.Healthy), b.Group, name, string(probe.PhaseDeep))
			ch <- s.deepLatency.metric(c.duration, b.Group, name, string(probe.PhaseDeep))
		}
		for i, w := range b.Uptime.Windows() {
			if w.Checked > 0 {
				ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, w.Ratio, b.Group, name, UptimeWindows[i])
			}
		}
		// Only once a certificate was seen: a 0 expiry would read as
		// "expired in 1970" on dashboards.
		if !b.CertNotAfter.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.certExpiry, prometheus.GaugeValue, float64(b.CertNotAfter.Unix()), b.Group, name)
		}
	}
}

// collectLastCheck exports when a phase was last probed. Paused checks
// export nothing: their age is intended, not a scheduler falling behind.
func (c *targetCollector) collectLastCheck(ch chan<- prometheus.Metric, b *Backend, name string, phase probe.Phase, last time.Time) {
	if last.IsZero() || b.ChecksPaused {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.lastCheck, prometheus.GaugeValue, float64(last.UnixNano())/1e9, b.Group, name, string(phase))
}

// collectInUse exports the interval a backend's phase is probed at now;
// nothing for backends no check probes (passive-only origins).
func (c *targetCollector) collectInUse(ch chan<- prometheus.Metric, b *Backend, name string, phase probe.Phase, d time.Duration) {
	if d <= 0 {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, d.Seconds(), b.Group, name, string(phase), b.Schedule.State.String())
}

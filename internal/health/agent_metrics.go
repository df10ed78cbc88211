package health

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// agentDescs are the per-backend agent series, exported at scrape time
// for backends with an agent only (HAProxy's agent_status and friends).
type agentDescs struct {
	up, down, admin, percent, weight, queries *prometheus.Desc
}

func newAgentDescs() agentDescs {
	gn := []string{"group", "name"}
	return agentDescs{
		up: prometheus.NewDesc("backline_backend_agent_up",
			"1 if the last agent check query read a line, 0 if it failed; absent before the first query.", gn, nil),
		down: prometheus.NewDesc("backline_backend_agent_down",
			"1 while the backend's agent says down, fail or stopped (reason agent_down), else 0.", gn, nil),
		admin: prometheus.NewDesc("backline_backend_agent_admin",
			"The agent's rotation word: 1 for the current one of ready, drain, maint.", []string{"group", "name", "state"}, nil),
		percent: prometheus.NewDesc("backline_backend_agent_weight_percent",
			"The share of its weight the backend's agent asks for (100 until it says otherwise).", gn, nil),
		weight: prometheus.NewDesc("backline_backend_agent_effective_weight",
			"The backend's weight after its agent's share: what weighted selection uses.", gn, nil),
		queries: prometheus.NewDesc("backline_backend_agent_queries_total",
			"Agent check queries by result: ok (a line was read) or failed (no change to the backend).", []string{"group", "name", "result"}, nil),
	}
}

func (d agentDescs) describe(ch chan<- *prometheus.Desc) {
	ch <- d.up
	ch <- d.down
	ch <- d.admin
	ch <- d.percent
	ch <- d.weight
	ch <- d.queries
}

// collect exports b's agent series; nothing without an agent.
func (d agentDescs) collect(ch chan<- prometheus.Metric, b *Backend, s *targetState, name string) {
	a := b.Agent
	if a == nil {
		return
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{b.Group, name}, labels...)...)
	}
	if !a.LastCheck.IsZero() {
		gauge(d.up, boolGauge(a.LastError == ""))
	}
	gauge(d.down, boolGauge(a.down()))
	for _, st := range []probe.AgentAdmin{probe.AgentReady, probe.AgentDrain, probe.AgentMaint} {
		gauge(d.admin, boolGauge(a.Admin == st), string(st))
	}
	gauge(d.percent, float64(a.WeightPercent))
	gauge(d.weight, float64(b.Weight))
	ch <- prometheus.MustNewConstMetric(d.queries, prometheus.CounterValue, float64(s.agent.ok.Load()), b.Group, name, "ok")
	ch <- prometheus.MustNewConstMetric(d.queries, prometheus.CounterValue, float64(s.agent.failures.Load()), b.Group, name, "failed")
}

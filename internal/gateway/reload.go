package gateway

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's series, registered once and shared by the
// gateways a hot reload builds one after another, so a reload neither
// fails on a second registration nor resets the counters.
type Metrics struct{ m *metrics }

// NewMetrics registers the gateway's series on reg (nil keeps them private).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	return &Metrics{m: m}, nil
}

// Activate makes g the gateway whose upstream connections the shared
// metrics report (backline_gateway_connections), and judges its backends'
// panic mode at once: a reload that changed panic_threshold (or the
// origins) shows in the panic gauge now, not with the next request.
func (g *Gateway) Activate() {
	rts := g.runtimes
	g.metrics.conns.backends.Store(&rts)
	g.metrics.judgePanics(g.snapshotNow(), time.Now())
}

// ForgetUnused deletes the series of old's backends that the active
// gateway does not have (a reload removed or renamed them), so they do not
// linger in /metrics. Call it once old's last request has ended.
func (m *Metrics) ForgetUnused(old *Gateway) { m.forgetUnused(old.runtimes) }

// forgetUnused deletes the series of rts' backends that the active gateway
// does not have.
func (m *Metrics) forgetUnused(rts []*backendRuntime) {
	active := map[string]bool{}
	activeOrigins := map[string]bool{} // "<backend>\x00<origin name>"
	if p := m.m.conns.backends.Load(); p != nil {
		for _, rt := range *p {
			active[rt.name] = true
			if rt.origins != nil {
				for _, o := range rt.origins.origins {
					activeOrigins[rt.name+"\x00"+o.name] = true
				}
			}
		}
		m.m.ramps.forget(rts, *p)
		m.m.panics.keepOnly(*p, m.m.origins)
	}
	var unused []string
	for _, rt := range rts {
		if !active[rt.name] {
			unused = append(unused, rt.name)
			continue
		}
		// A kept backend's origins that the reload removed: their request
		// counters would stay at their last value for good. (A reload
		// built but not active yet creates an origin's series at its
		// first request only, so this takes none of its series.)
		if rt.origins != nil {
			for _, o := range rt.origins.origins {
				if !activeOrigins[rt.name+"\x00"+o.name] {
					m.m.origins.requests.DeleteLabelValues(rt.name, o.name)
				}
			}
		}
	}
	for _, name := range unused {
		l := prometheus.Labels{"backend": name}
		m.m.requests.DeletePartialMatch(l)
		m.m.errors.DeletePartialMatch(l)
		m.m.duration.DeletePartialMatch(l)
		m.m.queue.DeletePartialMatch(l)
		m.m.waiting.DeletePartialMatch(l)
		m.m.shed.DeletePartialMatch(l)
		m.m.origins.forget(name)
	}
}

package tlslisten

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// reasons are the values of the reason label, in a fixed order.
var reasons = [...]string{ReasonPlainHTTP, ReasonTimeout, ReasonEOF, ReasonProtocol}

// failureCounts counts failed handshakes by reason; plain atomics, so a
// flood of bad handshakes costs no lock.
type failureCounts [len(reasons)]atomic.Uint64

func (f *failureCounts) add(reason string) {
	for i, r := range reasons {
		if r == reason {
			f[i].Add(1)
			return
		}
	}
}

// Failures returns the failed handshakes of reason so far (tests, metrics).
func (l *Listener) Failures(reason string) uint64 {
	for i, r := range reasons {
		if r == reason {
			return l.failures[i].Load()
		}
	}
	return 0
}

// Collectors are the listener's TLS metrics, labelled listener=Name.
func (l *Listener) Collectors() []prometheus.Collector {
	out := make([]prometheus.Collector, 0, len(reasons)+1)
	for i, r := range reasons {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "backline_listener_tls_handshake_failures_total",
			ConstLabels: prometheus.Labels{"listener": l.name, "reason": r},
			Help:        "TLS handshakes that failed, by reason (plain_http, timeout, eof, protocol).",
		}, func() float64 { return float64(l.failures[i].Load()) }))
	}
	out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "backline_listener_tls_certificate_expiry_timestamp_seconds",
		ConstLabels: prometheus.Labels{"listener": l.name},
		Help:        "NotAfter of the certificate the listener serves (Unix time); a reload that loads a new one moves it.",
	}, func() float64 {
		cfg := l.cur.Load()
		if len(cfg.Certificates) == 0 || cfg.Certificates[0].Leaf == nil {
			return 0
		}
		return float64(cfg.Certificates[0].Leaf.NotAfter.Unix())
	}))
	return out
}

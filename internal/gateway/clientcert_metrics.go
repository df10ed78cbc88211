package gateway

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// clientCertCollector exports, at scrape time, when the client certificate
// each backend of the active gateway presents to its origins (tls
// client_certificate, mutual TLS) expires: an origin refuses an expired
// one, and every request through the backend fails. Backends without one
// have no series; a refinement shares its label's. A reload that loads a
// renewed certificate moves the value with the gateway it activates. Only
// the leaf's NotAfter is read, never the key.
type clientCertCollector struct {
	desc     *prometheus.Desc
	backends *atomic.Pointer[[]*backendRuntime] // the active gateway's (connectionsCollector's)
}

func newClientCertCollector(backends *atomic.Pointer[[]*backendRuntime]) *clientCertCollector {
	return &clientCertCollector{
		desc: prometheus.NewDesc("backline_gateway_client_certificate_expiry_timestamp_seconds",
			"NotAfter (Unix time) of the client certificate the backend presents to its origins (tls.client_certificate); a reload that loads a renewed one moves it.",
			[]string{"backend"}, nil),
		backends: backends,
	}
}

func (c *clientCertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *clientCertCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.backends.Load()
	if p == nil {
		return
	}
	for _, rt := range *p {
		if leaf := rt.transports.clientLeaf(); leaf != nil {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(leaf.NotAfter.Unix()), rt.name)
		}
	}
}

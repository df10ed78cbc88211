package gateway

import "github.com/prometheus/client_golang/prometheus"

// originMetrics count what happens per origin of a backend with origins.
// Health (eligible, ejected by passive health) is the health engine's
// series, labelled by the same origin name.
type originMetrics struct {
	requests *prometheus.CounterVec
	retries  *prometheus.CounterVec
	// hashFallbacks: requests a hash policy had no key for.
	hashFallbacks *prometheus.CounterVec

	// panic_threshold (origins_panic.go)
	panic        *prometheus.GaugeVec
	panicEntered *prometheus.CounterVec
}

func newOriginMetrics() *originMetrics {
	return &originMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_origin_requests_total",
			Help: "Requests sent to each origin of a backend with origins (retries included).",
		}, []string{"backend", "origin"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_origin_retries_total",
			Help: "Requests sent to another origin, by the retry_on condition that failed the attempt before.",
		}, []string{"backend", "reason"}),
		hashFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_origin_hash_fallbacks_total",
			Help: "Requests to a backend with a hash load_balancing policy that had no usable key (header or cookie missing) and went round robin.",
		}, []string{"backend"}),
		panic: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backline_gateway_origins_panic",
			Help: "1 while a backend with panic_threshold is in panic mode (too few eligible origins: balancing over every origin not taken out by an operator), as judged by its last request.",
		}, []string{"backend"}),
		panicEntered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_origins_panic_total",
			Help: "Times a backend with panic_threshold entered panic mode.",
		}, []string{"backend"}),
	}
}

func (o *originMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{o.requests, o.retries, o.hashFallbacks, o.panic, o.panicEntered}
}

func (m *metrics) originRetry(backend, reason string) {
	m.origins.retries.WithLabelValues(backend, reason).Inc()
}

// forget deletes the series of a backend a reload removed.
func (o *originMetrics) forget(backend string) {
	l := prometheus.Labels{"backend": backend}
	o.requests.DeletePartialMatch(l)
	o.retries.DeletePartialMatch(l)
	o.hashFallbacks.DeletePartialMatch(l)
	o.panic.DeletePartialMatch(l)
	o.panicEntered.DeletePartialMatch(l)
}

func (m *metrics) originHashFallback(backend string) {
	m.origins.hashFallbacks.WithLabelValues(backend).Inc()
}

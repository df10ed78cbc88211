package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's per-backend series.
type metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	queue    *prometheus.GaugeVec // both queues together (the meaning it always had)
	waiting  *prometheus.GaugeVec // by queue
	shed     *prometheus.CounterVec
	conns    *connectionsCollector
	// clientCerts reads the active gateway's backends as conns does.
	clientCerts *clientCertCollector
	origins     *originMetrics // origin_metrics.go
	// ramps are the origins' slow start, kept here because, like the
	// series, they must outlive one configuration (balance_slowstart.go).
	ramps *rampMemory
	// panics are the backends' panic states, kept for the same reason
	// (origins_panic.go).
	panics *panicMemory
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_requests_total",
			Help: "Gateway requests by backend and the status code sent to the client.",
		}, []string{"backend", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_errors_total",
			Help: "Gateway error answers by backend and error type.",
		}, []string{"backend", "type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "backline_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to the end of the response body.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"backend"}),
		// queue_length keeps its meaning and labels, so dashboards and
		// alerts written for it stay right; queue_waiting tells the two
		// queues apart (its sum over queue is queue_length).
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backline_gateway_queue_length",
			Help: "Requests waiting for a connection slot (max_connections) or a throttle release, together; backline_gateway_queue_waiting splits them.",
		}, []string{"backend"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backline_gateway_queue_waiting",
			Help: "Requests waiting by queue: slot (max_connections) or throttle (beta_rate_limit mode wait).",
		}, []string{"backend", "queue"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_gateway_queue_shed_total",
			Help: "Requests refused by a backend's queue (slot: max_connections, throttle: beta_rate_limit): reason full (max_queue) or timeout (queue_timeout).",
		}, []string{"backend", "queue", "reason"}),
		conns: &connectionsCollector{desc: prometheus.NewDesc("backline_gateway_connections",
			"Connections to the backend's origins: active (a request in flight) or idle (open, unused).",
			[]string{"backend", "state"}, nil)},
		origins: newOriginMetrics(),
		ramps:   newRampMemory(),
		panics:  newPanicMemory(),
	}
	m.clientCerts = newClientCertCollector(&m.conns.backends)
	if reg == nil {
		return m, nil
	}
	for _, c := range append([]prometheus.Collector{m.requests, m.errors, m.duration, m.queue, m.waiting, m.shed, m.conns, m.clientCerts}, m.origins.collectors()...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// backendMetrics are one backend's series, curried once so the request path
// does no label hashing for the backend.
type backendMetrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration prometheus.Observer
	queue    prometheus.Gauge
	// slotWaiting and throttleWaiting are queue_waiting's two series.
	slotWaiting, throttleWaiting prometheus.Gauge
	shed                         *prometheus.CounterVec // by queue and reason; series appear with the first shed
	// byCode caches the counter of each status code: the label lookup
	// hashes and formats on every call.
	byCode [600]atomic.Pointer[prometheus.Counter]
}

func (m *metrics) forBackend(name string) *backendMetrics {
	l := prometheus.Labels{"backend": name}
	bm := &backendMetrics{
		requests: m.requests.MustCurryWith(l),
		errors:   m.errors.MustCurryWith(l),
		duration: m.duration.With(l),
		queue:    m.queue.With(l),
		shed:     m.shed.MustCurryWith(l),
		// Both series exist from the start, at 0, as queue_length does: a
		// panel or alert sees "nobody waits", not "no data".
		slotWaiting:     m.waiting.WithLabelValues(name, queueSlot),
		throttleWaiting: m.waiting.WithLabelValues(name, queueThrottle),
	}
	return bm
}

// The queue label's values.
const (
	queueSlot     = "slot"
	queueThrottle = "throttle"
)

func (bm *backendMetrics) count(code int) {
	if code < 0 || code >= len(bm.byCode) {
		bm.requests.WithLabelValues(strconv.Itoa(code)).Inc()
		return
	}
	c := bm.byCode[code].Load()
	if c == nil {
		counter := bm.requests.WithLabelValues(strconv.Itoa(code))
		c = &counter
		bm.byCode[code].Store(c)
	}
	(*c).Inc()
}

// connectionsCollector reads the live counters of every backend at scrape
// time: those of the active gateway (a reload replaces them).
type connectionsCollector struct {
	desc     *prometheus.Desc
	backends atomic.Pointer[[]*backendRuntime]
}

func (c *connectionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *connectionsCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.backends.Load()
	if p == nil {
		return
	}
	for _, b := range *p {
		open := b.transports.conns.open.Load()
		active := min(b.inFlight.Load(), open)
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(active), b.name, "active")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(open-active), b.name, "idle")
	}
}

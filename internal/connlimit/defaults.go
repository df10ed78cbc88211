package connlimit

import "github.com/prometheus/client_golang/prometheus"

// Defaults for a listener whose max_connections is left out.
const (
	// DefaultMaxConnections is the cap when the descriptor limit is large.
	DefaultMaxConnections = 4096
	// ReservedFiles are kept for everything but client connections: probes,
	// Lua, log and secret files, gateway connections to origins beyond one
	// per client.
	ReservedFiles = 256
	// minDefaultConnections is the floor on a tiny descriptor limit.
	minDefaultConnections = 16
)

// DefaultMax derives a listener's cap from the process's descriptor limit
// (0: unknown): a quarter of what is left after ReservedFiles, at most
// DefaultMaxConnections. Two listeners at that default, the gateway with an
// origin connection per client, then use at most three quarters.
func DefaultMax(fileLimit uint64) int {
	if fileLimit == 0 {
		return DefaultMaxConnections
	}
	if fileLimit <= ReservedFiles+4*minDefaultConnections {
		return minDefaultConnections
	}
	return int(min(uint64(DefaultMaxConnections), (fileLimit-ReservedFiles)/4))
}

// Overcommitted reports whether caps set by hand can take more descriptors
// than the limit allows, counting an origin connection per gateway client.
func Overcommitted(apiMax, gatewayMax int, fileLimit uint64) bool {
	return fileLimit > 0 && uint64(apiMax)+2*uint64(gatewayMax)+ReservedFiles > fileLimit
}

// Collectors are the listener's metrics, labelled listener=Name.
func (l *Listener) Collectors() []prometheus.Collector {
	labels := prometheus.Labels{"listener": l.name}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "backline_listener_open_connections", ConstLabels: labels,
			Help: "Client connections the listener holds open.",
		}, func() float64 { return float64(l.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "backline_listener_max_connections", ConstLabels: labels,
			Help: "Cap on open client connections; further ones wait in the listen backlog.",
		}, func() float64 { return float64(l.max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "backline_listener_accept_errors_total", ConstLabels: labels,
			Help: "Failed accepts (EMFILE, ENFILE, ENOBUFS, ...) that were retried.",
		}, func() float64 { return float64(l.AcceptErrors()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "backline_listener_idle_evictions_total", ConstLabels: labels,
			Help: "Idle keep-alive connections closed to make room for a new client at the cap.",
		}, func() float64 { return float64(l.IdleEvictions()) }),
	}
}

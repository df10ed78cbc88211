package auth

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cache    *prometheus.CounterVec
	// panic counts selections made in panic (auth.nginx.panic).
	panic prometheus.Counter
	// hold counts nginx answers to logins held while no backend is
	// eligible (auth.nginx.no_backend_hold): wait, expired or full.
	hold *prometheus.CounterVec
	// series are the children of requests, duration and cache already
	// looked up (metrics_series.go).
	series seriesCache
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_auth_requests_total",
			Help: "Authentication requests by endpoint, protocol and outcome (ok, fail, tempfail, invalid).",
		}, []string{"endpoint", "protocol", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "backline_auth_duration_seconds",
			Help:    "Time to answer an authentication request.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint", "outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_auth_cache_total",
			Help: "Positive authentication cache lookups.",
		}, []string{"result"}),
		panic: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backline_selection_panic_total",
			Help: "Backend selections made while fewer than auth.nginx.panic.below_percent of the protocol's backends were eligible.",
		}),
		hold: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_auth_nginx_hold_total",
			Help: "nginx logins held while no backend was eligible, by answer: wait (Auth-Status: WAIT), expired (no_backend_hold used up: tempfail), full (too many held: tempfail).",
		}, []string{"answer"}),
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// A hot reload builds a new handler on the same registry: adopt the
	// vectors already registered, so counters carry on.
	var err error
	if m.requests, err = adopt(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = adopt(reg, m.duration); err != nil {
		return nil, err
	}
	if m.cache, err = adopt(reg, m.cache); err != nil {
		return nil, err
	}
	if m.panic, err = adopt(reg, m.panic); err != nil {
		return nil, err
	}
	if m.hold, err = adopt(reg, m.hold); err != nil {
		return nil, err
	}
	return m, nil
}

// adopt registers c, or returns the collector of the same description
// already registered.
func adopt[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// protocolLabel bounds the label's values: protocols come from clients.
func protocolLabel(p string) string {
	switch p {
	case "imap", "pop3", "smtp", "lmtp", "sieve", "http", "submission":
		return p
	case "":
		return "none"
	}
	return "other"
}

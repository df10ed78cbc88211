package auth

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Every answer counts itself in two labelled series. WithLabelValues hashes
// the label values and looks the child up under a lock, about 1 800
// instructions per request for the two; the label values come from small
// fixed sets, so each handler keeps the children it resolved by index.
// The vectors are the registry's (adopt), and nothing deletes their
// children, so a child resolved once stays the series a reload carries on.

var (
	seriesEndpoints = [...]string{"nginx", "header", "json"}
	seriesProtocols = [...]string{"imap", "pop3", "smtp", "lmtp", "sieve", "http", "submission", "none", "other"}
	seriesOutcomes  = [...]string{outcomeOK, outcomeFail, outcomeTempfail, outcomeInvalid}
)

// requestSeries are one label set's children.
type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// seriesCache holds the children by label index, resolved on first use
// (so a series appears in /metrics only once it was counted, as before).
type seriesCache struct {
	requests  [len(seriesEndpoints)][len(seriesProtocols)][len(seriesOutcomes)]atomic.Pointer[requestSeries]
	cacheHit  atomic.Pointer[prometheus.Counter]
	cacheMiss atomic.Pointer[prometheus.Counter]
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// request returns the children for endpoint, protocol (already a
// protocolLabel) and outcome.
func (m *metrics) request(endpoint, protocol, outcome string) *requestSeries {
	e, p, o := indexOf(seriesEndpoints[:], endpoint), indexOf(seriesProtocols[:], protocol), indexOf(seriesOutcomes[:], outcome)
	resolve := func() *requestSeries {
		return &requestSeries{
			requests: m.requests.WithLabelValues(endpoint, protocol, outcome),
			duration: m.duration.WithLabelValues(endpoint, outcome),
		}
	}
	if e < 0 || p < 0 || o < 0 {
		return resolve()
	}
	slot := &m.series.requests[e][p][o]
	if s := slot.Load(); s != nil {
		return s
	}
	s := resolve() // two racing requests resolve the same children
	slot.Store(s)
	return s
}

// cacheResult returns the cache counter for a hit or a miss.
func (m *metrics) cacheResult(hit bool) prometheus.Counter {
	slot, label := &m.series.cacheMiss, "miss"
	if hit {
		slot, label = &m.series.cacheHit, "hit"
	}
	if c := slot.Load(); c != nil {
		return *c
	}
	c := m.cache.WithLabelValues(label)
	slot.Store(&c)
	return c
}

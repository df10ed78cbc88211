package auth

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// TestCachedSeriesCarryOnAcrossHandlers: a handler's remembered children
// are the registry's series, so counts from the handler before a reload
// and the one after add up, for known and unknown label values alike.
func TestCachedSeriesCarryOnAcrossHandlers(t *testing.T) {
	reg := prometheus.NewRegistry()
	env := newEnv(t, func(_ *config.Config, o *Options) { o.Registerer = reg })
	h2, err := New(Options{Config: env.cfg, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*metrics{env.h.metrics, h2.metrics, env.h.metrics} {
		for range 2 {
			s := m.request("nginx", "imap", outcomeOK)
			s.requests.Inc()
			s.duration.Observe(0.001)
			m.request("nginx", "imap", outcomeFail).requests.Inc()
			m.request("future-endpoint", "imap", outcomeOK).requests.Inc() // not in the fixed sets
			m.cacheResult(true).Inc()
		}
		m.cacheResult(false).Inc()
	}
	got := gatherCounters(t, env)
	for k, want := range map[string]float64{
		`backline_auth_requests_total{endpoint="nginx",outcome="ok",protocol="imap"}`:           6,
		`backline_auth_requests_total{endpoint="nginx",outcome="fail",protocol="imap"}`:         6,
		`backline_auth_requests_total{endpoint="future-endpoint",outcome="ok",protocol="imap"}`: 6,
		`backline_auth_cache_total{result="hit"}`:                                               6,
		`backline_auth_cache_total{result="miss"}`:                                              3,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
	if n := seriesCount(t, env.h.metrics.duration); n != 3 {
		t.Errorf("%d duration series, want 3", n)
	}
}

func seriesCount(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}

// TestSeriesAppearOnlyOnceCounted: resolving children lazily keeps
// /metrics free of label sets that never happened.
func TestSeriesAppearOnlyOnceCounted(t *testing.T) {
	env := newEnv(t, nil)
	if n := seriesCount(t, env.h.metrics.requests); n != 0 {
		t.Fatalf("%d request series before any request", n)
	}
	env.do(nginxRequest("user", testPassword, "imap", "1"))
	if n := seriesCount(t, env.h.metrics.requests); n != 1 {
		t.Fatalf("%d request series after one request", n)
	}
}

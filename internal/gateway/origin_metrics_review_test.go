package gateway

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// originLabels lists the origin label values of a metric family.
func originLabels(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	return labelValues(t, reg, name, "origin")
}

// A reload that keeps a backend but removes one of its origins removes
// that origin's request counter once the old gateway is forgotten, as a
// removed backend's series go: else the series stays in /metrics at its
// last value for as long as the process runs. The kept origin's counter
// carries on, and goes on counting on the new gateway.
func TestReviewReloadForgetsRemovedOriginsSeries(t *testing.T) {
	a, b := newEcho(t), newEcho(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	build := func(origins ...string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: round_robin\n", origins...)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		g.Activate()
		t.Cleanup(g.Close)
		return g
	}
	serve := func(g *Gateway, n int) {
		t.Helper()
		for range n {
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
		}
	}
	first := build(a.URL, b.URL)
	serve(first, 2)
	nameA, nameB := first.backends["api"].origins.origins[0].name, first.backends["api"].origins.origins[1].name
	both := []string{nameA, nameB}
	slices.Sort(both)
	if got := originLabels(t, reg, "backline_gateway_origin_requests_total"); !slices.Equal(got, both) {
		t.Fatalf("origins counted %v", got)
	}

	second := build(a.URL) // keeps a, removes b
	m.ForgetUnused(first)
	if got := originLabels(t, reg, "backline_gateway_origin_requests_total"); !slices.Equal(got, []string{nameA}) {
		t.Errorf("after the reload removed %s: origins counted %v", nameB, got)
	}
	serve(second, 1)
	if v, _ := seriesValue(t, reg, "backline_gateway_origin_requests_total", "api"); v != 2 {
		t.Errorf("%s counted %v, want 2 (carried over)", nameA, v)
	}
}

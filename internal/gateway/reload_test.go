package gateway

import (
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// backendLabels lists the backend label values of a metric family.
func backendLabels(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	return labelValues(t, reg, name, "backend")
}

// labelValues lists the distinct values of a metric family's label,
// sorted.
func labelValues(t *testing.T, reg *prometheus.Registry, name, label string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Gateways of successive configurations share their series: a second
// gateway registers nothing twice, a kept backend's counter carries on, a
// removed backend's series go once the old gateway is forgotten, and a
// refused configuration leaves no series behind.
func TestSharedMetricsAcrossGateways(t *testing.T) {
	o := newEcho(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	build := func(yml string) (*Gateway, error) {
		return New(Options{Config: parseConfig(t, yml), Logger: slog.New(slog.DiscardHandler), Metrics: m})
	}
	two := `definitions:
  backends:
    api:
      origin: ` + o.URL + `
    old:
      origin: ` + o.URL + `
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /a
      proxy:
        backend: api
    - path: /o
      proxy:
        backend: old
`
	first, err := build(two)
	if err != nil {
		t.Fatal(err)
	}
	first.Activate()
	defer first.Close()
	for _, p := range []string{"/a", "/o"} {
		rec := httptest.NewRecorder()
		first.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", p, rec.Code)
		}
	}
	if got := backendLabels(t, reg, "backline_gateway_requests_total"); !slices.Equal(got, []string{"api", "old"}) {
		t.Fatalf("labels %v", got)
	}

	// Refused: an unset environment variable; "ghost" must not appear.
	if _, err := build(gatewayYAML(o.URL, "    ghost:\n      origin: "+o.URL+"\n",
		"    - path: /x\n      set_request_headers:\n        X-A: ${env.BACKLINE_TEST_NOT_SET}\n      proxy:\n        backend: ghost\n")); err == nil {
		t.Fatal("broken configuration accepted")
	}
	if got := backendLabels(t, reg, "backline_gateway_request_duration_seconds"); slices.Contains(got, "ghost") {
		t.Errorf("refused configuration left series: %v", got)
	}

	second, err := build(gatewayYAML(o.URL, "", "    - path: /a\n      proxy:\n        backend: api\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.Activate()
	m.ForgetUnused(first)
	rec := httptest.NewRecorder()
	second.ServeHTTP(rec, httptest.NewRequest("GET", "/a", nil))
	if rec.Code != 200 {
		t.Fatalf("/a on the second gateway: %d", rec.Code)
	}
	for _, name := range []string{"backline_gateway_requests_total", "backline_gateway_request_duration_seconds", "backline_gateway_queue_length"} {
		if got := backendLabels(t, reg, name); !slices.Equal(got, []string{"api"}) {
			t.Errorf("%s labels %v, want [api]", name, got)
		}
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "backline_gateway_requests_total" {
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 2 {
				t.Errorf("api requests %v, want 2 (carried over)", v)
			}
		}
	}
}

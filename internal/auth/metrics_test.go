package auth

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// gatherCounters collects the handler's counters as "name{labels}" -> value.
func gatherCounters(t *testing.T, env *testEnv) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(env.h.metrics.requests, env.h.metrics.cache)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

// A hot reload builds a second handler on the same registry: it adopts the
// registered series instead of failing, so the counters carry on.
func TestMetricsSharedAcrossHandlers(t *testing.T) {
	reg := prometheus.NewRegistry()
	env := newEnv(t, func(_ *config.Config, o *Options) { o.Registerer = reg })
	h2, err := New(Options{Config: env.cfg, Registerer: reg})
	if err != nil {
		t.Fatalf("second handler on the same registry: %v", err)
	}
	if h2.metrics.requests != env.h.metrics.requests || h2.metrics.duration != env.h.metrics.duration ||
		h2.metrics.cache != env.h.metrics.cache {
		t.Error("second handler has its own series")
	}
}

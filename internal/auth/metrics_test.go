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

func TestMetricsRegisterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	env := newEnv(t, func(_ *config.Config, o *Options) { o.Registerer = reg })
	_ = env
	if _, err := New(Options{Config: env.cfg, Registerer: reg}); err == nil {
		t.Error("registering the metrics twice must fail")
	}
}

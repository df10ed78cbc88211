package lua

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gathered is one family's series by their label values (joined by ",").
func gathered(t *testing.T, reg *prometheus.Registry, name string) (*dto.MetricFamily, map[string]*dto.Metric) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		out := map[string]*dto.Metric{}
		for _, m := range mf.GetMetric() {
			key := ""
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			out[key] = m
		}
		return mf, out
	}
	return nil, nil
}

func TestPrometheusSeriesOnTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	host := NewHost()
	host.Registerer = reg
	e := moduleEngine(t, host, 0, "prom_basic.lua")
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	check := func(round int) {
		mf, series := gathered(t, reg, "lua_test_requests_total")
		if mf == nil || mf.GetHelp() != "Requests seen" || mf.GetType() != dto.MetricType_COUNTER {
			t.Fatalf("requests family: %v", mf)
		}
		if v := series["service=imap"].GetCounter().GetValue(); v != float64(2*round) {
			t.Errorf("round %d: imap counter %v", round, v)
		}
		if m, ok := series["service=pop3"]; !ok || m.GetCounter().GetValue() != 0 {
			t.Errorf("touch_counter: %v", m)
		}
		_, gauges := gathered(t, reg, "lua_test_inflight")
		if v := gauges["service=imap"].GetGauge().GetValue(); v != float64(round) {
			t.Errorf("round %d: imap gauge %v", round, v)
		}
		if v := gauges["service=smtp"].GetGauge().GetValue(); v != 7 {
			t.Errorf("smtp gauge %v, want 7 (set 5, add 2.5, sub 0.5)", v)
		}
		_, nolabels := gathered(t, reg, "lua_test_nolabels_total")
		if v := nolabels[""].GetCounter().GetValue(); v != float64(2*round) {
			t.Errorf("no-label counter %v", v)
		}
		_, hist := gathered(t, reg, "lua_test_duration_seconds")
		h := hist["step=filter"].GetHistogram()
		if h.GetSampleCount() != uint64(round) || len(h.GetBucket()) != luaHistogramBuckets || h.GetBucket()[0].GetUpperBound() != 0.001 {
			t.Errorf("histogram: %d samples, %d buckets", h.GetSampleCount(), len(h.GetBucket()))
		}
		_, sum := gathered(t, reg, "lua_test_summary_seconds")
		if c := sum[""].GetSummary().GetSampleCount(); c != uint64(round) {
			t.Errorf("summary samples %d", c)
		}
		if mf, _ := gathered(t, reg, "lua_test_unknown_total"); mf != nil {
			t.Error("an unknown name was registered")
		}
	}
	check(1)
	// A second engine on the same Host (a reload) runs the same creates
	// without a panic or an error, and the series carry on.
	e2 := moduleEngine(t, host, 0, "prom_basic.lua")
	if _, err := e2.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	check(2)
}

func TestPrometheusCardinalityIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	host := NewHost()
	host.Registerer = reg
	e := moduleEngine(t, host, 0, "prom_cardinality.lua")
	e.timeout = 5 * 60e9 // a million calls on a shared machine
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, series := gathered(t, reg, "lua_test_per_user_total")
	if len(series) != maxLuaMetricSeries {
		t.Errorf("%d series kept, want %d", len(series), maxLuaMetricSeries)
	}
	if v := series["user=u1"].GetCounter().GetValue(); v != 2 {
		t.Errorf("u1 = %v", v)
	}
	_, dropped := gathered(t, reg, "backline_lua_metric_series_dropped_total")
	if v, want := dropped["metric=lua_test_per_user_total"].GetCounter().GetValue(), float64(1000000-maxLuaMetricSeries+2); v != want {
		t.Errorf("dropped %v, want %v", v, want)
	}
}

func TestPrometheusNeverExportsThePassword(t *testing.T) {
	reg := prometheus.NewRegistry()
	host := NewHost()
	host.Registerer = reg
	e := moduleEngine(t, host, 0, "prom_password.lua")
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "Tr0ub4dor&3"}); err != nil {
		t.Fatal(err)
	}
	_, series := gathered(t, reg, "lua_test_careless_total")
	if _, ok := series["secret=pw=<redacted>,user=alice"]; !ok || len(series) != 1 {
		t.Errorf("series: %v", series)
	}
}

func TestPrometheusSeriesBoundedOverAllVectors(t *testing.T) {
	host := NewHost()
	host.Registerer = prometheus.NewRegistry()
	m := host.metrics()
	vecs := maxLuaMetricSeriesTotal/maxLuaMetricSeries + 1
	kept := 0
	for v := range vecs {
		name := fmt.Sprintf("lua_test_v%d_total", v)
		if err := m.create(kindCounter, name, "x", []string{"l"}); err != nil {
			t.Fatal(err)
		}
		for i := range maxLuaMetricSeries {
			_, use, err := m.series(kindCounter, name, map[string]string{"l": fmt.Sprint(i)})
			if err != nil {
				t.Fatal(err)
			}
			if use == useOK {
				kept++
			}
		}
	}
	if kept != maxLuaMetricSeriesTotal {
		t.Errorf("kept %d series, want %d", kept, maxLuaMetricSeriesTotal)
	}
	// A series that exists still works at the bound.
	if _, use, _ := m.series(kindCounter, "lua_test_v0_total", map[string]string{"l": "0"}); use != useOK {
		t.Error("an existing series was dropped")
	}
}

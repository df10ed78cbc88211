package health

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backline/backline/internal/probe"
)

func TestMetricsFollowRounds(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	expiry := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	// Three rounds are measured; a fourth, which the 1 ms interval starts
	// before the test can stop the engine, waits here until the stop
	// cancels it, so it never counts.
	var mu sync.Mutex
	calls := map[string]int{}
	checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		mu.Lock()
		calls[tg.Name+"/"+string(phase)]++
		n := calls[tg.Name+"/"+string(phase)]
		mu.Unlock()
		if n > 3 {
			<-ctx.Done()
			return probe.Result{Phase: phase, Err: ctx.Err()}
		}
		if tg.Name == "down" {
			return probe.Result{Phase: phase, Reason: probe.ReasonAuth, Err: errTestRefused, Duration: 3 * time.Millisecond,
				Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}, {Name: "auth", Duration: 2 * time.Millisecond}}}
		}
		return probe.Result{Phase: phase, OK: true, Duration: 2 * time.Millisecond, CertNotAfter: expiry,
			Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: time.Millisecond}}}
	})
	g := mailGroup(mailTarget("up", 1, false), mailTarget("down", 2, true))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	g.FailureThreshold = 2
	e, err := New([]Group{g}, checker, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// Before the first round: initial states are exported.
	if v := metricValue(t, reg, "backend_servers_status", "wanted"); v != 2 {
		t.Fatalf("wanted = %v before the first round, want 2", v)
	}
	if v := metricValue(t, reg, "backline_backend_up", GroupMail, "down", "imap"); v != 1 {
		t.Fatalf("down up = %v before the first round, want 1 (initial healthy)", v)
	}

	h := startEngineFrom(t, e)
	h.rounds(t, 3)
	h.stop()

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"up{up}", metricValue(t, reg, "backline_backend_up", GroupMail, "up", "imap"), 1},
		{"up{down}", metricValue(t, reg, "backline_backend_up", GroupMail, "down", "imap"), 0},
		{"phase_up{down,connect}", metricValue(t, reg, "backline_backend_phase_up", GroupMail, "down", "connect"), 1},
		{"phase_up{down,deep}", metricValue(t, reg, "backline_backend_phase_up", GroupMail, "down", "deep"), 0},
		{"failures{down,deep,auth}", metricValue(t, reg, "backline_probe_failures_total", GroupMail, "down", "deep", "auth"), 3},
		{"transitions{down,deep,unhealthy}", metricValue(t, reg, "backline_backend_transitions_total", GroupMail, "down", "deep", "unhealthy"), 1},
		{"cert expiry{up}", metricValue(t, reg, "backline_backend_cert_expiry_timestamp_seconds", GroupMail, "up"), float64(expiry.Unix())},
		{"servers wanted", metricValue(t, reg, "backend_servers_status", "wanted"), 2},
		{"servers alive", metricValue(t, reg, "backend_servers_status", "alive"), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := seriesCount(t, reg, "backline_probe_duration_seconds"); n != 3 {
		t.Errorf("probe duration series = %d, want 3 (up/connect, down/connect, down/deep)", n)
	}
	// 3 rounds x 2 steps of "up", 3 x 2 of "down": connect, tls and auth series.
	if n := seriesCount(t, reg, "backline_probe_step_duration_seconds"); n != 3 {
		t.Errorf("step duration series = %d, want 3", n)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		if f.GetName() == "backline_backend_uptime_ratio" {
			continue // present once a millisecond was checked: TestUptimeMetric
		}
		names = append(names, f.GetName())
		if strings.Contains(f.String(), testPassword) {
			t.Fatalf("metric %s contains the password", f.GetName())
		}
	}
	want := "backend_servers_status backline_backend_cert_expiry_timestamp_seconds backline_backend_draining backline_backend_eligible backline_backend_phase_up backline_backend_transitions_total backline_backend_up backline_probe_duration_seconds backline_probe_failures_total backline_probe_interval_in_use_seconds backline_probe_interval_seconds backline_probe_last_check_timestamp_seconds backline_probe_step_duration_seconds"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("families:\n%s\nwant:\n%s", got, want)
	}
}

func TestMetricsSurviveASecondEngineOnOneRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := New([]Group{mailGroup(mailTarget("old", 1, false))}, &scriptChecker{}, Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New([]Group{mailGroup(mailTarget("new", 2, false))}, &scriptChecker{}, Options{Registerer: reg}); err != nil {
		t.Fatalf("second engine on the same registry (a reload): %v", err)
	}
	if n := seriesCount(t, reg, "backline_backend_up"); n != 1 {
		t.Fatalf("%d up series after reload, want only the new engine's", n)
	}
	if v := metricValue(t, reg, "backline_backend_up", GroupMail, "new", "imap"); v != 1 {
		t.Fatalf("up{new} = %v", v)
	}
}

func TestLatencyHistogramBuckets(t *testing.T) {
	var h latencyHistogram
	for _, v := range []float64{0.001, 0.003, 40} {
		h.observe(v)
	}
	desc := prometheus.NewDesc("d", "h", []string{"l"}, nil)
	var pb dto.Metric
	if err := h.metric(desc, "x").Write(&pb); err != nil {
		t.Fatal(err)
	}
	hist := pb.GetHistogram()
	if hist.GetSampleCount() != 3 || hist.GetSampleSum() != 40.004 {
		t.Fatalf("count %d sum %v, want 3 and 40.004", hist.GetSampleCount(), hist.GetSampleSum())
	}
	want := map[float64]uint64{.001: 1, .0025: 1, .005: 2, 30: 2}
	for _, b := range hist.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
}

// metricValue reads one gauge or counter series; labelValues are in the
// order the metric declares its labels.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labelValues ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := m.GetLabel()
			if len(labels) != len(labelValues) {
				continue
			}
			for _, want := range labelValues {
				found := false
				for _, l := range labels {
					if l.GetValue() == want {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labelValues)
	return 0
}

func seriesCount(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

// TestScrapeWhileRunning lets the race detector watch scrapes that overlap
// rounds: the per-target collector reads snapshots and atomic histograms only.
func TestScrapeWhileRunning(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	g := mailGroup(mailTarget("a", 1, true), mailTarget("b", 2, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, 2*time.Millisecond
	h := startEngine(t, []Group{g}, &scriptChecker{script: map[string][]bool{"a/deep": {true, false}}}, Options{Registerer: reg})
	for range 20 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		h.next(t)
	}
	h.stop()
}

package health

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsProbeSchedule: the last check per phase and the groups'
// intervals are exported, so an alert can see probes falling behind
// (deploy/prometheus); paused checks drop their last-check series.
func TestMetricsProbeSchedule(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	g := mailGroup(mailTarget("plain", 1, false), mailTarget("deep", 2, true))
	g.ConnectInterval, g.DeepInterval = 30*time.Second, 30*time.Second // one combined round: both phases probed at once
	e, err := New([]Group{g}, &scriptChecker{}, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if n := seriesCount(t, reg, "backline_probe_last_check_timestamp_seconds"); n != 0 {
		t.Fatalf("%d last-check series before the first probe, want 0", n)
	}
	if v := metricValue(t, reg, "backline_probe_interval_seconds", GroupMail, "connect"); v != 30 {
		t.Errorf("connect interval = %v, want 30", v)
	}
	if v := metricValue(t, reg, "backline_probe_interval_seconds", GroupMail, "deep"); v != 30 {
		t.Errorf("deep interval = %v, want 30", v)
	}

	h := startEngineFrom(t, e)
	snap := h.rounds(t, 1)
	h.stop()
	for _, c := range []struct {
		name, phase string
		last        time.Time
	}{
		{"plain", "connect", backendByName(t, snap, "plain").Connect.LastCheck},
		{"deep", "deep", backendByName(t, snap, "deep").Deep.LastCheck},
	} {
		if c.last.IsZero() {
			t.Fatalf("%s: no %s check in the snapshot", c.name, c.phase)
		}
		got := metricValue(t, reg, "backline_probe_last_check_timestamp_seconds", GroupMail, c.name, c.phase)
		if want := float64(c.last.UnixNano()) / 1e9; got != want {
			t.Errorf("last check %s/%s = %v, want %v", c.name, c.phase, got, want)
		}
	}

	paused := true
	if _, err := e.SetAdmin("deep", AdminChange{ChecksPaused: &paused, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "backline_probe_last_check_timestamp_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == "deep" {
					t.Errorf("paused backend still exports a last check: %v", m)
				}
			}
		}
	}
}

package gateway

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// SlowStartRamps lists the origins ramping now, by registry ID, with
// their share, start and end; steady origins, origins down and ramps that
// are over are left out.
func TestSlowStartRampsView(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(origins ...string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: weighted\n      slow_start: 100s\n", origins...)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		g.Activate()
		t.Cleanup(g.Close)
		return g
	}
	build("http://127.0.0.1:4001")
	if got := m.SlowStartRamps(time.Now()); len(got) != 0 {
		t.Fatalf("ramps at startup: %v", got)
	}
	g := build("http://127.0.0.1:4001", "http://127.0.0.1:4002")
	set := g.backends["api"].origins
	if got := m.SlowStartRamps(time.Now()); len(got) != 0 {
		t.Fatalf("an added origin not yet picked ramps: %v", got)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set.candidates(nil, t0, nil, false, nil) // the ramp starts at the first pick
	id := BackendID("api", "http", "127.0.0.1:4002")
	got := m.SlowStartRamps(t0.Add(50 * time.Second))
	want := health.SlowStartRamp{Since: t0, Until: t0.Add(100 * time.Second), Share: 0.5}
	if len(got) != 1 || !got[id].Since.Equal(want.Since) || !got[id].Until.Equal(want.Until) || got[id].Share != want.Share {
		t.Fatalf("half way: %+v, want %s: %+v", got, id, want)
	}
	if got := m.SlowStartRamps(t0.Add(100 * time.Second)); len(got) != 0 {
		t.Errorf("after the ramp: %v", got)
	}
	var none *Metrics
	if none.SlowStartRamps(t0) != nil {
		t.Error("nil metrics list ramps")
	}
}

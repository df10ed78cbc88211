package gateway

import (
	"sync"
	"testing"
	"time"
)

// A reload that builds a gateway and then fails (a Lua or passdb error in
// the rest of the generation, an engine that refuses the groups) leaves
// the running gateway in charge, with its own slow_start. The status view
// must keep describing the ramp the running picks follow, not the one the
// discarded configuration would have.
func TestSlowStartViewIgnoresAGatewayThatWasNeverActivated(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(slowStart string, origins ...string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: weighted\n      slow_start: "+slowStart+"\n", origins...)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		return g
	}
	first := build("100s", "http://127.0.0.1:4001")
	first.Activate()
	running := build("100s", "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	running.Activate()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	running.backends["api"].origins.candidates(nil, t0, nil, false, nil) // the ramp starts
	id := BackendID("api", "http", "127.0.0.1:4002")

	// The failed reload: built with another slow_start, closed, never
	// activated.
	discarded := build("10s", "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	discarded.Close()

	at := t0.Add(50 * time.Second)
	got, ok := m.SlowStartRamps(at)[id]
	if !ok {
		t.Fatalf("the running ramp (100s, half way) is not shown: %v", m.SlowStartRamps(at))
	}
	if !got.Until.Equal(t0.Add(100*time.Second)) || got.Share != 0.5 {
		t.Errorf("ramp %+v, want until %v at share 0.5 (the running slow_start)", got, t0.Add(100*time.Second))
	}
	// What the running gateway's picks give the origin at the same time.
	for _, c := range running.backends["api"].origins.candidates(nil, at, nil, false, nil) {
		if c.o.id == id && c.share != 500 {
			t.Errorf("the picks' share is %d/1000, the view says %v", c.share, got.Share)
		}
	}

	// A reload that is activated does change it.
	next := build("10s", "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	next.Activate()
	if r, ok := m.SlowStartRamps(t0.Add(5 * time.Second))[id]; !ok || !r.Until.Equal(t0.Add(10*time.Second)) {
		t.Errorf("after an activated reload to 10s: %+v (shown %v)", r, ok)
	}
}

// The status page reads the ramps while requests start, finish and
// reloads replace them (run with -race).
func TestSlowStartViewConcurrentWithPicksAndReloads(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(origins ...string) *Gateway {
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: weighted\n      slow_start: 100s\n", origins...)), Metrics: m})
		if err != nil {
			t.Error(err)
			return nil
		}
		return g
	}
	g := build("http://127.0.0.1:4001")
	g.Activate()
	t.Cleanup(g.Close)
	g2 := build("http://127.0.0.1:4001", "http://127.0.0.1:4002")
	g2.Activate()
	t.Cleanup(g2.Close)
	set := g2.backends["api"].origins
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				set.candidates(nil, time.Now(), nil, false, nil)
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			origins := []string{"http://127.0.0.1:4001", "http://127.0.0.1:4002"}
			if i%2 == 0 {
				origins = append(origins, "http://127.0.0.1:4003")
			}
			if n := build(origins...); n != nil {
				n.Activate()
				m.ForgetUnused(n)
				n.Close()
			}
		}
	})
	for range 200 {
		for id, r := range m.SlowStartRamps(time.Now()) {
			if r.Share < 0.1 || r.Share > 1 || !r.Until.After(r.Since) {
				t.Errorf("%s: %+v", id, r)
			}
		}
	}
	close(stop)
	wg.Wait()
}

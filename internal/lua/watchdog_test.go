package lua

import (
	"context"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// TestWatchdogQuietWhileRunsAreShort: a steady stream of short runs never
// lasts watchTick, so the watchdog does not tick. A ticker running whenever
// a run was active woke a goroutine every 2 ms under load and more than
// doubled the nginx endpoint's p99 latency at GOMAXPROCS=1 (bench/soak). The
// bound is a quarter of the ticks such a ticker makes, so a run the machine
// happened to delay past watchTick does not fail the test.
func TestWatchdogQuietWhileRunsAreShort(t *testing.T) {
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "short", filterBody(`local x = r.username`))}})
	start := time.Now()
	for i := 0; i < 1_000_000 && time.Since(start) < 300*time.Millisecond; i++ {
		if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	alwaysOn := int64(elapsed / watchTick)
	if ticks := e.watch.ticks.Load(); ticks > alwaysOn/4 {
		t.Errorf("the watchdog ticked %d times in %s of short runs (an always-on ticker: %d)", ticks, elapsed, alwaysOn)
	}
}

// TestWatchdogWatchesALongRunThenStops: a run that lasts is measured by
// the watchdog, which stops once no run is long.
func TestWatchdogWatchesALongRunThenStops(t *testing.T) {
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "long", filterBody(
		`local t0 = os.clock() while os.clock() - t0 < 0.05 do end`))}})
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if e.watch.ticks.Load() == 0 {
		t.Error("the watchdog never ticked during a 50 ms run")
	}
	done := make(chan struct{})
	go func() { e.watch.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the watchdog still runs with no run active")
	}
	e.watch.mu.Lock()
	running := e.watch.running
	e.watch.mu.Unlock()
	if running {
		t.Error("the watchdog is marked running after it ended")
	}
}

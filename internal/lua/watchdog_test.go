package lua

import (
	"context"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// TestWatchdogQuietWhileRunsAreShort: a steady stream of short runs never
// lasts watchTick, so the watchdog does not tick. A ticker running whenever
// a run was active woke a goroutine every 2 ms under load and more than
// doubled the nginx endpoint's p99 latency at GOMAXPROCS=1 (bench/soak).
//
// A run the machine delayed past watchTick may be watched, and on a loaded
// CI machine under -race many are (a fixed share of an always-on ticker's
// ticks was exceeded there): each tick is allowed only for a run that
// lasted watchTick, at most one per watchTick of its length plus two (the
// first tick comes at once, and the ticker may deliver one late tick right
// before its next).
func TestWatchdogQuietWhileRunsAreShort(t *testing.T) {
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "short", filterBody(`local x = r.username`))}})
	before := e.watch.ticks.Load()
	start := time.Now()
	var allowed int64
	long := 0
	for i := 0; i < 1_000_000 && time.Since(start) < 300*time.Millisecond; i++ {
		runStart := time.Now()
		if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(runStart); d >= watchTick {
			allowed += int64(d/watchTick) + 2
			long++
		}
	}
	elapsed := time.Since(start)
	alwaysOn := int64(elapsed / watchTick)
	ticks := e.watch.ticks.Load() - before
	t.Logf("%d ticks in %s; %d runs lasted %s or more, allowing %d; an always-on ticker: %d", ticks, elapsed, long, watchTick, allowed, alwaysOn)
	if ticks > allowed {
		t.Errorf("the watchdog ticked %d times in %s of short runs, more than the %d runs that lasted %s allow (an always-on ticker: %d)",
			ticks, elapsed, long, watchTick, alwaysOn)
	}
}

// TestWatchdogWatchesALongRunThenStops: a run that lasts is measured by
// the watchdog, which stops once no run is long. The run lasts until the
// watchdog has ticked (at most 5 s): a fixed 50 ms could pass on a starved
// machine before the timer's goroutine ran.
func TestWatchdogWatchesALongRunThenStops(t *testing.T) {
	e, _ := newEngineWith(t, engineSetup{filters: []config.LuaFilter{filter(t, "long", filterBody(
		`local t0 = os.clock() while watchdog_ticks() == 0 and os.clock() - t0 < 5 do end`))}}, func(e *Engine) {
		e.testGlobals = map[string]glua.LGFunction{"watchdog_ticks": func(L *glua.LState) int {
			L.Push(glua.LNumber(e.watch.ticks.Load()))
			return 1
		}}
	})
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if e.watch.ticks.Load() == 0 {
		t.Error("the watchdog never ticked during a 5 s run")
	}
	done := make(chan struct{})
	go func() { e.watch.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute): // it ends within a tick; a minute only for a starved machine
		t.Fatal("the watchdog still runs with no run active")
	}
	e.watch.mu.Lock()
	running := e.watch.running
	e.watch.mu.Unlock()
	if running {
		t.Error("the watchdog is marked running after it ended")
	}
}

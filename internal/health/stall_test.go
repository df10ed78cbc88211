package health

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

func TestStalledDuringCountsOverlapsAndAStallUnderWay(t *testing.T) {
	var w stallWatch
	t0 := time.Unix(1000, 0)
	w.record(stallInterval{from: t0.Add(-2 * time.Second), to: t0.Add(-time.Second)}) // before the window
	w.record(stallInterval{from: t0.Add(500 * time.Millisecond), to: t0.Add(1500 * time.Millisecond)})
	w.record(stallInterval{from: t0.Add(2800 * time.Millisecond), to: t0.Add(4 * time.Second)}) // runs past it
	if got := w.stalledDuring(t0, t0.Add(3*time.Second)); got != 1200*time.Millisecond {
		t.Fatalf("stalled %v, want 1.2s", got)
	}
	// The ticker last woke at t0 and has not since: from one tick after
	// that, the process is stalled now.
	w = stallWatch{lastWake: t0}
	if got := w.stalledDuring(t0, t0.Add(150*time.Millisecond)); got != 0 {
		t.Fatalf("stalled %v within the ticker's slack, want 0", got)
	}
	if got := w.stalledDuring(t0, t0.Add(3*time.Second)); got != 3*time.Second-stallTick {
		t.Fatalf("stalled %v, want %v", got, 3*time.Second-stallTick)
	}
	// More stalls than are kept: the oldest are forgotten, nothing breaks.
	w = stallWatch{}
	for i := range 3 * stallsKept {
		at := t0.Add(time.Duration(i) * time.Second)
		w.record(stallInterval{from: at, to: at.Add(time.Millisecond)})
	}
	if got := w.stalledDuring(t0, t0.Add(1000*time.Second)); got != stallsKept*time.Millisecond {
		t.Fatalf("stalled %v, want the %d kept", got, stallsKept)
	}
}

func TestOnlyTimeoutsDuringAStallAreExcused(t *testing.T) {
	var w stallWatch
	now := time.Now()
	w.record(stallInterval{from: now.Add(-3 * time.Second), to: now.Add(time.Hour)})
	timeout := &probe.Result{Reason: probe.ReasonTimeout, Duration: 4 * time.Second, Err: errors.New("i/o timeout")}
	if stalled, ok := w.stalledTimeout(timeout, now); !ok || stalled < 2*time.Second {
		t.Fatalf("a 4 s timeout with 3 s stalled: %v %v, want excused", stalled, ok)
	}
	long := &probe.Result{Reason: probe.ReasonTimeout, Duration: 10 * time.Second}
	if _, ok := w.stalledTimeout(long, now); ok {
		t.Fatal("a 10 s timeout with 3 s stalled was excused")
	}
	refused := &probe.Result{Reason: probe.ReasonRefused, Duration: 4 * time.Second}
	if _, ok := w.stalledTimeout(refused, now); ok {
		t.Fatal("a refused connection was excused: that is the backend's answer")
	}
	if _, ok := w.stalledTimeout(&probe.Result{OK: true, Duration: time.Second}, now); ok {
		t.Fatal("a success was taken for a stalled timeout")
	}
}

// The stall is measured over the probe's own time, not up to the end of
// its round: a round lasts as long as its slowest probe plus the jitter.
func TestStalledTimeoutIsJudgedWhenTheProbeEnded(t *testing.T) {
	var w stallWatch
	now := time.Now()
	timeout := &probe.Result{Reason: probe.ReasonTimeout, Duration: 2 * time.Second}
	// Stalled from 2.5 s to 0.5 s before now: a probe that ended 3 s ago
	// (others of the round still running) was not stalled at all.
	w.record(stallInterval{from: now.Add(-2500 * time.Millisecond), to: now.Add(-500 * time.Millisecond)})
	if stalled, ok := w.stalledTimeout(timeout, now.Add(-3*time.Second)); ok {
		t.Fatalf("a timeout that ended before the stall was excused (stalled %v)", stalled)
	}
	// One that ended 0.5 s ago spent its whole time stalled.
	if _, ok := w.stalledTimeout(timeout, now.Add(-500*time.Millisecond)); !ok {
		t.Fatal("a timeout stalled throughout was not excused when judged at its own end")
	}
	if _, ok := w.stalledTimeout(timeout, time.Time{}); ok {
		t.Fatal("a probe with no end time was excused")
	}
}

// A round whose probes time out while the process is stalled leaves the
// backends as they were; the same timeouts without a stall mark them down.
func TestStalledTimeoutsKeepTheBackendState(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var mode atomic.Int32 // 0 healthy, 1 timeouts while stalled, 2 plain timeouts
	var e *Engine
	checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		switch mode.Load() {
		case 1:
			// The answer "took" 2 s, all of them with the process stalled.
			now := time.Now()
			e.stalls.record(stallInterval{from: now.Add(-2 * time.Second), to: now})
			return probe.Result{Phase: phase, Reason: probe.ReasonTimeout, FailedPhase: probe.PhaseConnect,
				Err: errors.New("dial tcp: i/o timeout"), Duration: 2 * time.Second}
		case 2:
			// A short (faked) duration, so that a real stall of this busy
			// test machine hardly ever covers half of it.
			return probe.Result{Phase: phase, Reason: probe.ReasonTimeout, FailedPhase: probe.PhaseConnect,
				Err: errors.New("dial tcp: i/o timeout"), Duration: 10 * time.Millisecond}
		}
		return probe.Result{Phase: phase, OK: true, Steps: []probe.Step{{Name: "connect"}}}
	})
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	h := startEngine(t, []Group{g}, checker, Options{Registerer: reg, Logger: logger}, func(en *Engine) { e = en })
	h.rounds(t, 2)
	mode.Store(1)
	h.fresh(t)
	stalled := h.rounds(t, 4)
	mode.Store(2)
	h.fresh(t)
	// The stalls noted so far are as recent as the next probes' (faked)
	// two seconds: forget them, so that nothing covers those.
	e.stalls.mu.Lock()
	e.stalls.stalls = [stallsKept]stallInterval{}
	e.stalls.mu.Unlock()
	h.fresh(t)
	timedOut := h.rounds(t, 2)
	h.stop()

	for _, name := range []string{"a", "b"} {
		if b := backendByName(t, stalled, name); !b.Healthy || b.Connect.LastError != "" {
			t.Errorf("%s after stalled timeouts: %+v, want healthy with no error recorded", name, b)
		}
		if b := backendByName(t, timedOut, name); b.Healthy {
			t.Errorf("%s after plain timeouts: still healthy", name)
		}
	}
	if v := metricValue(t, reg, "backline_probe_stalled_total", GroupMail); v < 2*3 {
		t.Errorf("stalled probes counted %v, want at least 6", v)
	}
	var warnings int
	for _, rec := range logs.records(t) {
		if rec["msg"] == "health probe timed out while this process was stalled: backend state kept" {
			warnings++
			if rec["level"] != "WARN" || rec["stalled"] == nil || rec["target"] == nil {
				t.Errorf("stall line lacks level, stalled or target: %v", rec)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d stall lines, want 1 (rate-limited)\n%s", warnings, logs.String())
	}
}

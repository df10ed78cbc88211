package health

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// Issue 9 item 6: 20,000 idle connections exhausted the descriptors, every
// probe failed with "too many open files" and every backend was marked down.
// A probe that could not open a socket is a local failure: the backend keeps
// its state, the failure is logged at ERROR (rate-limited) and counted.

func localResult(phase probe.Phase) probe.Result {
	err := fmt.Errorf("no local resources to open a socket: %w", os.NewSyscallError("socket", syscall.EMFILE))
	return probe.Result{Phase: phase, Reason: probe.ReasonLocal, FailedPhase: probe.PhaseConnect, Err: err, Duration: time.Microsecond}
}

// clock is a settable Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestLocalResourceFailuresKeepTheBackendState(t *testing.T) {
	for _, combined := range []bool{true, false} {
		t.Run(fmt.Sprintf("combined=%v", combined), func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			var logs lockedBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			clk := &clock{now: time.Unix(1000, 0)}
			var mu sync.Mutex
			local := false
			checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
				mu.Lock()
				defer mu.Unlock()
				if local {
					return localResult(phase)
				}
				if tg.Name == "down" {
					return probe.Result{Phase: phase, Reason: probe.ReasonRefused, FailedPhase: probe.PhaseConnect, Err: errTestRefused}
				}
				return probe.Result{Phase: phase, OK: true, Steps: []probe.Step{{Name: "connect"}}}
			})
			g := mailGroup(mailTarget("up", 1, true), mailTarget("down", 2, true), mailTarget("plain", 3, false))
			g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
			if !combined {
				g.DeepInterval = 2 * time.Millisecond
			}
			h := startEngine(t, []Group{g}, checker, Options{Registerer: reg, Logger: logger, Now: clk.Now})
			before := h.rounds(t, 2) // "down" is down, the others up
			mu.Lock()
			local = true
			mu.Unlock()
			// Six rounds that began after the switch (the snapshots before
			// them, however many piled up, are dropped): at least 12 local
			// failures.
			h.fresh(t)
			h.rounds(t, 5)
			clk.advance(time.Minute)
			// Four snapshots after the clock moved: at most one is a
			// republish of a backend gone stale, so at least three rounds,
			// 6 more failures, and the second ERROR line.
			h.fresh(t)
			after := h.rounds(t, 3)
			h.stop()

			for _, name := range []string{"up", "down", "plain"} {
				b0, b1 := backendByName(t, before, name), backendByName(t, after, name)
				if b0.Healthy != b1.Healthy || b0.Connect.Healthy != b1.Connect.Healthy || b0.Deep.Healthy != b1.Deep.Healthy {
					t.Errorf("%s: health changed on local failures: %+v -> %+v", name, b0, b1)
				}
				if strings.Contains(b1.Connect.LastError+b1.Deep.LastError, "EMFILE") ||
					strings.Contains(b1.Connect.LastError+b1.Deep.LastError, "too many open files") {
					t.Errorf("%s: a local failure was recorded as the backend's: %+v", name, b1)
				}
			}
			if v := metricValue(t, reg, "backline_probe_local_errors_total", GroupMail, "EMFILE"); v < 8*2 {
				t.Errorf("local errors = %v, want at least 16", v)
			}
			if v := failuresWithReason(t, reg, string(probe.ReasonLocal)); v != 0 {
				t.Errorf("%v local failures counted as backend failures", v)
			}
			var errorLines int
			for _, rec := range logs.records(t) {
				if rec["level"] != "ERROR" {
					continue
				}
				errorLines++
				if rec["errno"] != "EMFILE" || rec["target"] == nil {
					t.Errorf("ERROR line without errno or target: %v", rec)
				}
			}
			// Hundreds of local failures, two clock readings: two lines.
			if errorLines != 2 {
				t.Errorf("%d ERROR lines, want 2 (rate-limited)\n%s", errorLines, logs.String())
			}
		})
	}
}

func failuresWithReason(t *testing.T, reg prometheus.Gatherer, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != "backline_probe_failures_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

package health

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/backline/backline/internal/probe"
)

// A reload in the middle of a round used to throw the whole round away,
// verdicts of finished probes included: reloads coming faster than a round
// takes (a deploy loop, a storm of `systemctl reload`) froze every
// backend's health, until all of them went stale. Probes that finished
// before the reload count; only the cancelled ones do not.
func TestReconfigureKeepsVerdictsOfFinishedProbes(t *testing.T) {
	slowStarted := make(chan struct{}, 1)
	var reloaded atomic.Bool
	checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		if tg.Name == "slow" || reloaded.Load() {
			select {
			case slowStarted <- struct{}{}:
			default:
			}
			<-ctx.Done() // a probe still running when the reload comes
			return probe.Result{Phase: phase, Reason: probe.ReasonTimeout, Err: ctx.Err()}
		}
		return probe.Result{Phase: phase, Reason: probe.ReasonRefused, Err: errTestRefused}
	})
	g := mailGroup(mailTarget("fast", 1, false), mailTarget("slow", 2, false))
	// One probe at a time: when slow starts, fast has finished.
	h := startEngine(t, []Group{g}, checker, Options{MaxInFlight: 1})
	<-slowStarted
	// The rounds after the reload never finish: what the snapshot shows
	// is what the first round left.
	reloaded.Store(true)
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	fast, _ := findBackend(h.e.Snapshot(), "fast")
	if fast.Healthy || fast.Connect.ConsecutiveFailures != 1 {
		t.Errorf("fast's refused probe finished before the reload and was lost: healthy=%v failures=%d",
			fast.Healthy, fast.Connect.ConsecutiveFailures)
	}
	slow, _ := findBackend(h.e.Snapshot(), "slow")
	if !slow.Healthy || slow.Connect.ConsecutiveFailures != 0 || !slow.Connect.LastCheck.IsZero() {
		t.Errorf("slow's probe was cancelled by the reload, not a verdict: %+v", slow.Connect)
	}
}

// A drained backend renamed at the same address (a typo fixed in its name)
// stays drained: its health followed the rename, its admin state did not,
// so a server in maintenance went back into rotation on the reload.
func TestReconfigureRenameKeepsAdminState(t *testing.T) {
	e, err := New([]Group{mailGroup(mailTarget("mbox03", 1, false), mailTarget("mbox04", 2, false))}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	saved := 0
	e.OnAdminChange(func() { saved++ })
	drain := AdminDrain
	why := "disk swap"
	if _, err := e.SetAdmin("mbox03", AdminChange{State: &drain, Who: "ops", Why: &why}); err != nil {
		t.Fatal(err)
	}
	saved = 0
	if err := e.Reconfigure([]Group{mailGroup(mailTarget("mbox03.example", 1, false), mailTarget("mbox04", 2, false))}); err != nil {
		t.Fatal(err)
	}
	b, _ := findBackend(e.Snapshot(), "mbox03.example")
	if b.Eligible || b.Reason != ReasonDrain || b.Admin.Why != why || b.Admin.Who != "ops" {
		t.Errorf("renamed drained backend: eligible=%v reason=%q admin=%+v", b.Eligible, b.Reason, b.Admin)
	}
	if saved == 0 {
		t.Error("the moved admin state was not handed to the state file")
	}
	if b, _ := findBackend(e.Snapshot(), "mbox04"); !b.Eligible {
		t.Errorf("untouched backend: %+v", b)
	}
}

// refusedUntil refuses every probe but those of target blocked, which run
// until cancelled: a round that includes it never ends.
func refusedUntil(blocked string) probe.Checker {
	return checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		if tg.Name == blocked {
			<-ctx.Done()
		}
		return probe.Result{Phase: phase, Reason: probe.ReasonRefused, Err: errTestRefused}
	})
}

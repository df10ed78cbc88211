package health

import (
	"context"
	"testing"

	"github.com/backline/backline/internal/probe"
)

// Changes has a token after every kind of store, several stores make one
// token, and a reload publishes the group's new panic_threshold within
// Reconfigure (the status API reads it from the snapshot at once, before
// any round of the new configuration).
func TestChangesAndReloadedPanicThreshold(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		select { // no round of the new configuration finishes
		case <-block:
		case <-ctx.Done():
		}
		return probe.Result{Phase: phase, Reason: probe.ReasonRefused, Err: errTestRefused}
	})
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	g.PanicThreshold = 50
	e, err := New([]Group{g}, checker, Options{})
	if err != nil {
		t.Fatal(err)
	}
	drain := func() bool {
		select {
		case <-e.Changes():
			return true
		default:
			return false
		}
	}
	if !drain() {
		t.Error("no change token for the first snapshot")
	}
	if drain() {
		t.Error("a second token without a store")
	}
	state := AdminDrain
	if _, err := e.SetAdmin("a", AdminChange{State: &state, Who: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("b", AdminChange{State: &state, Who: "t"}); err != nil {
		t.Fatal(err)
	}
	if !drain() || drain() {
		t.Error("two admin changes: want one token")
	}
	h := startEngineFrom(t, e)
	g.PanicThreshold = 80
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if !drain() {
		t.Error("no change token after a reload")
	}
	for _, b := range h.e.Snapshot().Backends {
		if b.PanicThreshold != 80 {
			t.Errorf("%s: panic_threshold %d right after the reload, want 80", b.ID, b.PanicThreshold)
		}
	}
}

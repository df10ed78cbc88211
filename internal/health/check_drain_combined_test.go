package health

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// In a combined round (no connect round of its own) a drain answer from a
// backend that is down is a deep failure, but the connection and the HTTP
// answer came through: the connect phase records a success, as for any
// deep failure after a good connect, instead of staying at its last
// (possibly refused) result.
func TestCheckDrainWhileDownInCombinedRoundCreditsConnect(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: false}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	res := probe.Result{Phase: probe.PhaseDeep, OK: true, DrainStatus: 404}
	out := s.recordCombined(&res, time.Unix(1, 0))
	if out.ok || s.healthy || s.checkDrain != 0 {
		t.Fatalf("ok %v healthy %v checkDrain %d: a down backend stays down on a drain answer", out.ok, s.healthy, s.checkDrain)
	}
	if !out.connectRecorded || !out.connectOK || !s.connect.Healthy || s.connect.LastCheck.IsZero() {
		t.Errorf("connect phase: recorded %v ok %v healthy %v last check %v; want a connect success",
			out.connectRecorded, out.connectOK, s.connect.Healthy, s.connect.LastCheck)
	}
	if s.deep.LastReason != probe.ReasonProtocol {
		t.Errorf("deep last reason %q, want protocol", s.deep.LastReason)
	}
}

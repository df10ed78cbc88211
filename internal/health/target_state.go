package health

import (
	"time"

	"github.com/backline/backline/internal/probe"
)

// targetState is the mutable health of one target. Only its group's loop
// goroutine touches it; readers see copies through published snapshots.
type targetState struct {
	group  string
	name   string // label and log value: Target.Name, else host:port
	target *probe.Target

	connectGate gate
	deepGate    gate
	connect     PhaseState
	deep        PhaseState

	healthy      bool
	since        time.Time
	certNotAfter time.Time
	mechanism    string
	steps        []probe.Step
	history      history // for the status page; see history.go

	connectLatency *latencyHistogram
	deepLatency    *latencyHistogram // nil unless deep_check
}

func newTargetState(g *Group, t *probe.Target, start time.Time) *targetState {
	s := &targetState{
		group:       g.Name,
		name:        displayName(t),
		target:      t,
		connectGate: newGate(g.InitialHealthy, g.FailureThreshold, g.RecoveryThreshold),
		deepGate:    newGate(g.InitialHealthy, g.FailureThreshold, g.RecoveryThreshold),
		since:       start,
	}
	s.connectLatency = &latencyHistogram{}
	if t.DeepCheck {
		s.deepLatency = &latencyHistogram{}
	}
	s.connect.Healthy = s.connectGate.healthy
	s.deep.Healthy = s.deepGate.healthy
	s.healthy = s.combined()
	return s
}

// displayName never includes credentials: the operator-chosen name or the
// address.
func displayName(t *probe.Target) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Address()
}

// combined is contract §4.3's verdict: both gates for deep checks, the
// connect gate otherwise.
func (s *targetState) combined() bool {
	if s.target.DeepCheck {
		return s.connectGate.healthy && s.deepGate.healthy
	}
	return s.connectGate.healthy
}

// backend copies the state into a snapshot entry. Steps is shared: a
// result's Steps slice is never modified after the probe returns.
func (s *targetState) backend() Backend {
	return Backend{
		ID:           s.name,
		Group:        s.group,
		Weight:       1,
		Eligible:     s.healthy,
		Reason:       reasonUnless(s.healthy, ReasonUnhealthy),
		Target:       s.target,
		Healthy:      s.healthy,
		Since:        s.since,
		Connect:      s.connect,
		Deep:         s.deep,
		CertNotAfter: s.certNotAfter,
		Mechanism:    s.mechanism,
		Steps:        s.steps,
		History:      s.history.summary(),
	}
}

func reasonUnless(ok bool, r Reason) Reason {
	if ok {
		return ""
	}
	return r
}

package health

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/backline/backline/internal/probe"
)

// targetState is the mutable health of one target. Only its group's loop
// goroutine touches it; readers see copies through published snapshots.
type targetState struct {
	group  string
	id     string // backend ID: stable across rounds and reloads
	name   string // label and log value: Target.Name, else host:port
	target *probe.Target
	info   *TargetInfo // target without secrets, shared by snapshots
	weight int         // configured weight
	backup bool        // configured backup flag (Group.Backups)

	staleAfter time.Duration // see staleAfter
	paused     atomic.Bool   // admin checks_paused: no probes while set

	connectGate gate
	deepGate    gate
	connect     PhaseState
	deep        PhaseState

	healthy      bool
	since        time.Time
	certNotAfter time.Time
	mechanism    string
	addr         netip.Addr // checked_addr.go
	steps        []probe.Step
	history      history // for the status page; see history.go
	uptime       uptimeRing
	// checkDrain is the drain_on_status answer of the last deep check
	// while healthy (0: none); see check_drain.go.
	checkDrain int
	// checkDrainSince: when the running check drain began (its first
	// drain answer); meaningful while checkDrain != 0.
	checkDrainSince time.Time

	connectLatency *latencyHistogram
	deepLatency    *latencyHistogram

	passive passiveState // live-traffic ejections (passive.go)
	agent   agentState   // what its agent check said (agent.go)
	recheck recheckState // probes asked for outside the schedule (recheck.go)
	// fastSeen is gateResults when the fast schedule last looked (fast.go).
	fastSeen [2]uint64
	// downScheduled: down with Group.DownInterval set, probed on its own
	// due time instead of in the group's rounds (interval.go).
	downScheduled bool
	loop          *groupLoop // current loop; set by install under Engine.mu
}

func newTargetState(g *Group, t *probe.Target, start time.Time) *targetState {
	s := &targetState{
		group:       g.Name,
		id:          DefaultID(t),
		name:        displayName(t),
		target:      t,
		info:        InfoOf(t),
		weight:      1,
		connectGate: newGate(g.InitialHealthy, g.FailureThreshold, g.RecoveryThreshold),
		deepGate:    newGate(g.InitialHealthy, g.FailureThreshold, g.RecoveryThreshold),
		since:       start,
	}
	// Both always exist: a reload may turn deep checks on while a scrape
	// reads the histograms.
	s.connectLatency = &latencyHistogram{}
	s.deepLatency = &latencyHistogram{}
	s.connect.Healthy = s.connectGate.healthy
	s.deep.Healthy = s.deepGate.healthy
	s.healthy = s.combined()
	return s
}

// adopt moves a surviving state to its new configuration (the loops of
// both generations are stopped): new target and check settings, new gate
// thresholds; gates, counters, histograms and last results stay.
func (s *targetState) adopt(g *Group, t *probe.Target) {
	if s.target.Address() != t.Address() {
		// The checked address was reached for the old host and port.
		s.addr = netip.Addr{}
	}
	s.group = g.Name
	s.name = displayName(t)
	s.target = t
	s.info = InfoOf(t)
	s.connectGate.setThresholds(g.FailureThreshold, g.RecoveryThreshold)
	s.deepGate.setThresholds(g.FailureThreshold, g.RecoveryThreshold)
	if h := s.combined(); h != s.healthy {
		// A deep check switched off or on changes what healthy means.
		s.healthy = h
	}
	s.dropStaleCheckDrain()
	s.endCheckDrainIfDown()
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
		ID:               s.id,
		Group:            s.group,
		Weight:           s.weight,
		Backup:           s.backup,
		Admin:            defaultAdmin(s.weight),
		Eligible:         s.healthy && s.checkDrain == 0,
		Reason:           s.ownReason(),
		Draining:         s.healthy && s.checkDrain != 0,
		CheckDrainStatus: s.checkDrain,
		CheckDrainSince:  s.checkDrainStart(),
		Target:           s.info,
		Healthy:          s.healthy,
		Since:            s.since,
		Connect:          s.connect,
		Deep:             s.deep,
		CertNotAfter:     s.certNotAfter,
		Mechanism:        s.mechanism,
		Addr:             s.addr,
		Steps:            s.steps,
		History:          s.history.summary(),
		Uptime:           s.uptime.summary(),
		StaleAfter:       s.staleAfter,
	}
}

// ownReason is the reason of a fresh entry, before admin state and the
// rest of eligibility are applied.
func (s *targetState) ownReason() Reason {
	switch {
	case !s.healthy:
		return ReasonUnhealthy
	case s.checkDrain != 0:
		return ReasonCheckDrain
	}
	return ""
}

func reasonUnless(ok bool, r Reason) Reason {
	if ok {
		return ""
	}
	return r
}

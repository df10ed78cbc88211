package health

import (
	"math/rand/v2"
	"time"
)

// State-dependent intervals, as HAProxy's inter, fastinter and downinter:
// a backend that is up and stable is probed in its group's rounds; one
// part-way to a flip (failures counted toward failure_threshold while up,
// or successes toward recovery_threshold while down) gets a re-check
// FastInterval after each result (fast.go); one that is down and not
// part-way back up is probed DownInterval after its last result, and left
// out of the rounds meanwhile. Without FastInterval (DownInterval) those
// states follow the group's intervals, as HAProxy falls back to inter.
//
// The down schedule shares the fast one's timer and its path (probeNow):
// one combined probe per due backend (a deep_check backend's deep probe
// stands in for its connect probe), the one-per-second limit, the paused
// rule, a probe already requested shared. Rounds are per group; a per-
// backend due time is what lets a down backend be probed less often (or
// more often) than its group.

// IntervalState is which of its group's intervals a backend's probes follow.
type IntervalState uint8

const (
	// IntervalNone: no check probes the backend (a passive-only origin).
	IntervalNone IntervalState = iota
	// IntervalNormal: up and not counting toward a flip.
	IntervalNormal
	// IntervalTransitioning: part-way to a flip, either way; fast_interval
	// applies when set.
	IntervalTransitioning
	// IntervalDown: down and not part-way back up; down_interval applies
	// when set.
	IntervalDown
)

// String is the state's name in the API and metrics.
func (st IntervalState) String() string {
	switch st {
	case IntervalNormal:
		return "normal"
	case IntervalTransitioning:
		return "transitioning"
	case IntervalDown:
		return "down"
	}
	return ""
}

// Schedule is the interval a backend's probes follow now, and why. Small
// on purpose: every snapshot entry carries one.
type Schedule struct {
	// Connect and Deep are how far apart its connect and deep probes
	// come: the group's intervals, or the one configured for its state
	// (both phases then, one combined probe standing in for the two).
	// Deep is 0 for a backend without deep_check.
	Connect time.Duration
	Deep    time.Duration
	State   IntervalState
	// Own: the state's own setting (Setting) paces the probes, not the
	// group's intervals.
	Own bool
}

// Keys of Schedule.Setting.
const (
	KeyFastInterval = "fast_interval"
	KeyDownInterval = "down_interval"
)

// Setting names the key whose value is in use instead of the group's
// intervals: "fast_interval", "down_interval", or "".
func (sc Schedule) Setting() string {
	switch {
	case !sc.Own:
		return ""
	case sc.State == IntervalTransitioning:
		return KeyFastInterval
	case sc.State == IntervalDown:
		return KeyDownInterval
	}
	return ""
}

// intervalState is s's state for scheduling. An unhealthy backend with a
// gate counting successes is transitioning (HAProxy: health above 0, below
// rise), so fast_interval, not down_interval, brings it back. One whose
// gate counts failures while it is down already (a deep_check backend
// down on its login whose connect probe starts failing) is not on its way
// anywhere: that gate flipping changes nothing about its health.
func (s *targetState) intervalState() IntervalState {
	switch {
	case s.healthy && s.counting():
		return IntervalTransitioning
	case s.healthy:
		return IntervalNormal
	case s.countingUp():
		return IntervalTransitioning
	}
	return IntervalDown
}

// countingUp reports whether a gate that decides s's health is down with
// successes counted toward recovery_threshold.
func (s *targetState) countingUp() bool {
	if !s.connectGate.healthy && s.connectGate.counting() {
		return true
	}
	return s.target.DeepCheck && !s.deepGate.healthy && s.deepGate.counting()
}

// schedule is s's Schedule in l's group; zero for a passive-only group,
// which never probes.
func (l *groupLoop) schedule(s *targetState) Schedule {
	g := &l.group
	if g.PassiveOnly {
		return Schedule{}
	}
	sc := Schedule{State: s.intervalState(), Connect: g.ConnectInterval, Deep: g.DeepInterval}
	switch {
	case sc.State == IntervalTransitioning && g.FastInterval > 0:
		// The re-check comes FastInterval after a result; the rounds go on,
		// so neither phase waits longer than its own interval.
		sc.Connect, sc.Deep, sc.Own = min(g.FastInterval, sc.Connect), min(g.FastInterval, sc.Deep), true
	case sc.State == IntervalDown && g.DownInterval > 0:
		sc.Connect, sc.Deep, sc.Own = g.DownInterval, g.DownInterval, true
	}
	if !s.target.DeepCheck {
		sc.Deep = 0
	}
	return sc
}

// downDelay is how long after a result a down backend is probed again:
// DownInterval plus up to the group's jitter, so backends that went down
// together (a switch, a rack) do not stay in step, as jitter spreads the
// probes of a round.
func (l *groupLoop) downDelay() time.Duration {
	d := l.group.DownInterval
	if j := l.group.Jitter; j > 0 {
		if l.e.jitter != nil {
			d += l.e.jitter(j)
		} else {
			d += rand.N(j)
		}
	}
	return d
}

// scheduledOut reports whether a scheduled round leaves j out: paused
// checks, or a backend on its own down schedule. A requested probe (a
// kicked round) runs either way, bar pause.
func (l *groupLoop) scheduledOut(j job) bool {
	if j.state.paused.Load() {
		return true
	}
	return l.kicked == nil && j.state.downScheduled
}

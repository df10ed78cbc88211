package health

// gate is the health state machine of one phase (connect or deep) of one
// target, exactly as contract §4.3 describes it, including its quirk: the
// counter of the direction the gate already agrees with is reset on every
// probe, so "3 failures" means 3 failures in a row while healthy.
//
// Because that quirk makes the gate counters useless for operators ("how
// long has it been failing?"), the true streak counters are kept beside them.
type gate struct {
	healthy           bool
	failures          int // quirk counter: failures since the last success while healthy
	successes         int // quirk counter: successes since the last failure while unhealthy
	failureThreshold  int
	recoveryThreshold int

	streakFailures  int // consecutive failures, never reset by the quirk
	streakSuccesses int // consecutive successes, never reset by the quirk

	// results counts recorded outcomes, so the fast re-check schedule
	// (fast.go) can tell a round that fed this gate from one that did not
	// (an inconclusive probe, a paused target).
	results uint64
}

func newGate(initialHealthy bool, failureThreshold, recoveryThreshold int) gate {
	return gate{
		healthy:           initialHealthy,
		failureThreshold:  max(failureThreshold, 1),
		recoveryThreshold: max(recoveryThreshold, 1),
	}
}

// record feeds one probe outcome and reports whether the gate flipped.
func (g *gate) record(success bool) (changed bool) {
	g.results++
	if success {
		g.streakSuccesses++
		g.streakFailures = 0
		g.failures = 0
		if g.healthy {
			g.successes = 0
			return false
		}
		g.successes++
		if g.successes >= g.recoveryThreshold {
			g.healthy = true
			g.successes = 0
			return true
		}
		return false
	}
	g.streakFailures++
	g.streakSuccesses = 0
	g.successes = 0
	if !g.healthy {
		g.failures = 0
		return false
	}
	g.failures++
	if g.failures >= g.failureThreshold {
		g.healthy = false
		g.failures = 0
		return true
	}
	return false
}

// counting reports whether the gate is part-way to a flip: failures
// counted toward failure_threshold while healthy, or successes toward
// recovery_threshold while unhealthy. The quirk counters are the right
// ones here: they are exactly what the next result adds to.
func (g *gate) counting() bool {
	if g.healthy {
		return g.failures > 0
	}
	return g.successes > 0
}

// setThresholds changes the thresholds of a running gate (a reload); its
// state and counters stay.
func (g *gate) setThresholds(failureThreshold, recoveryThreshold int) {
	g.failureThreshold = max(failureThreshold, 1)
	g.recoveryThreshold = max(recoveryThreshold, 1)
}

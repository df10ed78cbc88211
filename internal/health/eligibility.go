package health

import "time"

// ReasonForcedDown: an operator forced the backend's health down.
const ReasonForcedDown Reason = "forced_down"

// Eligibility is the one rule every consumer follows: may selection pick
// b at now, and if not, why. The first matching reason wins, in this
// order: maint, drain, agent_maint, agent_drain, forced down, agent_down,
// unhealthy, stale, passive, weight_zero, check_drain. Health forced up
// overrides the checks (agent_down, unhealthy, stale, passive and
// check_drain), not the agent's drain or maint.
//
// Stale is new with the registry: a backend whose last check is older than
// b.StaleAfter (three times its group's longest interval plus its timeouts
// plus one second) is not eligible even if its last verdict was healthy, so
// a stuck scheduler cannot keep a dead backend in rotation. Paused checks
// never turn stale: the operator froze the state on purpose.
func Eligibility(b Backend, now time.Time) (bool, Reason) { return eligibility(&b, now) }

// Assess is Eligibility plus Backend.Draining: whether b is drained but
// otherwise eligible (the registry sets all three at once; a consumer
// reads them from the snapshot instead of calling this).
func Assess(b Backend, now time.Time) (eligible bool, why Reason, draining bool) {
	return assess(&b, now)
}

func assess(b *Backend, now time.Time) (bool, Reason, bool) {
	ok, why := eligibility(b, now)
	if why == ReasonCheckDrain {
		return false, why, true // eligibility says it only of a serviceable backend
	}
	if why != ReasonDrain && why != ReasonAgentDrain {
		return ok, why, false
	}
	// Drain leaves the backend's users where they are (HAProxy keeps
	// persistent traffic on a drained server): only if it could serve them,
	// and not when its agent put it into maintenance under an operator's
	// drain (the operator's reason shows, the agent's maint keeps no users).
	serves, _ := serviceable(b, now)
	if agentAdminReason(b) == ReasonAgentMaint {
		serves = false
	}
	return false, why, serves
}

func eligibility(b *Backend, now time.Time) (bool, Reason) {
	switch b.Admin.State {
	case AdminMaint:
		return false, ReasonMaint
	case AdminDrain:
		return false, ReasonDrain
	}
	// The operator's state first: an agent's "ready" never undoes it.
	if why := agentAdminReason(b); why != "" {
		return false, why
	}
	ok, why := serviceable(b, now)
	if ok && checkDraining(b) {
		// Last: every other reason is more urgent, and a backend out for
		// one of them is not "draining".
		return false, ReasonCheckDrain
	}
	return ok, why
}

// serviceable is eligibility without the admin state: forced health, the
// checks' verdict, staleness, passive ejection and weight.
func serviceable(b *Backend, now time.Time) (bool, Reason) {
	switch b.Admin.Health {
	case HealthDown:
		return false, ReasonForcedDown
	case HealthUp:
	default:
		if agentDown(b) {
			// Before unhealthy: the server's own word says more than a
			// failed check, and stays until the agent takes it back.
			return false, ReasonAgentDown
		}
		if !b.Healthy {
			return false, ReasonUnhealthy
		}
		if isStale(b, now) {
			return false, ReasonStale
		}
		if isEjected(b, now) {
			return false, ReasonPassive
		}
	}
	if b.Weight <= 0 {
		return false, ReasonWeightZero
	}
	return true, ""
}

// staleAt is when b turns stale; zero when it never does.
func staleAt(b *Backend) time.Time {
	if b.StaleAfter <= 0 || b.ChecksPaused {
		return time.Time{}
	}
	last := b.Connect.LastCheck
	if b.Deep.LastCheck.After(last) {
		last = b.Deep.LastCheck
	}
	if last.IsZero() {
		// Never checked: counted from the start (Since), so a scheduler
		// stuck before its first verdict is noticed as well.
		last = b.Since
	}
	if last.IsZero() {
		return time.Time{}
	}
	return last.Add(b.StaleAfter)
}

func isStale(b *Backend, now time.Time) bool {
	at := staleAt(b)
	return !at.IsZero() && !now.Before(at)
}

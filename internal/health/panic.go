package health

import "time"

// Panic mode (Envoy's healthy_panic_threshold) for groups balanced by the
// gateway: when too small a share of a backend's origins is eligible,
// balancing over those few would hand each of them the whole load and
// cascade the failure, so traffic goes to every origin the checks alone
// took out instead. An operator's decision (maint, drain, forced down,
// weight 0) is never set aside.

// PanicCount counts one tier of a group (its primaries, or its backups).
type PanicCount struct {
	// Eligible: the tier's eligible backends.
	Eligible int
	// Usable: those an operator has not taken out (eligible ones included),
	// the ones panic balances over.
	Usable int
}

// PanicState is the verdict for one group.
type PanicState struct {
	// Threshold is the group's panic_threshold in percent (0: off).
	Threshold int
	// Panic: the judged tier has fewer eligible backends than Threshold
	// percent of its usable ones.
	Panic bool
	// Backups: the judged tier is the backups (no primary is eligible, and
	// a backup is).
	Backups bool
	// Counts of the judged tier.
	PanicCount
}

// JudgePanic applies the threshold to a group's counts. The judged tier is
// the one balancing would draw from: the primaries while one is eligible,
// else the backups while one is eligible (failing over to healthy backups
// comes before panic, as Envoy shifts load to a lower priority before
// panicking), else the primaries (nothing eligible: panic balances over
// every usable primary, or the backups when no primary is usable).
func JudgePanic(threshold int, primaries, backups PanicCount) PanicState {
	st := PanicState{Threshold: threshold, PanicCount: primaries}
	if primaries.Eligible == 0 && (backups.Eligible > 0 || primaries.Usable == 0) {
		st.Backups, st.PanicCount = true, backups
	}
	st.Panic = threshold > 0 && st.Usable > 0 && st.Eligible*100 < threshold*st.Usable
	return st
}

// Usable tells whether b, eligible or not, may take traffic when the
// checks' verdict is set aside (panic, use_when_unhealthy): unhealthy,
// stale and passively ejected backends are, those an operator took out
// (maint, drain, forced down, weight 0) or that asked for no new traffic
// (check_drain, and anything their agent said: agent_maint, agent_drain,
// agent_down) are not.
func Usable(b *Backend) bool {
	switch b.Reason {
	case ReasonMaint, ReasonDrain, ReasonForcedDown, ReasonWeightZero, ReasonCheckDrain,
		ReasonAgentMaint, ReasonAgentDrain, ReasonAgentDown:
		return false
	}
	return b.Weight > 0
}

// GroupPanic judges the backends of group in snap at now with the
// group's PanicThreshold, for the status API; the gateway counts its own
// origins the same way when it picks one.
func GroupPanic(snap *Snapshot, group string, now time.Time) PanicState {
	var prim, back PanicCount
	threshold := 0
	for i := range snap.Backends {
		b := &snap.Backends[i]
		if b.Group != group {
			continue
		}
		threshold = b.PanicThreshold
		eligible := b.Eligible
		if b.Reason == ReasonPassive {
			// An ejection's end is exact; the snapshot may be a second late.
			eligible, _ = Eligibility(*b, now)
		}
		c := &prim
		if b.Backup {
			c = &back
		}
		if eligible {
			c.Eligible++
		}
		if eligible || Usable(b) {
			c.Usable++
		}
	}
	return JudgePanic(threshold, prim, back)
}

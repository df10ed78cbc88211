package gateway

import (
	"math/bits"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// Eligibility of a backend's origins is derived in one place: the
// snapshot's entry of each origin is read once per snapshot (its
// standing, cached in snapshotIndex), a passive ejection's exact end once
// per judgement, and the panic count, the candidate tiers, slow start and
// the gate all ask the judgement instead of deriving it again. While no
// origin's eligibility depends on the instant, a snapshot's first
// candidates are fixed in its index too: the gate carries the index to
// balanceLayer (gatedOrigins), which judges again only when the snapshot
// changed in between.

// originStanding is what one snapshot says of one origin.
type originStanding struct {
	// entry is the origin's entry, which carries the reason; nil when the
	// snapshot does not know the origin (yet), or there is no health
	// source: then the configured weight decides (0 takes it out, as in
	// the registry).
	entry    *health.Backend
	eligible bool // as published; for a timed origin, judged per instant
	// usable: an operator has not taken the origin out (maint, drain,
	// forced down, weight 0), so panic and use_when_unhealthy may admit it.
	usable bool
	weight int // the registry's effective weight, else the configured one
	// timed: passively ejected when published. The ejection's end is
	// exact and the snapshot is republished up to a second after it, so
	// eligibility is judged at the instant of each pick.
	timed bool
}

// snapshotIndex is the standing of every origin of a set in one snapshot.
type snapshotIndex struct {
	set      *originSet
	snap     *health.Snapshot
	standing []originStanding // per origin, in the set's order
	timed    bool             // some origin is timed
	// panic is the judgement of panic_threshold when no origin is timed
	// (it depends on the snapshot only then).
	panic health.PanicState
	// first, when fixed: the candidates of a first attempt, without and
	// with use_when_unhealthy. Fixed when no origin is timed and the set
	// has at most 64 origins: then they depend on the snapshot only.
	fixed bool
	first [2]originMask
}

// originMask is a set of a set's origins, one bit per position.
type originMask struct {
	in       uint64 // the candidates
	eligible uint64 // those health admits (panic and use_when_unhealthy admit the others)
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// originBits is one bit per origin of a set (at most config.MaxOrigins).
type originBits [(config.MaxOrigins + 63) / 64]uint64

func (b *originBits) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b *originBits) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// originJudgement is the eligibility of a set's origins at one instant
// and the panic verdict that follows from it.
type originJudgement struct {
	idx      *snapshotIndex
	timedNow originBits // per timed origin: eligible at the judged instant
	panic    panicVerdict
}

// eligible tells whether health admits origin i.
func (j *originJudgement) eligible(i int) bool {
	if st := &j.idx.standing[i]; st.timed {
		return j.timedNow.has(i)
	}
	return j.idx.standing[i].eligible
}

// judge judges s's origins in snap at now, panic mode included (which it
// records: gauge, counter, log).
func (s *originSet) judge(snap *health.Snapshot, now time.Time) originJudgement {
	j := originJudgement{idx: s.indexFor(snap)}
	if j.idx.timed {
		for i := range j.idx.standing {
			if st := &j.idx.standing[i]; st.timed {
				if ok, _ := health.Eligibility(*st.entry, now); ok {
					j.timedNow.set(i)
				}
			}
		}
	}
	if s.panic.threshold > 0 {
		st := j.idx.panic
		if j.idx.timed {
			st = s.countPanic(&j)
		}
		s.panic.note(s.label, st, now)
		j.panic = panicVerdict{on: st.Panic, backups: st.Backups}
	}
	return j
}

// countPanic applies panic_threshold to j's eligibility, counted per tier
// as the status API counts a group (health.GroupPanic).
func (s *originSet) countPanic(j *originJudgement) health.PanicState {
	var prim, back health.PanicCount
	for i, o := range s.origins {
		c := &prim
		if o.backup {
			c = &back
		}
		eligible := j.eligible(i)
		if eligible {
			c.Eligible++
		}
		if eligible || j.idx.standing[i].usable {
			c.Usable++
		}
	}
	return health.JudgePanic(s.panic.threshold, prim, back)
}

// indexFor is the standing of s's origins in snap, built once per
// snapshot (and once for no health source at all).
func (s *originSet) indexFor(snap *health.Snapshot) *snapshotIndex {
	cache := &s.index
	if snap == nil {
		cache = &s.noHealth
	}
	if idx := cache.Load(); idx != nil && idx.snap == snap {
		return idx
	}
	idx := s.buildIndex(snap)
	cache.Store(idx)
	return idx
}

func (s *originSet) buildIndex(snap *health.Snapshot) *snapshotIndex {
	idx := &snapshotIndex{set: s, snap: snap, standing: make([]originStanding, len(s.origins))}
	for i, o := range s.origins {
		idx.standing[i] = originStanding{eligible: o.weight > 0, usable: o.weight > 0, weight: o.weight}
	}
	if snap != nil {
		byID := make(map[string]int, len(s.origins))
		for i, o := range s.origins {
			byID[o.id] = i
		}
		for k := range snap.Backends {
			b := &snap.Backends[k]
			i, ok := byID[b.ID]
			if !ok {
				continue
			}
			timed := b.Reason == health.ReasonPassive
			idx.standing[i] = originStanding{entry: b, eligible: b.Eligible, usable: health.Usable(b), weight: b.Weight, timed: timed}
			idx.timed = idx.timed || timed
		}
	}
	if idx.timed {
		return idx
	}
	if s.panic.threshold > 0 {
		idx.panic = s.countPanic(&originJudgement{idx: idx})
	}
	if len(s.origins) <= 64 {
		idx.fixed = true
		j := originJudgement{idx: idx, panic: panicVerdict{on: idx.panic.Panic, backups: idx.panic.Backups}}
		for k, useWhenUnhealthy := range []bool{false, true} {
			m, best := &idx.first[k], tierNone
			for i := range s.origins {
				tier, eligible := s.tierOf(&j, i, useWhenUnhealthy)
				bit := uint64(1) << i
				switch {
				case tier == tierNone:
					continue
				case tier < best:
					*m, best = originMask{}, tier
				case tier > best:
					continue
				}
				m.in |= bit
				if eligible {
					m.eligible |= bit
				}
			}
		}
	}
	return idx
}

// gatedOrigins is what originsGateLayer judged for a request, kept in its
// call so balanceLayer picks from the same candidates without judging the
// same snapshot a second time: the snapshot's index, whose first
// candidates are fixed. One pointer, so servedRequest stays in its
// allocation size class.
type gatedOrigins struct {
	// idx is nil when nothing is carried: no gate ran, or the candidates
	// are not fixed (a passive ejection's end depends on the instant; more
	// origins than a mask holds).
	idx *snapshotIndex
}

// gate judges set for a request's gate and tells whether some origin is
// admitted, observing every origin's slow start as a pick does.
func (g *gatedOrigins) gate(set *originSet, snap *health.Snapshot, useWhenUnhealthy bool) bool {
	now := set.clock()
	j := set.judge(snap, now)
	if !j.idx.fixed {
		g.idx = nil
		var buf [8]candidate
		return len(set.candidatesOf(&j, now, nil, useWhenUnhealthy, buf[:0])) > 0
	}
	if set.slowStart > 0 {
		for i, o := range set.origins {
			// Seen for every origin, so a way back to eligible is noticed.
			o.ramp.observe(j.eligible(i), now, set.slowStart)
		}
	}
	g.idx = j.idx
	return j.idx.first[boolIndex(useWhenUnhealthy)].in != 0
}

// first is the candidates of a request's first attempt, in buf: the
// gate's while they hold (same set, same snapshot), else judged anew. A
// ramping candidate's share grows with time, so it is observed again at
// the pick, as a judgement at the pick would observe it. It takes the
// gate's judgement away: the call lives as long as its answer streams (a
// download, a WebSocket), and the index would keep the gate's snapshot,
// every backend's entry, alive as long.
func (g *gatedOrigins) first(set *originSet, snap *health.Snapshot, useWhenUnhealthy bool, buf []candidate) []candidate {
	idx := g.idx
	g.idx = nil
	if idx == nil || idx.set != set || idx.snap != snap {
		return set.candidates(snap, set.clock(), nil, useWhenUnhealthy, buf)
	}
	m := idx.first[boolIndex(useWhenUnhealthy)]
	var now time.Time
	out := buf[:0]
	for in := m.in; in != 0; in &= in - 1 {
		i := bits.TrailingZeros64(in)
		o := set.origins[i]
		share := fullShare
		// Only an eligible origin ramps; a steady one keeps its full
		// share without reading the clock.
		if set.slowStart > 0 && m.eligible&(1<<i) != 0 && o.ramp.state.Load() != rampSteady {
			if now.IsZero() {
				now = set.clock()
			}
			share = o.ramp.observe(true, now, set.slowStart)
		}
		out = append(out, candidate{o, idx.standing[i].weight, share})
	}
	return out
}

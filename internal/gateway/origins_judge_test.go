package gateway

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// referenceCandidates derives the candidates straight from the snapshot's
// entries, every origin's eligibility judged where it is needed, as the
// gateway did before the judgement was computed once (origins_judge.go):
// the oracle the cached judgement must agree with.
func referenceCandidates(s *originSet, snap *health.Snapshot, now time.Time, tried []*upstreamOrigin, useWhenUnhealthy bool) []candidate {
	entryOf := func(o *upstreamOrigin) *health.Backend {
		var found *health.Backend
		if snap != nil {
			for k := range snap.Backends {
				if snap.Backends[k].ID == o.id {
					found = &snap.Backends[k]
				}
			}
		}
		return found
	}
	eligibleAt := func(b *health.Backend) bool {
		if b.Reason == health.ReasonPassive {
			ok, _ := health.Eligibility(*b, now)
			return ok
		}
		return b.Eligible
	}
	var prim, back health.PanicCount
	for _, o := range s.origins {
		c := &prim
		if o.backup {
			c = &back
		}
		b := entryOf(o)
		switch {
		case b == nil && o.weight > 0:
			c.Eligible++
			c.Usable++
		case b != nil:
			if eligibleAt(b) {
				c.Eligible++
			}
			if eligibleAt(b) || health.Usable(b) {
				c.Usable++
			}
		}
	}
	st := health.JudgePanic(s.panic.threshold, prim, back)
	var out []candidate
	best := tierNone
	for _, o := range s.origins {
		if slices.Contains(tried, o) {
			continue
		}
		tier, w := tierNone, o.weight
		if b := entryOf(o); b == nil {
			if o.weight > 0 {
				tier = tierEligible
			}
		} else {
			w = b.Weight
			switch {
			case eligibleAt(b):
				tier = tierEligible
			case st.Panic && st.Backups == o.backup && health.Usable(b):
				tier = tierEligible
			case useWhenUnhealthy && health.Usable(b):
				tier = tierFallback
			}
		}
		if tier == tierNone {
			continue
		}
		if o.backup {
			tier++
		}
		switch {
		case tier < best:
			out, best = []candidate{{o, w, fullShare}}, tier
		case tier == best:
			out = append(out, candidate{o, w, fullShare})
		}
	}
	return out
}

func candidateKeys(cs []candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s w%d s%d", c.o.origin.hostPort(), c.weight, c.share))
	}
	return out
}

// randomSnapshot gives some of s's origins an entry as the registry
// would have published it at pub: any admin state, forced health, weight
// and passive ejection, some ended by now.
func randomSnapshot(r *rand.Rand, s *originSet, pub, now time.Time) *health.Snapshot {
	if r.IntN(8) == 0 {
		return nil
	}
	snap := &health.Snapshot{}
	for _, o := range s.origins {
		if r.IntN(6) == 0 {
			continue // not in the snapshot yet
		}
		e := health.Backend{ID: o.id, Weight: r.IntN(3), Healthy: r.IntN(3) > 0, Backup: o.backup}
		e.Admin.State = []health.AdminState{health.AdminReady, health.AdminReady, health.AdminMaint, health.AdminDrain}[r.IntN(4)]
		e.Admin.Health = []health.ForcedHealth{health.HealthAuto, health.HealthAuto, health.HealthDown, health.HealthUp}[r.IntN(4)]
		switch r.IntN(3) {
		case 1: // ejected past now
			e.EjectedUntil = now.Add(time.Minute)
		case 2: // ejected at publication, over by now
			e.EjectedUntil = pub.Add(time.Second)
		}
		e.Eligible, e.Reason = health.Eligibility(e, pub)
		snap.Backends = append(snap.Backends, e)
	}
	return snap
}

// The judgement computed once (per snapshot, then per instant for a
// passive ejection) admits exactly the origins a derivation from the
// entries at the pick admits: tiers, backups, panic, use_when_unhealthy,
// admin state, weight 0, ejections that ended after publication, origins
// the snapshot does not know, origins already tried. The gate's
// candidates carried to the pick agree as well.
func TestJudgementMatchesEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pub := time.Unix(1_700_000_000, 0)
	now := pub.Add(2 * time.Second)
	for round := range 3000 {
		b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceWeighted}}
		n := 1 + r.IntN(6)
		for i := range n {
			w := r.IntN(3)
			b.Origins = append(b.Origins, config.OriginEntry{Origin: fmt.Sprintf("http://127.0.0.1:%d", 1000+i), Weight: &w, Backup: r.IntN(3) == 0})
		}
		threshold := []int{0, 50, 80, 100}[r.IntN(4)]
		b.PanicThreshold = &threshold
		s := newOriginSet("api", b, nil)
		s.clock = func() time.Time { return now }
		snap := randomSnapshot(r, s, pub, now)
		useWhenUnhealthy := r.IntN(2) == 0
		var tried []*upstreamOrigin
		for _, o := range s.origins {
			if r.IntN(4) == 0 {
				tried = append(tried, o)
			}
		}
		want := candidateKeys(referenceCandidates(s, snap, now, tried, useWhenUnhealthy))
		if got := candidateKeys(s.candidates(snap, now, tried, useWhenUnhealthy, nil)); !slices.Equal(got, want) {
			t.Fatalf("round %d: candidates %v, want %v (snapshot %+v)", round, got, want, snap)
		}
		var g gatedOrigins
		admitted := g.gate(s, snap, useWhenUnhealthy)
		first := candidateKeys(g.first(s, snap, useWhenUnhealthy, nil))
		want = candidateKeys(referenceCandidates(s, snap, now, nil, useWhenUnhealthy))
		if admitted != (len(want) > 0) || !slices.Equal(first, want) {
			t.Fatalf("round %d: gate %v, first pick %v, want %v", round, admitted, first, want)
		}
	}
}

func twoOriginSet(t *testing.T, backend string, ramps *rampMemory) *originSet {
	t.Helper()
	cfg, err := config.Parse([]byte(originsYAML("      load_balancing: weighted\n"+backend, "http://127.0.0.1:1001", "http://127.0.0.1:1002")))
	if err != nil {
		t.Fatal(err)
	}
	return newOriginSet("api", cfg.Definitions.Backends["api"], ramps)
}

// A snapshot published between the gate and the pick (the request waited
// in a queue meanwhile) is judged again: the pick does not take an origin
// the new snapshot took out.
func TestPickRejudgesNewSnapshot(t *testing.T) {
	s := twoOriginSet(t, "", nil)
	publish := func(healthy ...bool) *health.Snapshot {
		snap := &health.Snapshot{}
		for i, o := range s.origins {
			e := health.Backend{ID: o.id, Weight: 1, Healthy: healthy[i]}
			e.Eligible, e.Reason = health.Eligibility(e, time.Now())
			snap.Backends = append(snap.Backends, e)
		}
		return snap
	}
	before, after := publish(true, true), publish(false, true)
	var g gatedOrigins
	if !g.gate(s, before, false) {
		t.Fatal("the gate refused two healthy origins")
	}
	if got := candidateNames(g.first(s, before, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1001", "127.0.0.1:1002"}) {
		t.Errorf("same snapshot: %v", got)
	}
	if got := candidateNames(g.first(s, after, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1002"}) {
		t.Errorf("after the first went down: %v", got)
	}
	// Another set's judgement is never taken for this one's.
	other := twoOriginSet(t, "", nil)
	if got := g.first(other, before, false, nil); len(got) != 2 || got[0].o != other.origins[0] {
		t.Errorf("another set's pick: %v", candidateNames(got))
	}
}

// A passive ejection that ends between the gate and the pick admits the
// origin at the pick, as its exact end says.
func TestPickJudgesEjectionEndAtPick(t *testing.T) {
	s := twoOriginSet(t, "", nil)
	t0 := time.Unix(1_700_000_000, 0)
	snap := &health.Snapshot{}
	for i, o := range s.origins {
		e := health.Backend{ID: o.id, Weight: 1, Healthy: true}
		if i == 0 {
			e.EjectedUntil = t0.Add(time.Second)
		}
		e.Eligible, e.Reason = health.Eligibility(e, t0)
		snap.Backends = append(snap.Backends, e)
	}
	now := t0
	s.clock = func() time.Time { return now }
	var g gatedOrigins
	g.gate(s, snap, false)
	if got := candidateNames(g.first(s, snap, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1002"}) {
		t.Errorf("while ejected: %v", got)
	}
	g.gate(s, snap, false)
	now = t0.Add(2 * time.Second)
	if got := candidateNames(g.first(s, snap, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1001", "127.0.0.1:1002"}) {
		t.Errorf("ejection over at the pick: %v", got)
	}
}

// A ramp the gate started goes on growing until the pick: the pick's
// share is the one at its own instant.
func TestPickObservesRampAtPick(t *testing.T) {
	ramps := newRampMemory()
	ramps.built() // origins added by a reload: they ramp once seen eligible
	s := twoOriginSet(t, "      slow_start: 1m\n", ramps)
	t0 := time.Unix(1_700_000_000, 0)
	now := t0
	s.clock = func() time.Time { return now }
	var g gatedOrigins
	g.gate(s, nil, false)
	now = t0.Add(30 * time.Second)
	got := g.first(s, nil, false, nil)
	if len(got) != 2 || got[0].share != fullShare/2 || got[1].share != fullShare/2 {
		t.Fatalf("shares at the pick: %+v, want half each", got)
	}
	// Past the ramp, from a gate judged within it.
	g.gate(s, nil, false)
	now = t0.Add(2 * time.Minute)
	if got := g.first(s, nil, false, nil); got[0].share != fullShare || got[1].share != fullShare {
		t.Fatalf("shares after the ramp: %+v", got)
	}
}

// A set with more origins than a mask has bits is judged again at the
// pick, with the same result.
func TestPickManyOrigins(t *testing.T) {
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceRoundRobin}}
	for i := range 70 {
		b.Origins = append(b.Origins, config.OriginEntry{Origin: fmt.Sprintf("http://127.0.0.1:%d", 2000+i), Backup: i < 3})
	}
	s := newOriginSet("api", b, nil)
	var g gatedOrigins
	if !g.gate(s, nil, false) || g.idx != nil {
		t.Fatalf("gate: carried %v", g.idx != nil)
	}
	got := g.first(s, nil, false, nil)
	if want := candidateKeys(s.candidates(nil, time.Now(), nil, false, nil)); len(got) != 67 || !slices.Equal(candidateKeys(got), want) {
		t.Fatalf("first pick: %d candidates %v", len(got), candidateKeys(got))
	}
}

// An origin panic admits is not eligible: carried from the gate to the
// pick it keeps its full share and starts no ramp, while the eligible one
// ramps from the gate's instant.
func TestPickPanicAdmittedDoesNotRamp(t *testing.T) {
	ramps := newRampMemory()
	ramps.built()
	s := twoOriginSet(t, "      slow_start: 1m\n      panic_threshold: 100\n", ramps)
	snap := &health.Snapshot{}
	for i, o := range s.origins {
		e := health.Backend{ID: o.id, Weight: 1, Healthy: i == 1}
		e.Eligible, e.Reason = health.Eligibility(e, time.Now())
		snap.Backends = append(snap.Backends, e)
	}
	t0 := time.Unix(1_700_000_000, 0)
	now := t0
	s.clock = func() time.Time { return now }
	var g gatedOrigins
	if !g.gate(s, snap, false) || g.idx == nil {
		t.Fatal("the gate refused or carried nothing")
	}
	now = t0.Add(30 * time.Second)
	got := g.first(s, snap, false, nil)
	if len(got) != 2 || got[0].share != fullShare || got[1].share != fullShare/2 {
		t.Fatalf("shares %+v, want full for the panic-admitted origin, half for the ramping one", got)
	}
	if st := s.origins[0].ramp.state.Load(); st != rampDown {
		t.Errorf("the panic-admitted origin's ramp state %d, want down", st)
	}
}

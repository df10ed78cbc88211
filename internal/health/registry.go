package health

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// generation is one configuration's groups: its loops and the states they
// own. A Reconfigure builds the next generation from the same targetState
// objects wherever a backend survives, so its gates, counters, histograms
// and last results carry on.
type generation struct {
	loops  []*groupLoop
	states []*targetState // snapshot order
	byID   map[string]*targetState
}

// planned is a validated configuration: groups in snapshot order with each
// target's ID and weight resolved. Planning touches no engine state, so a
// bad configuration is refused before anything stops.
type planned struct {
	groups []Group
	ids    [][]string
	weight [][]int
	backup [][]bool
	idSet  map[string]bool
}

func plan(groups []Group) (*planned, error) {
	ordered, err := orderGroups(groups)
	if err != nil {
		return nil, err
	}
	p := &planned{groups: ordered, idSet: map[string]bool{}}
	seenID := map[string]string{}
	for _, g := range ordered {
		names := make(map[string]int, len(g.Targets))
		ids := make([]string, len(g.Targets))
		weights := make([]int, len(g.Targets))
		if g.Weights != nil && len(g.Weights) != len(g.Targets) {
			return nil, fmt.Errorf("health: group %q: %d weights for %d targets", g.Name, len(g.Weights), len(g.Targets))
		}
		if g.Backups != nil && len(g.Backups) != len(g.Targets) {
			return nil, fmt.Errorf("health: group %q: %d backup flags for %d targets", g.Name, len(g.Backups), len(g.Targets))
		}
		backups := make([]bool, len(g.Targets))
		copy(backups, g.Backups)
		for i, t := range g.Targets {
			if t == nil {
				return nil, fmt.Errorf("health: group %q: target %d is nil", g.Name, i)
			}
			name := displayName(t)
			if prev, dup := names[name]; dup {
				// Names label metrics and logs; two targets sharing one
				// would overwrite each other's series.
				return nil, fmt.Errorf("health: group %q: targets %d and %d are both named %q", g.Name, prev, i, name)
			}
			names[name] = i
			ids[i] = DefaultID(t)
			if i < len(g.IDs) && g.IDs[i] != "" {
				ids[i] = g.IDs[i]
			}
			if other, dup := seenID[ids[i]]; dup {
				return nil, fmt.Errorf("health: groups %q and %q both have a backend with ID %q", other, g.Name, ids[i])
			}
			seenID[ids[i]] = g.Name
			p.idSet[ids[i]] = true
			weights[i] = 1
			if g.Weights != nil {
				weights[i] = g.Weights[i]
				if weights[i] < 0 || weights[i] > MaxWeight {
					return nil, fmt.Errorf("health: group %q: target %q: weight %d out of range 0..%d", g.Name, name, weights[i], MaxWeight)
				}
			}
		}
		p.ids = append(p.ids, ids)
		p.weight = append(p.weight, weights)
		p.backup = append(p.backup, backups)
	}
	return p, nil
}

// install builds the generation of p, adopting the states of old (whose
// loops must have stopped), makes it current and publishes a snapshot.
// Metric series of backends that did not survive are deleted.
func (e *Engine) install(p *planned, old *generation, start time.Time) {
	// Under e.mu throughout: admin calls and scrapes read surviving states'
	// weights while this rewrites them.
	e.mu.Lock()
	gen := &generation{byID: map[string]*targetState{}}
	adopted := map[*targetState]bool{}
	byAddr := map[string]*targetState{}
	prevLabels := map[*targetState][2]string{}
	var renamed [][2]string // old ID, new ID of backends renamed at the same address
	if old != nil {
		for _, s := range old.states {
			byAddr[addrKey(s.group, s.target)] = s
			prevLabels[s] = [2]string{s.group, s.name}
		}
	}
	for gi, g := range p.groups {
		l := newGroupLoop(e, gi, g, e.inFlight)
		for i, t := range g.Targets {
			id := p.ids[gi][i]
			var s *targetState
			if old != nil {
				s = old.byID[id]
				if s == nil || adopted[s] {
					// Same address, different ID (renamed): starts from the
					// old state rather than from initial_health.
					if c := byAddr[addrKey(g.Name, t)]; c != nil && !adopted[c] && p.hasNoID(c.id) {
						s = c
					}
				}
				if s != nil && adopted[s] {
					s = nil
				}
			}
			if s == nil {
				s = newTargetState(&g, t, start)
			} else {
				adopted[s] = true
				s.adopt(&g, t)
				if s.id != id {
					renamed = append(renamed, [2]string{s.id, id})
				}
			}
			s.id, s.weight, s.backup = id, p.weight[gi][i], p.backup[gi][i]
			s.passive.setPolicy(g.Passive)
			s.agent.configure(t, start)
			s.staleAfter = staleAfter(&g, t, e.inFlight)
			l.add(s)
			gen.states = append(gen.states, s)
			gen.byID[id] = s
		}
		l.gen = gen
		gen.loops = append(gen.loops, l)
	}

	ids := make([]string, len(gen.states))
	targets := make([]*probe.Target, len(gen.states))
	for i, s := range gen.states {
		ids[i], targets[i] = s.id, s.target
	}

	e.gen.Store(gen)
	if e.uptime != nil {
		e.uptime.installed() // load the history of backends it added
	}
	for _, s := range gen.states {
		o := e.admin[s.id]
		s.paused.Store(o != nil && o.paused)
	}
	e.index.Store(newTargetIndex(ids, targets))
	movedAdmin := e.followRenamesLocked(renamed, gen)
	e.parts = make([][]Backend, len(gen.loops))
	e.partDone = make([]bool, len(gen.loops))
	for i, l := range gen.loops {
		e.parts[i] = l.backends()
	}
	if old == nil {
		e.snap.Store(&Snapshot{})
		e.round = 0
		snap := e.publishLocked(time.Time{})
		// The initial snapshot is round 0: no round has finished yet.
		snap.Round, e.round = 0, 0
	} else {
		e.publishLocked(time.Time{})
	}
	if len(gen.loops) == 0 {
		e.ready.Store(true)
	}
	e.mu.Unlock()

	if old != nil {
		e.forgetRemoved(old, prevLabels)
	}
	if movedAdmin {
		e.adminChanged() // the state file names the new ID
	}
	if e.metrics != nil {
		for _, l := range gen.loops {
			l.setServersStatus()
		}
	}
}

// followRenamesLocked moves the admin state of each renamed backend (old
// ID, new ID) to its new ID, as its health state moved: fixing a typo in
// the name of a server in maintenance must not put it back into rotation.
// e.mu must be held; it reports whether anything moved.
func (e *Engine) followRenamesLocked(renamed [][2]string, gen *generation) bool {
	moved := false
	for _, r := range renamed {
		o := e.admin[r[0]]
		if o == nil || e.admin[r[1]] != nil {
			continue
		}
		e.admin[r[1]] = o
		delete(e.admin, r[0])
		if s := gen.byID[r[1]]; s != nil {
			s.paused.Store(o.paused)
		}
		moved = true
	}
	return moved
}

// hasNoID reports whether id is not among the planned IDs (its backend was
// removed or renamed).
func (p *planned) hasNoID(id string) bool { return !p.idSet[id] }

func addrKey(group string, t *probe.Target) string {
	return group + "\x00" + t.Protocol + "\x00" + t.Address()
}

// forgetRemoved deletes the labelled series of backends that are gone, or
// whose group or name label changed, so they vanish from /metrics.
func (e *Engine) forgetRemoved(old *generation, prevLabels map[*targetState][2]string) {
	m := e.metrics
	if m == nil {
		return
	}
	cur := e.gen.Load()
	for _, s := range old.states {
		prev := prevLabels[s]
		if cur.byID[s.id] == s && prev == [2]string{s.group, s.name} {
			continue
		}
		labels := prometheus.Labels{"group": prev[0], "name": prev[1]}
		m.failures.DeletePartialMatch(labels)
		m.transitions.DeletePartialMatch(labels)
	}
	groups := map[string]bool{}
	for _, l := range cur.loops {
		groups[l.group.Name] = true
	}
	for _, l := range old.loops {
		if !groups[l.group.Name] {
			m.localErrors.DeletePartialMatch(prometheus.Labels{"group": l.group.Name})
		}
	}
}

// staleAfter is how long after its last check a backend counts as stale:
// three of its group's longest interval plus its own timeouts plus a
// second. Longer than any healthy schedule (a round may take as long as
// the timeouts), short enough that a stuck scheduler is noticed. A group
// larger than the probes allowed in flight may need several waves of
// timeouts for one round; each wave adds the timeouts once more.
func staleAfter(g *Group, t *probe.Target, inFlight int) time.Duration {
	if g.PassiveOnly {
		return 0 // nothing checks it, so nothing can go stale
	}
	interval := max(g.ConnectInterval, g.DeepInterval)
	waves := 1
	if inFlight > 0 {
		waves = max(1, (len(g.Targets)+inFlight-1)/inFlight)
	}
	return 3*interval + time.Duration(waves)*safetyDeadline(t)
}

// swapRequest hands a planned configuration to a running Run.
type swapRequest struct {
	plan *planned
	done chan struct{}
}

// Reconfigure replaces the groups while Run goes on: backends whose ID
// stays keep their health, counters, latency histograms, last results and
// admin state; a backend whose check settings changed keeps its ID (and
// state) when its name did; a renamed backend at the same group, protocol
// and address starts from the old state too. Removed backends disappear
// from the snapshot and their metric series are deleted; new ones start as
// their group's initial health says. Every group starts a round at once.
// An invalid configuration is refused and nothing changes.
func (e *Engine) Reconfigure(groups []Group) error {
	p, err := plan(groups)
	if err != nil {
		return err
	}
	e.reconfMu.Lock()
	defer e.reconfMu.Unlock()
	e.runMu.Lock()
	if !e.running.Load() || isClosed(e.runDone) {
		// No loop runs (or ever will again): install directly.
		e.install(p, e.gen.Load(), e.now())
		e.runMu.Unlock()
		return nil
	}
	e.runMu.Unlock()
	req := &swapRequest{plan: p, done: make(chan struct{})}
	select {
	case e.swaps <- req:
		<-req.done
	case <-e.runDone:
		e.runMu.Lock()
		e.install(p, e.gen.Load(), e.now())
		e.runMu.Unlock()
	}
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

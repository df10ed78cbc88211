package health

import (
	"sync"
	"sync/atomic"
	"time"
)

// ReasonPassive: live traffic failed often enough in a row that passive
// health (outlier detection) ejected the backend for a while.
const ReasonPassive Reason = "passive"

// PassivePolicy is a group's passive health, Envoy's outlier detection:
// Consecutive failures (5xx answers or failed connects, reported by the
// traffic's owner through ReportPassive) in a row, all within Interval of
// the first, eject a backend for BaseEjection times the number of its
// ejections, at most MaxEjection. No more than MaxEjectionPercent of the
// group's backends are ejected at once (rounded down, never exceeded), and
// each ejection triggers an immediate active probe of the backend.
type PassivePolicy struct {
	Consecutive        int
	Interval           time.Duration
	BaseEjection       time.Duration
	MaxEjection        time.Duration
	MaxEjectionPercent int
}

// passiveState is one backend's live-traffic record. It belongs to the
// targetState, so a reload that keeps the backend's ID keeps its streak,
// its ejection and its back-off multiplier.
type passiveState struct {
	policy atomic.Pointer[PassivePolicy] // nil: the group has no passive health

	mu           sync.Mutex
	streak       int       // failures in a row
	streakStart  time.Time // first failure of the streak
	ejectedUntil time.Time
	multiplier   int    // ejections that count for the back-off
	ejections    uint64 // every ejection (metrics)
}

// PassiveReporter is implemented by sources that take passive health
// reports (the Engine); the gateway looks for it on its health source.
type PassiveReporter interface {
	// ReportPassive records one request's outcome at a backend: failed for
	// a failed connect or a 5xx answer.
	ReportPassive(id string, failed bool)
	// ReportPassiveTimeout records a failure that was a timeout after
	// took (a connect or an answer that did not come in time).
	ReportPassiveTimeout(id string, took time.Duration)
}

var _ PassiveReporter = (*Engine)(nil)

// ReportPassive implements PassiveReporter. Unknown IDs and backends of
// groups without passive health are ignored. A success only resets the
// streak under the backend's own lock; an ejection takes the engine lock
// and publishes a snapshot at once.
func (e *Engine) ReportPassive(id string, failed bool) {
	gen := e.gen.Load()
	s := gen.byID[id]
	if s == nil {
		return
	}
	pol := s.passive.policy.Load()
	if pol == nil {
		return
	}
	now := e.now()
	if !s.passive.note(failed, now, pol) {
		return
	}
	e.eject(gen, s, pol, now)
}

// ReportPassiveTimeout implements PassiveReporter. A timeout during which
// this process was stalled for at least half of took is not held against
// the backend, as with active probes (stall.go): a daemon starved of CPU
// must not eject healthy origins one after another.
func (e *Engine) ReportPassiveTimeout(id string, took time.Duration) {
	now := time.Now() // took is real time, whatever Options.Now says
	if took > 0 && e.stalls.stalledDuring(now.Add(-took), now) >= took/2 {
		if s := e.gen.Load().byID[id]; s != nil && e.metrics != nil {
			e.metrics.stalledProbes.WithLabelValues(s.group).Inc()
		}
		return
	}
	e.ReportPassive(id, true)
}

// note records an outcome and reports whether the streak is long enough
// to eject. Failures while the backend is ejected (requests that were
// already on their way) do not count.
func (p *passiveState) note(failed bool, now time.Time, pol *PassivePolicy) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !failed {
		p.streak = 0
		return false
	}
	if now.Before(p.ejectedUntil) {
		return false
	}
	if p.streak == 0 || now.Sub(p.streakStart) > pol.Interval {
		// A streak spread wider than the interval starts over: five
		// failures in a day are not an outage.
		p.streak, p.streakStart = 0, now
	}
	p.streak++
	return p.streak >= pol.Consecutive
}

// eject ejects s unless that would put more than the policy's share of its
// group out at once; the streak then stays, so the next failure tries
// again once another ejection has ended.
func (e *Engine) eject(gen *generation, s *targetState, pol *PassivePolicy, now time.Time) {
	e.mu.Lock()
	if e.gen.Load() != gen {
		e.mu.Unlock()
		return // reconfigured meanwhile; the next failure counts anew
	}
	// The group's own states (its loop's), not every target of every
	// group: a refused ejection comes back with each further failure.
	members, ejected := 0, 0
	for _, o := range s.loop.states {
		members++
		if o != s && o.passive.ejectedAt(now) {
			ejected++
		}
	}
	if (ejected+1)*100 > pol.MaxEjectionPercent*members {
		e.mu.Unlock()
		e.logger.Debug("passive health: ejection skipped, max_ejection_percent reached",
			"backend", s.id, "group", s.group, "ejected", ejected, "members", members)
		return
	}
	until, n, ok := s.passive.eject(now, pol)
	if !ok {
		e.mu.Unlock()
		return // another request ejected it first
	}
	snap := e.publishLocked(time.Time{})
	loop := s.loop
	e.mu.Unlock()
	e.logger.Warn("backend ejected by passive health", "backend", s.id, "group", s.group,
		"reason", string(ReasonPassive), "ejections", n, "until", until.UTC().Format(time.RFC3339Nano))
	if e.published != nil {
		e.published(snap)
	}
	if loop != nil && !loop.group.PassiveOnly {
		// Envoy and HAProxy's "fastinter" idea: learn at once whether the
		// checks agree. Limited or already pending: a probe is on its way
		// or has just run.
		_, _, _ = e.probeNow(s, RecheckPassive, "ejected by passive health")
	}
}

// eject starts an ejection: base x n, capped; the multiplier starts over
// once the backend has stayed in for max_ejection_time since its last one.
func (p *passiveState) eject(now time.Time, pol *PassivePolicy) (until time.Time, n int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.ejectedUntil) {
		return time.Time{}, 0, false
	}
	if !p.ejectedUntil.IsZero() && now.Sub(p.ejectedUntil) >= pol.MaxEjection {
		p.multiplier = 0
	}
	p.multiplier++
	d := min(pol.BaseEjection*time.Duration(p.multiplier), pol.MaxEjection)
	p.ejectedUntil = now.Add(d)
	p.streak = 0
	p.ejections++
	return p.ejectedUntil, p.multiplier, true
}

func (p *passiveState) ejectedAt(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return now.Before(p.ejectedUntil)
}

// view returns the ejection end and the number of ejections so far.
func (p *passiveState) view() (time.Time, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ejectedUntil, p.ejections
}

// setPolicy installs a group's policy on a new or surviving state; turning
// passive health off ends a running ejection.
func (p *passiveState) setPolicy(pol *PassivePolicy) {
	p.policy.Store(pol)
	if pol == nil {
		p.mu.Lock()
		p.streak, p.ejectedUntil, p.multiplier = 0, time.Time{}, 0
		p.mu.Unlock()
	}
}

// applyPassive copies the registry's passive state into a snapshot
// entry (loop parts are built at round time and miss later ejections).
func applyPassive(b *Backend, s *targetState) {
	if s == nil || s.passive.policy.Load() == nil {
		b.EjectedUntil, b.Ejections = time.Time{}, 0
		return
	}
	b.EjectedUntil, b.Ejections = s.passive.view()
}

// isEjected reports a passive ejection running at now.
func isEjected(b *Backend, now time.Time) bool {
	return !b.EjectedUntil.IsZero() && now.Before(b.EjectedUntil)
}

// kickedJobs is the job that probes s in a combined round.
func (l *groupLoop) kickedJobs(s *targetState) []job {
	for _, j := range l.combinedJobs {
		if j.state == s {
			return []job{j}
		}
	}
	return nil
}

package health

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/backline/backline/internal/probe"
)

// Probing a backend now ("re-check"), outside its schedule: an operator
// after fixing a server (the API), a selection script after a login failed
// on the backend it chose (Lua), passive health after an ejection, the loop
// itself while a backend is part-way to a flip (fast.go). Every path goes
// through ProbeNow, which starts at most one such probe per
// backend per RecheckInterval: scripts are untrusted, and a burst of failed
// logins must not turn into a burst of probes. A request while an earlier
// one has not finished shares that probe instead. The probe runs in the
// backend's group loop like any other (the gates decide; nothing is marked
// down by the request itself), in a round of its own that may start only
// after the round under way ends.

// RecheckInterval is the shortest time between two requested probes of one
// backend; requests in between are dropped (counted in
// backline_probe_requests_total{result="limited"}).
const RecheckInterval = time.Second

// Sources of requested probes (the metric's source label).
const (
	RecheckAPI     = "api"
	RecheckLua     = "lua"
	RecheckPassive = "passive"
	RecheckFast    = "fast" // the loop itself: Group.FastInterval (fast.go)
	RecheckDown    = "down" // the loop itself: Group.DownInterval (interval.go)
)

var (
	// ErrRecheckLimited: the backend had a requested probe less than
	// RecheckInterval ago; this request was dropped.
	ErrRecheckLimited = errors.New("a probe of this backend was requested less than a second ago")
	// ErrNoActiveChecks: the backend's group is passive-only, nothing probes it.
	ErrNoActiveChecks = errors.New("backend has no active health checks")
	// ErrChecksPaused: an operator paused the backend's checks.
	ErrChecksPaused = errors.New("checks of this backend are paused")
	// ErrRecheckStopped: the group loop stopped (reload or shutdown) before
	// it took the request; asking again reaches the new one.
	ErrRecheckStopped = errors.New("health checks are being reconfigured; try again")
)

// RecheckStatus is how a requested probe ended.
type RecheckStatus string

const (
	// RecheckDone: the probe ran and its result went through the gates.
	RecheckDone RecheckStatus = "done"
	// RecheckInconclusive: the probe ran but says nothing about the backend
	// (this host was out of sockets, or this process stalled through a
	// timeout); the backend's state was kept.
	RecheckInconclusive RecheckStatus = "inconclusive"
	// RecheckCancelled: no probe ran (reload, shutdown, checks paused
	// meanwhile).
	RecheckCancelled RecheckStatus = "cancelled"
)

// RecheckResult is what a requested probe found.
type RecheckResult struct {
	Status   RecheckStatus
	Phase    probe.Phase // deep for a deep_check backend (it stands in for connect)
	OK       bool
	Reason   probe.Reason // failures only
	Error    string       // failures only; probe errors carry no credentials
	Latency  time.Duration
	Finished time.Time
}

// Recheck is one requested probe, shared by every request that came while
// it had not finished.
type Recheck struct {
	ID        string
	Source    string // who asked first
	Requested time.Time

	loop   *groupLoop
	done   chan struct{}
	result RecheckResult // written once, before done is closed
}

// Done is closed when the probe has ended (or will not run).
func (r *Recheck) Done() <-chan struct{} { return r.done }

// Result is valid once Done is closed.
func (r *Recheck) Result() RecheckResult {
	<-r.done
	return r.result
}

// recheckState is a backend's side of ProbeNow.
type recheckState struct {
	mu      sync.Mutex
	last    time.Time // when the last requested probe was accepted
	pending *Recheck  // accepted and not finished
}

// Rechecker is implemented by sources that probe a backend on request
// (the Engine): the admin API and the Lua scripts look for it.
type Rechecker interface {
	// ProbeNow asks for an immediate probe of backend id. joined reports
	// that an earlier request's probe had not finished and is shared.
	// Errors: ErrUnknownBackend, ErrNoActiveChecks, ErrChecksPaused,
	// ErrRecheckLimited, ErrRecheckStopped.
	ProbeNow(id, source, reason string) (r *Recheck, joined bool, err error)
}

var _ Rechecker = (*Engine)(nil)

// ProbeNow implements Rechecker. source is one of the Recheck* constants;
// reason (short, printable, without secrets) goes to the log line.
func (e *Engine) ProbeNow(id, source, reason string) (*Recheck, bool, error) {
	s := e.gen.Load().byID[id]
	if s == nil {
		return nil, false, ErrUnknownBackend
	}
	return e.probeNow(s, source, reason)
}

func (e *Engine) probeNow(s *targetState, source, reason string) (*Recheck, bool, error) {
	if s.paused.Load() {
		return nil, false, ErrChecksPaused
	}
	// s.loop changes only in install, under e.mu.
	e.mu.Lock()
	loop := s.loop
	e.mu.Unlock()
	if loop == nil || loop.group.PassiveOnly {
		return nil, false, ErrNoActiveChecks
	}
	now := e.now()
	rs := &s.recheck
	rs.mu.Lock()
	if p := rs.pending; p != nil && p.loop == loop {
		rs.mu.Unlock()
		e.countRecheck(source, "joined")
		return p, true, nil
	}
	// A pending request of a replaced loop that never ran (Reconfigure
	// before Run; a loop that ran cancelled its queue when it stopped)
	// ends as cancelled, so whoever waits for it is told.
	if p := rs.pending; p != nil && p.loop != loop {
		rs.pending = nil
		p.result = RecheckResult{Status: RecheckCancelled, Finished: now}
		close(p.done)
	}
	// A clock set back (since >= 0 fails) does not block requests for as
	// long as it went back.
	if since := now.Sub(rs.last); !rs.last.IsZero() && since >= 0 && since < RecheckInterval {
		rs.mu.Unlock()
		e.countRecheck(source, "limited")
		return nil, false, ErrRecheckLimited
	}
	r := &Recheck{ID: s.id, Source: source, Requested: now, loop: loop, done: make(chan struct{})}
	if !loop.enqueue(s) {
		rs.mu.Unlock()
		return nil, false, ErrRecheckStopped
	}
	rs.pending, rs.last = r, now
	rs.mu.Unlock()
	e.countRecheck(source, "started")
	level := slog.LevelInfo
	if source == RecheckFast || source == RecheckDown {
		// Routine, not news: the gate change it may lead to is logged.
		level = slog.LevelDebug
	}
	e.logger.Log(context.Background(), level, "backend probe requested", "backend", s.id, "group", s.group, "source", source, "reason", reason)
	return r, false, nil
}

func (e *Engine) countRecheck(source, result string) {
	if m := e.metrics; m != nil {
		m.rechecks.WithLabelValues(source, result).Inc()
	}
}

// kickQueue is a loop's list of backends to probe now. Each backend is in
// it at most once (its recheckState has one pending request), so it is
// bounded by the group's size.
type kickQueue struct {
	mu      sync.Mutex
	states  []*targetState
	stopped bool
	ready   chan struct{} // one token: the list is not empty
}

func newKickQueue() kickQueue { return kickQueue{ready: make(chan struct{}, 1)} }

// enqueue adds s unless the loop has stopped.
func (l *groupLoop) enqueue(s *targetState) bool {
	q := &l.kicks
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return false
	}
	q.states = append(q.states, s)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// kickedRound probes every queued backend in one round without jitter and
// finishes their requests.
func (l *groupLoop) kickedRound(ctx context.Context) {
	q := &l.kicks
	q.mu.Lock()
	states := q.states
	q.states = nil
	q.mu.Unlock()
	if len(states) == 0 {
		return
	}
	jobs := make([]job, 0, len(states))
	for _, s := range states {
		jobs = append(jobs, l.kickedJobs(s)...)
	}
	l.kicked = map[*targetState]*RecheckResult{}
	l.round(ctx, jobs)
	seen := l.kicked
	l.kicked = nil
	now := l.e.now()
	for _, s := range states {
		res := seen[s]
		if res == nil {
			res = &RecheckResult{Status: RecheckCancelled}
		}
		res.Finished = now
		l.finish(s, *res)
	}
}

// noteKicked keeps what the probe of a requested backend found; round
// calls it for each job while l.kicked is set, before the result is used.
func (l *groupLoop) noteKicked(j job, res *probe.Result, finished bool, ended time.Time) {
	if !finished {
		return // cancelled: the request ends as such
	}
	out := &RecheckResult{Status: RecheckDone, Phase: j.phase, OK: res.OK, Latency: res.Duration}
	if res.Phase != "" {
		out.Phase = res.Phase
	}
	if !res.OK {
		out.Reason, out.Error = failureReason(res), failureText(res)
	}
	if isLocalFailure(res) {
		out.Status = RecheckInconclusive
	} else if _, stalled := l.e.stalls.stalledTimeout(res, ended); stalled {
		out.Status = RecheckInconclusive
	}
	l.kicked[j.state] = out
}

// finish ends s's pending request with res.
func (l *groupLoop) finish(s *targetState, res RecheckResult) {
	rs := &s.recheck
	rs.mu.Lock()
	r := rs.pending
	if r != nil && r.loop == l {
		rs.pending = nil
	}
	rs.mu.Unlock()
	if r == nil || r.loop != l {
		return
	}
	r.result = res
	close(r.done)
}

// stopKicks refuses further requests and cancels the queued ones; the loop
// calls it when it ends.
func (l *groupLoop) stopKicks() {
	q := &l.kicks
	q.mu.Lock()
	q.stopped = true
	states := q.states
	q.states = nil
	q.mu.Unlock()
	now := l.e.now()
	for _, s := range states {
		l.finish(s, RecheckResult{Status: RecheckCancelled, Finished: now})
	}
}

package health

import (
	"context"
	"time"

	"github.com/backline/backline/internal/probe"
)

// job is one probe of a round: which target, which phase. combined marks
// the deep probe of a combined round, which stands in for the connect
// probe too (see recordCombined).
type job struct {
	state    *targetState
	phase    probe.Phase
	combined bool
	leased   bool // a deep probe under this instance's lease (lease.go)
}

// groupLoop owns one group's targets, gates and round buffers. Everything
// but the snapshot store is touched by its goroutine only (and by
// Engine.install while no loop of the generation runs).
type groupLoop struct {
	e      *Engine
	gen    *generation
	index  int // position of its part in the snapshot
	group  Group
	states []*targetState
	sem    chan struct{}
	steps  stepObservers

	connectJobs  []job // every target, connect phase
	deepJobs     []job // deep_check targets, deep phase
	combinedJobs []job // deep phase for deep_check targets, connect for the rest

	// Reused between rounds so a round of 10,000 probes allocates little.
	active   []job
	results  []probe.Result
	offsets  []time.Duration
	order    []int
	finished []bool      // per job of the round: its probe ended uncancelled
	ended    []time.Time // per job of the round: when its probe returned (real time)

	localLog localErrorLog
	stallLog localErrorLog

	kicks  kickQueue                       // backends to probe now (recheck.go)
	kicked map[*targetState]*RecheckResult // set during a kicked round only
	fast   fastSchedule                    // re-checks due sooner than the next tick (fast.go)
	// wentDown: backends planFast put on the down schedule in the round
	// under way, for extendDownLeases (lease.go).
	wentDown []*targetState
}

func newGroupLoop(e *Engine, index int, g Group, inFlight int) *groupLoop {
	return &groupLoop{
		e:     e,
		index: index,
		group: g,
		sem:   make(chan struct{}, inFlight),
		steps: stepObservers{},
		kicks: newKickQueue(),
		fast:  newFastSchedule(g.FastInterval, g.DownInterval),
	}
}

// add appends a target's state and its jobs.
func (l *groupLoop) add(s *targetState) {
	l.states = append(l.states, s)
	s.loop = l
	// The down schedule belongs to a loop: the new one's first round
	// probes every backend and decides afresh.
	s.downScheduled = false
	l.connectJobs = append(l.connectJobs, job{state: s, phase: probe.PhaseConnect})
	if s.target.DeepCheck {
		l.deepJobs = append(l.deepJobs, job{state: s, phase: probe.PhaseDeep})
		l.combinedJobs = append(l.combinedJobs, job{state: s, phase: probe.PhaseDeep, combined: true})
	} else {
		l.combinedJobs = append(l.combinedJobs, job{state: s, phase: probe.PhaseConnect})
	}
}

// run schedules rounds as contract §4.2 says: one round at once, then a
// combined round per tick when both intervals are equal, else separate
// connect and deep tickers. One goroutine selects on both, so rounds never
// overlap; a round longer than its interval delays the next one (a ticker
// keeps at most one pending tick), it never stacks.
func (l *groupLoop) run(ctx context.Context) {
	defer l.stopKicks()
	defer l.stopFast()
	g := l.group
	if g.PassiveOnly {
		// No probes: publish the targets once (readiness) and wait.
		l.e.publish(l.gen, l.index, l.backends(), l.e.now())
		<-ctx.Done()
		return
	}
	if g.ConnectInterval == g.DeepInterval || len(l.deepJobs) == 0 {
		l.round(ctx, l.combinedJobs)
		ticker := time.NewTicker(g.ConnectInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				l.round(ctx, l.combinedJobs)
			case <-l.kicks.ready:
				l.kickedRound(ctx)
			case <-l.fast.c:
				l.fireFast()
			}
		}
	}

	l.round(ctx, l.connectJobs)
	l.round(ctx, l.deepJobs)
	connectTicker := time.NewTicker(g.ConnectInterval)
	defer connectTicker.Stop()
	deepTicker := time.NewTicker(g.DeepInterval)
	defer deepTicker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-connectTicker.C:
			l.round(ctx, l.connectJobs)
		case <-deepTicker.C:
			l.round(ctx, l.deepJobs)
		case <-l.kicks.ready:
			l.kickedRound(ctx)
		case <-l.fast.c:
			l.fireFast()
		}
	}
}

// round probes jobs concurrently, waits for all, records the results in
// configuration order and publishes. In a round cut short by a reload or
// shutdown, the probes that had finished count and the cancelled ones do
// not: a cancelled probe is not a verdict on the backend, but throwing
// finished ones away froze every backend's health under frequent reloads.
func (l *groupLoop) round(ctx context.Context, all []job) {
	if len(all) == 0 || ctx.Err() != nil {
		return
	}
	// Targets whose checks an operator paused keep their last state;
	// down targets on their own schedule (interval.go) wait for it.
	jobs := all
	for _, j := range all {
		if l.scheduledOut(j) {
			jobs = l.active[:0]
			for _, j := range all {
				if !l.scheduledOut(j) {
					jobs = append(jobs, j)
				}
			}
			l.active = jobs
			break
		}
	}
	jobs, leased := l.planLeases(ctx, jobs, all)
	results := l.probeAll(ctx, jobs)
	now := l.e.now()
	recorded := 0
	for i, j := range jobs {
		res := &results[i]
		if l.kicked != nil {
			l.noteKicked(j, res, l.finished[i], l.ended[i])
		}
		if !l.finished[i] {
			*res = probe.Result{}
			continue
		}
		recorded++
		if isLocalFailure(res) {
			l.noteLocalFailure(ctx, j.state, j.phase, res, now)
			*res = probe.Result{}
			continue
		}
		if stalled, ok := l.e.stalls.stalledTimeout(res, l.ended[i]); ok {
			l.noteStalledProbe(ctx, j.state, j.phase, res, stalled, now)
			*res = probe.Result{}
			continue
		}
		if j.leased {
			leased.hold(j, res) // published and applied in finishLeases
		} else {
			l.recordLocal(ctx, j, res, now)
		}
		*res = probe.Result{} // drop references before the buffer is reused
	}
	if recorded == 0 && ctx.Err() != nil {
		return
	}
	if leased != nil {
		l.finishLeases(ctx, leased, now)
	}
	l.planFast(all)
	l.extendDownLeases(ctx)
	l.setServersStatus()
	l.e.publish(l.gen, l.index, l.backends(), now)
}

// recordLocal applies one of this instance's own probe results to its
// gates, history, metrics and logs.
func (l *groupLoop) recordLocal(ctx context.Context, j job, res *probe.Result, now time.Time) {
	var out outcome
	if j.combined {
		out = j.state.recordCombined(res, now)
	} else {
		out = j.state.record(j.phase, res, now)
	}
	j.state.noteHistory(j.phase, out.ok, res, now)
	if m := l.e.metrics; m != nil {
		m.observe(j.state, res, &out, l.steps)
	}
	logOutcome(ctx, l.e.logger, j.state, &out, res)
}

func (l *groupLoop) backends() []Backend {
	out := make([]Backend, len(l.states))
	for i, s := range l.states {
		out[i] = s.backend()
		out[i].PanicThreshold = l.group.PanicThreshold
		out[i].Schedule = l.schedule(s)
	}
	return out
}

// setServersStatus keeps the seed's gauge for the mail group.
func (l *groupLoop) setServersStatus() {
	m := l.e.metrics
	if m == nil || l.group.Name != GroupMail {
		return
	}
	alive := 0
	for _, s := range l.states {
		if s.healthy {
			alive++
		}
	}
	m.serversStatus.WithLabelValues("wanted").Set(float64(len(l.states)))
	m.serversStatus.WithLabelValues("alive").Set(float64(alive))
}

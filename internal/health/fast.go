package health

import "time"

// Fast re-checks (Group.FastInterval; HAProxy's fastinter, Envoy's
// unhealthy_edge_interval and healthy_edge_interval, Traefik's
// unhealthyInterval): while a backend is part-way to a flip (failures
// counted toward failure_threshold, or successes toward
// recovery_threshold), its next probe comes FastInterval after the result
// instead of at the group's next tick. With a 30s interval and
// failure_threshold 3 a dead backend is marked down after about 2 x
// fast_interval rather than 90s, and a recovered one returns as soon.
//
// There is no second scheduler: when a re-check is due, the loop asks for
// it through probeNow, the path of the API, Lua and passive re-checks, so
// it shares their per-backend limit (RecheckInterval), their coalescing,
// their paused-checks rule and their combined probe (a deep_check backend
// is re-checked with its deep probe, which stands in for connect). The
// config keeps FastInterval >= RecheckInterval, so the limit never drops a
// fast re-check on its own: due times are measured from the previous
// result, which came after the previous request was accepted.
//
// The schedule belongs to the loop: a reload or shutdown ends the loop and
// its timer (the next loop's first round decides afresh), a result that
// reaches the threshold or breaks the streak disarms the backend, and a
// result that keeps it counting re-arms it from that result (a result of
// a gate that is not counting, such as a connect round while the deep gate
// counts, leaves an armed re-check where it is). Each result
// arms at most one re-check, so the extra probes per streak are at most
// the threshold minus one. Due re-checks of one round fall due together
// and run as one kicked round (one snapshot), without jitter, as any
// requested probe.
//
// The same schedule carries the down backends of Group.DownInterval
// (interval.go): those stay armed while down, each due DownInterval (plus
// jitter) after its last result, and the rounds leave them out.
type fastSchedule struct {
	interval time.Duration              // fast_interval; 0: off
	down     time.Duration              // down_interval; 0: off
	due      map[*targetState]time.Time // armed backends, by schedule clock
	next     time.Time                  // when the armed timer fires; zero: no timer
	c        <-chan time.Time           // the timer's channel; nil: never ready
	stop     func()
}

func newFastSchedule(interval, down time.Duration) fastSchedule {
	if interval <= 0 && down <= 0 {
		return fastSchedule{}
	}
	return fastSchedule{interval: max(interval, 0), down: max(down, 0), due: map[*targetState]time.Time{}}
}

// counting reports whether s is part-way to a flip on a gate that decides
// its health.
func (s *targetState) counting() bool {
	if s.connectGate.counting() {
		return true
	}
	return s.target.DeepCheck && s.deepGate.counting()
}

// gateResults is how many outcomes s's gates have recorded, per gate.
func (s *targetState) gateResults() [2]uint64 {
	return [2]uint64{s.connectGate.results, s.deepGate.results}
}

// countingGateMoved reports whether a gate that is part-way to a flip
// recorded something since seen (gateResults when last looked).
func (s *targetState) countingGateMoved(seen [2]uint64) bool {
	if s.connectGate.counting() && s.connectGate.results != seen[0] {
		return true
	}
	return s.target.DeepCheck && s.deepGate.counting() && s.deepGate.results != seen[1]
}

// planFast arms or disarms each backend of a finished round whose gates
// recorded something in it. A backend whose probe said nothing (an
// inconclusive result, a paused target, a cancelled probe) keeps what it
// had: were it re-armed, a host out of sockets would re-probe at
// fast_interval for as long as it stays so.
func (l *groupLoop) planFast(jobs []job) {
	f := &l.fast
	if f.interval <= 0 && f.down <= 0 {
		return
	}
	now := l.e.schedClock()
	for _, j := range jobs {
		s := j.state
		n := s.gateResults()
		if n == s.fastSeen {
			continue
		}
		seen := s.fastSeen
		s.fastSeen = n
		_, armed := f.due[s]
		wasDown := s.downScheduled
		state := s.intervalState()
		s.downScheduled = state == IntervalDown && f.down > 0
		if s.downScheduled && !wasDown {
			l.wentDown = append(l.wentDown, s)
		}
		switch {
		case s.downScheduled:
			// Every result of a down backend moves its next probe to
			// DownInterval after it, wherever the result came from.
			f.due[s] = now.Add(l.downDelay())
		case state != IntervalTransitioning || f.interval <= 0:
			delete(f.due, s)
		case !armed || wasDown || s.countingGateMoved(seen):
			f.due[s] = now.Add(f.interval)
		default:
			// Only a gate that is not counting moved (a connect round
			// while the deep gate counts): the re-check stays due when
			// it was. Re-arming it here pushed it back on every connect
			// round, and with connect_interval <= fast_interval it never
			// came.
		}
	}
	l.armFast(now)
}

// armFast points the timer at the earliest due re-check, or stops it.
func (l *groupLoop) armFast(now time.Time) {
	f := &l.fast
	var next time.Time
	for _, d := range f.due {
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	if next.Equal(f.next) {
		return // unchanged (or nothing armed and no timer)
	}
	f.stopTimer()
	if next.IsZero() {
		return
	}
	f.next = next
	f.c, f.stop = l.e.after(max(next.Sub(now), 0))
}

// fireFast requests the re-checks that are due; the kicked round they
// join runs on the loop's next turn.
func (l *groupLoop) fireFast() {
	f := &l.fast
	f.c, f.stop, f.next = nil, nil, time.Time{}
	now := l.e.schedClock()
	for s, d := range f.due {
		if d.After(now) {
			continue
		}
		if s.downScheduled {
			// It stays armed: its result re-arms it from that result, and
			// a probe refused or inconclusive (paused, limited, out of
			// sockets) is tried again a DownInterval later, as a round
			// would, since no round probes it meanwhile.
			f.due[s] = now.Add(l.downDelay())
			_, _, _ = l.e.probeNow(s, RecheckDown, KeyDownInterval)
			continue
		}
		delete(f.due, s)
		// Refused (paused meanwhile, limited, loop stopping): the next
		// round probes it as usual.
		_, _, _ = l.e.probeNow(s, RecheckFast, KeyFastInterval)
	}
	l.armFast(now)
}

// stopTimer drops the armed timer; the due times stay.
func (f *fastSchedule) stopTimer() {
	if f.stop != nil {
		f.stop()
	}
	f.c, f.stop, f.next = nil, nil, time.Time{}
}

// stopFast ends the schedule with the loop: no timer outlives it.
func (l *groupLoop) stopFast() {
	l.fast.stopTimer()
	clear(l.fast.due)
}

func (e *Engine) schedClock() time.Time {
	if e.schedNow != nil {
		return e.schedNow()
	}
	return time.Now()
}

func (e *Engine) after(d time.Duration) (<-chan time.Time, func()) {
	if e.schedAfter != nil {
		return e.schedAfter(d)
	}
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/backline/backline/internal/probe"
)

// A process that gets no CPU for a while (an overloaded or throttled host,
// a suspended VM, a long pause) sees its own probes time out: the timer
// fires while the answer waits unread in a socket. With a failure
// threshold of 1 (the Nauthilus contract's default) one such round marks
// every backend down and the daemon's own overload becomes an outage of
// every login. So a timeout is not held against a backend when this
// process was stalled for at least half of the probe's time: the backend
// keeps its state, as after a local resource failure (local.go), and the
// probe is counted and logged as inconclusive. Other failures (refused,
// protocol, auth) are answers from the backend and count as always.
//
// The stalls are measured by a ticker: every stallTick it notes how late
// it woke. A wake more than one extra tick late is a stall, kept as the
// interval it covered.

const (
	stallTick = 100 * time.Millisecond
	// stallsKept bounds the remembered stalls; older ones are forgotten
	// (a probe that outlived them all is timed out by its own timeout
	// long before).
	stallsKept = 64
)

type stallInterval struct{ from, to time.Time }

// stallWatch notes the intervals this process was stalled.
type stallWatch struct {
	mu       sync.Mutex
	stalls   [stallsKept]stallInterval
	next     int
	lastWake time.Time // zero: not running
}

// run ticks until ctx ends (it runs as long as Engine.Run).
func (w *stallWatch) run(ctx context.Context) {
	t := time.NewTicker(stallTick)
	defer t.Stop()
	w.mu.Lock()
	w.lastWake = time.Now()
	w.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.lastWake = time.Time{}
			w.mu.Unlock()
			return
		case <-t.C:
		}
		now := time.Now()
		w.mu.Lock()
		if late := now.Sub(w.lastWake) - stallTick; late > stallTick {
			w.recordLocked(stallInterval{from: now.Add(-late), to: now})
		}
		w.lastWake = now
		w.mu.Unlock()
	}
}

func (w *stallWatch) record(s stallInterval) {
	w.mu.Lock()
	w.recordLocked(s)
	w.mu.Unlock()
}

func (w *stallWatch) recordLocked(s stallInterval) {
	w.stalls[w.next] = s
	w.next = (w.next + 1) % stallsKept
}

// stalledDuring is how long this process was stalled between from and
// now, counting a stall still under way (the ticker has not woken for
// longer than a tick and then some).
func (w *stallWatch) stalledDuring(from, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var total time.Duration
	for _, s := range w.stalls {
		total += overlap(s, from, now)
	}
	if !w.lastWake.IsZero() {
		if due := w.lastWake.Add(2 * stallTick); now.After(due) {
			total += overlap(stallInterval{from: w.lastWake.Add(stallTick), to: now}, from, now)
		}
	}
	return total
}

func overlap(s stallInterval, from, to time.Time) time.Duration {
	if s.from.IsZero() {
		return 0
	}
	start, end := s.from, s.to
	if start.Before(from) {
		start = from
	}
	if end.After(to) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start)
}

// stalledTimeout tells whether res, a probe that returned at ended, is a
// timeout during which this process was stalled for at least half of the
// probe's time; stalled is how long. ended is the probe's own end, not the
// round's: a round lasts as long as its slowest probe plus the jitter, and
// a stall after this probe ended says nothing about it.
func (w *stallWatch) stalledTimeout(res *probe.Result, ended time.Time) (stalled time.Duration, ok bool) {
	if res.OK || res.Duration <= 0 || ended.IsZero() || failureReason(res) != probe.ReasonTimeout {
		return 0, false
	}
	// Probe durations and ended are real time, whatever Options.Now says.
	stalled = w.stalledDuring(ended.Add(-res.Duration), ended)
	return stalled, stalled >= res.Duration/2
}

// noteStalledProbe counts an inconclusive probe and logs it at WARN, at
// most once per localErrorLogInterval per group.
func (l *groupLoop) noteStalledProbe(ctx context.Context, s *targetState, phase probe.Phase, res *probe.Result, stalled time.Duration, now time.Time) {
	if m := l.e.metrics; m != nil {
		m.stalledProbes.WithLabelValues(s.group).Inc()
	}
	log := &l.stallLog
	if !log.allow(now) {
		return
	}
	l.e.logger.LogAttrs(ctx, slog.LevelWarn, "health probe timed out while this process was stalled: backend state kept",
		slog.String("group", s.group),
		slog.String("target", s.name),
		slog.String("address", s.target.Address()),
		slog.String("phase", string(phase)),
		slog.Duration("probe_duration", res.Duration),
		slog.Duration("stalled", stalled),
		slog.Int("suppressed_since_last", log.suppressed))
	log.logged(now)
}

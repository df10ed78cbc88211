package health

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/backline/backline/internal/probe"
)

// probeMargin is added to a target's timeouts for the safety-net deadline
// of one probe; the probe itself enforces the real timeouts.
const probeMargin = time.Second

// defaultTimeout stands in for an unset target timeout in the safety net.
const defaultTimeout = 5 * time.Second

var errCheckerPanicked = errors.New("health check panicked")

// probeAll runs jobs concurrently and returns their results (a buffer
// reused by the next round). Each probe starts at a random offset in
// [0, jitter) from the round's start, so thousands of targets do not hit the
// network in the same millisecond; at most cap(sem) run at once. Sleeping
// happens here, in one goroutine, so waiting probes cost no goroutine.
func (l *groupLoop) probeAll(ctx context.Context, jobs []job) []probe.Result {
	n := len(jobs)
	l.results = grow(l.results, n)
	l.offsets = grow(l.offsets, n)
	l.order = grow(l.order, n)
	l.finished = grow(l.finished, n)
	clear(l.finished)
	l.ended = grow(l.ended, n)
	clear(l.ended)
	results, offsets, order := l.results, l.offsets, l.order
	for i := range n {
		offsets[i] = l.offset()
		order[i] = i
	}
	if l.group.Jitter > 0 {
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(offsets[a], offsets[b]) })
	}

	var wg sync.WaitGroup
	var timer *time.Timer
	start := time.Now()
dispatch:
	for _, i := range order {
		if wait := offsets[i] - time.Since(start); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				break dispatch
			case <-timer.C:
			}
		}
		select {
		case <-ctx.Done():
			break dispatch
		case l.sem <- struct{}{}:
		}
		wg.Add(1)
		go l.probeOne(ctx, &wg, jobs[i], &results[i], &l.finished[i], &l.ended[i], offsets[i])
	}
	if timer != nil {
		timer.Stop()
	}
	wg.Wait()
	return results
}

func (l *groupLoop) offset() time.Duration {
	limit := l.group.Jitter
	if limit <= 0 || l.kicked != nil {
		// A requested probe is wanted now; jitter spreads scheduled rounds.
		return 0
	}
	if l.e.jitter != nil {
		return l.e.jitter(limit)
	}
	return rand.N(limit)
}

// finished is set when the probe ended with ctx still live: its result is
// a verdict. A probe cut short by a reload or shutdown is not. ended is
// when it returned: a stalled timeout is judged over the probe's own time,
// not the end of its round (stall.go).
func (l *groupLoop) probeOne(ctx context.Context, wg *sync.WaitGroup, j job, res *probe.Result, finished *bool, ended *time.Time, offset time.Duration) {
	defer wg.Done()
	defer func() { <-l.sem }()
	defer func() {
		// A checker bug must not take the daemon down; the panic value is
		// not logged because it could hold anything the checker touched.
		if recover() != nil {
			*res = probe.Result{Phase: j.phase, Reason: probe.ReasonProtocol, Err: errCheckerPanicked}
			*finished = ctx.Err() == nil
		}
		*ended = time.Now()
	}()
	t := j.state.target
	if hook := l.e.probeStarted; hook != nil {
		hook(l.group.Name, t, j.phase, offset)
	}
	pctx, cancel := context.WithTimeout(ctx, safetyDeadline(t))
	defer cancel()
	*res = l.e.checker.Check(pctx, t, j.phase, probe.Options{})
	*finished = ctx.Err() == nil
}

// safetyDeadline bounds a probe even if it ignored its own timeouts.
func safetyDeadline(t *probe.Target) time.Duration {
	d := probeMargin
	for _, timeout := range []time.Duration{t.ConnectTimeout, t.TLSTimeout, t.DeepTimeout} {
		if timeout <= 0 {
			timeout = defaultTimeout
		}
		d += timeout
	}
	return d
}

// grow returns s resized to n, reusing its array when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

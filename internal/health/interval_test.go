package health

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// State-dependent intervals (interval.go). The group interval is an hour,
// so its rounds never come during a test: every probe after the first
// round is one the schedule asked for, on the fake clock.

const testDownInterval = 10 * time.Minute

func downGroup(failures, recoveries int, fast time.Duration, targets ...*probe.Target) Group {
	g := fastGroup(failures, recoveries, true, targets...)
	g.FastInterval = fast
	g.DownInterval = testDownInterval
	return g
}

// armed drains the timers the loop armed for the snapshot just read (it
// plans before it publishes) and returns the one left running, nil if
// none: a fired down re-check arms a fallback first, which the probe's
// result then replaces.
func (f *fakeSched) armed(t *testing.T) *fakeTimer {
	t.Helper()
	var last *fakeTimer
	for {
		select {
		case a := <-f.arms:
			last = a
			continue
		default:
		}
		break
	}
	if last != nil && last.stopped.Load() {
		return nil
	}
	return last
}

// waitPendingRecheck waits until the requested probe of id under way, if
// any, has finished: a requested round publishes before it ends the
// request, so a snapshot alone does not say that it ended.
func waitPendingRecheck(t *testing.T, e *Engine, id string) {
	t.Helper()
	rs := &e.gen.Load().byID[id].recheck
	rs.mu.Lock()
	p := rs.pending
	rs.mu.Unlock()
	if p != nil {
		waitRecheck(t, p)
	}
}

func wantSchedule(t *testing.T, b Backend, want Schedule) {
	t.Helper()
	if b.Schedule != want {
		t.Fatalf("%s: schedule %+v, want %+v", b.ID, b.Schedule, want)
	}
}

var (
	normalSchedule        = Schedule{State: IntervalNormal, Connect: time.Hour}
	downSchedule          = Schedule{State: IntervalDown, Connect: testDownInterval, Own: true}
	transitioningSchedule = Schedule{State: IntervalTransitioning, Connect: 5 * time.Second, Own: true}
)

// A down backend is probed down_interval after its last result, again and
// again, while the group's rounds (an hour apart) never come.
func TestDownIntervalProbesDownBackendOnItsOwnSchedule(t *testing.T) {
	h, fs, c, start := startFast(t, downGroup(1, 1, 0, mailTarget("a", 1, false)), fastRefused)
	b := backendByName(t, h.next(t), "a")
	if b.Healthy {
		t.Fatal("healthy after a failure with failure_threshold 1")
	}
	wantSchedule(t, b, downSchedule)
	for i := 1; i <= 3; i++ {
		a := fs.armed(t)
		if a == nil || a.d != testDownInterval {
			t.Fatalf("probe %d: armed %+v, want a down re-check after %s", i, a, testDownInterval)
		}
		fs.fire(a)
		wantSchedule(t, backendByName(t, h.next(t), "a"), downSchedule)
	}
	want := []time.Time{start, start.Add(testDownInterval), start.Add(2 * testDownInterval), start.Add(3 * testDownInterval)}
	if got := c.times(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("probes at %v, want %v", got, want)
	}
}

// Up, transitioning down (fast_interval), down (down_interval),
// transitioning up (fast_interval), up (the group's interval), and down
// again: each result picks the next delay from the state it leaves.
func TestDownIntervalTransitionsBackAndForth(t *testing.T) {
	h, fs, c, start := startFast(t, downGroup(2, 2, 5*time.Second, mailTarget("a", 1, false)),
		fastRefused, fastRefused, fastOK, fastOK, fastRefused, fastRefused)
	steps := []struct {
		healthy bool
		sched   Schedule
		delay   time.Duration // of the re-check armed after it; 0: none
	}{
		{true, transitioningSchedule, 5 * time.Second},  // first failure
		{false, downSchedule, testDownInterval},         // second: down
		{false, transitioningSchedule, 5 * time.Second}, // first success
		{true, normalSchedule, 0},                       // second: up, back in the rounds
	}
	for i, st := range steps {
		b := backendByName(t, h.next(t), "a")
		if b.Healthy != st.healthy {
			t.Fatalf("step %d: healthy %v, want %v", i, b.Healthy, st.healthy)
		}
		wantSchedule(t, b, st.sched)
		a := fs.armed(t)
		switch {
		case st.delay == 0 && a != nil:
			t.Fatalf("step %d: re-check armed after %s, want none", i, a.d)
		case st.delay == 0:
		case a == nil || a.d != st.delay:
			t.Fatalf("step %d: armed %+v, want a re-check after %s", i, a, st.delay)
		default:
			fs.fire(a)
		}
	}
	// Down again, from a probe an operator asked for. The last re-check's
	// request ends just after its round published (the snapshot read
	// above): asked before, this probe would join it and never run.
	waitPendingRecheck(t, h.e, "a")
	fs.clock.advance(time.Minute)
	r, joined, err := h.e.ProbeNow("a", RecheckAPI, "test")
	if err != nil || joined {
		t.Fatalf("probe now: joined %v, %v", joined, err)
	}
	waitRecheck(t, r)
	wantSchedule(t, backendByName(t, h.next(t), "a"), transitioningSchedule)
	fs.fire(fs.armed(t))
	b := backendByName(t, h.next(t), "a")
	wantSchedule(t, b, downSchedule)
	if a := fs.armed(t); a == nil || a.d != testDownInterval {
		t.Fatalf("armed %+v after going down again, want %s", a, testDownInterval)
	}
	s5, s10 := 5*time.Second, testDownInterval
	want := []time.Time{start, start.Add(s5), start.Add(s5 + s10), start.Add(2*s5 + s10),
		start.Add(2*s5 + s10 + time.Minute), start.Add(3*s5 + s10 + time.Minute)}
	if got := c.times(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("probes at %v, want %v", got, want)
	}
}

// Without fast_interval, a down backend's first success puts it back in
// the group's rounds (HAProxy falls back to inter when fastinter is not
// set): no down re-check stays armed.
func TestDownIntervalWithoutFastIntervalReturnsToRounds(t *testing.T) {
	h, fs, _, _ := startFast(t, downGroup(1, 2, 0, mailTarget("a", 1, false)), fastRefused, fastOK)
	wantSchedule(t, backendByName(t, h.next(t), "a"), downSchedule)
	fs.fire(fs.armed(t))
	b := backendByName(t, h.next(t), "a")
	wantSchedule(t, b, Schedule{State: IntervalTransitioning, Connect: time.Hour})
	if a := fs.armed(t); a != nil {
		t.Fatalf("re-check armed after %s while transitioning without fast_interval", a.d)
	}
}

// driven is an engine whose loop the test drives by hand: round is a
// scheduled round, kicked a round of requested probes. Nothing runs on
// its own.
type driven struct {
	e  *Engine
	l  *groupLoop
	fs *fakeSched
}

func newDriven(t *testing.T, g Group, c probe.Checker) *driven {
	t.Helper()
	clock := newPassiveClock()
	e, err := New([]Group{g}, c, Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeSched(clock)
	fs.hook(e)
	return &driven{e: e, l: e.gen.Load().loops[0], fs: fs}
}

func (d *driven) round()  { d.l.round(context.Background(), d.l.combinedJobs) }
func (d *driven) kicked() { d.l.kickedRound(context.Background()) }

func sortedCalls(c *scriptChecker) []string {
	calls := c.callList()
	slices.Sort(calls)
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
	return calls
}

// The group's rounds leave a backend on the down schedule out; its own
// due time, and any requested probe, still reach it.
func TestDownIntervalRoundsLeaveDownBackendsOut(t *testing.T) {
	c := &scriptChecker{script: map[string][]bool{"a/connect": {false}}}
	g := downGroup(1, 1, 0, mailTarget("a", 1, false), mailTarget("b", 2, false))
	d := newDriven(t, g, c)
	d.round()
	if got := sortedCalls(c); !slices.Equal(got, []string{"a/connect", "b/connect"}) {
		t.Fatalf("first round probed %v", got)
	}
	d.round()
	if got := sortedCalls(c); !slices.Equal(got, []string{"b/connect"}) {
		t.Fatalf("a scheduled round with a down: probed %v, want b only", got)
	}
	d.fs.clock.advance(time.Minute)
	if _, _, err := d.e.ProbeNow("a", RecheckAPI, "test"); err != nil {
		t.Fatal(err)
	}
	d.kicked()
	if got := sortedCalls(c); !slices.Equal(got, []string{"a/connect"}) {
		t.Fatalf("requested probe: probed %v", got)
	}
	d.fs.clock.advance(testDownInterval)
	d.l.fireFast()
	d.kicked()
	if got := sortedCalls(c); !slices.Equal(got, []string{"a/connect"}) {
		t.Fatalf("down re-check: probed %v", got)
	}
	// Back up: in the rounds again.
	c.mu.Lock()
	c.script["a/connect"] = []bool{true}
	c.mu.Unlock()
	d.fs.clock.advance(testDownInterval)
	d.l.fireFast()
	d.kicked()
	sortedCalls(c)
	d.round()
	if got := sortedCalls(c); !slices.Equal(got, []string{"a/connect", "b/connect"}) {
		t.Fatalf("round after recovery probed %v", got)
	}
	d.l.stopFast()
}

// The group's jitter spreads down re-checks as it spreads a round's
// probes: backends that went down together do not stay in step.
func TestDownIntervalKeepsJitter(t *testing.T) {
	g := downGroup(1, 1, 0, mailTarget("a", 1, false))
	g.Jitter = 2 * time.Second
	clock := newPassiveClock()
	fs := newFakeSched(clock)
	c := &seqChecker{clock: clock, seq: []probe.Result{fastRefused}}
	var limits []time.Duration
	jitter := func(e *Engine) {
		e.jitter = func(limit time.Duration) time.Duration {
			limits = append(limits, limit)
			return limit / 4
		}
	}
	h := startEngine(t, []Group{g}, c, Options{Now: clock.now}, fs.hook, jitter)
	h.next(t)
	if a := fs.armed(t); a == nil || a.d != testDownInterval+500*time.Millisecond {
		t.Fatalf("armed %+v, want down_interval plus a quarter of the 2s jitter", a)
	}
	h.stop()
	if !slices.Contains(limits, 2*time.Second) {
		t.Fatalf("jitter asked with limits %v, want the group's 2s", limits)
	}
}

// A down re-check that cannot run (checks paused meanwhile) stays armed
// one down_interval on: no round would probe the backend otherwise.
func TestDownIntervalRefusedRecheckStaysArmed(t *testing.T) {
	h, fs, c, _ := startFast(t, downGroup(1, 1, 0, mailTarget("a", 1, false)), fastRefused)
	h.next(t)
	a := fs.armed(t)
	h.e.gen.Load().byID["a"].paused.Store(true)
	fs.fire(a)
	next := fs.nextArm(t)
	if next.d != testDownInterval {
		t.Fatalf("re-armed after %s, want %s", next.d, testDownInterval)
	}
	if n := len(c.times()); n != 1 {
		t.Fatalf("%d probes, want 1 (paused)", n)
	}
}

// A reload keeps the backend's state (registry by ID) and its new
// down_interval applies from the new loop's first round; a reload that
// drops down_interval puts it back in the rounds.
func TestDownIntervalReloadKeepsStateAndTakesNewInterval(t *testing.T) {
	g := downGroup(1, 1, 0, mailTarget("a", 1, false))
	h, fs, _, start := startFast(t, g, fastRefused)
	h.next(t)
	first := fs.armed(t)
	fs.clock.advance(time.Minute)
	g.DownInterval = 20 * time.Minute
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if !first.stopped.Load() {
		t.Fatal("reload left the old loop's down re-check armed")
	}
	var b Backend
	for b.Connect.ConsecutiveFailures != 2 { // the reload's snapshot, then its first round
		b = backendByName(t, h.next(t), "a")
	}
	if b.Healthy || !b.Since.Equal(start) {
		t.Fatalf("healthy %v since %v after the reload, want down since start", b.Healthy, b.Since)
	}
	wantSchedule(t, b, Schedule{State: IntervalDown, Connect: 20 * time.Minute, Own: true})
	if a := fs.armed(t); a == nil || a.d != 20*time.Minute {
		t.Fatalf("armed %+v after the reload, want 20m", a)
	}
	g.DownInterval = 0
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	for b.Connect.ConsecutiveFailures != 3 {
		b = backendByName(t, h.next(t), "a")
	}
	wantSchedule(t, b, Schedule{State: IntervalDown, Connect: time.Hour})
	if a := fs.armed(t); a != nil {
		t.Fatalf("re-check armed after %s without down_interval", a.d)
	}
}

func TestNewRejectsShortDownInterval(t *testing.T) {
	g := mailGroup(mailTarget("a", 1, false))
	g.DownInterval = 500 * time.Millisecond
	if _, err := New([]Group{g}, &scriptChecker{}, Options{}); err == nil || !strings.Contains(err.Error(), "down interval") {
		t.Fatalf("New: %v, want a down interval error", err)
	}
}

// A deep_check backend on the down schedule gets one combined (deep)
// probe per down_interval, and its schedule names both phases. Down after
// the first connect round, it is already left out of the deep round that
// follows.
func TestDownIntervalDeepTargetCombinedProbe(t *testing.T) {
	g := downGroup(1, 1, 0, mailTarget("d", 1, true))
	g.DeepInterval = 2 * time.Hour
	refused := fastRefused
	refused.FailedPhase = probe.PhaseConnect
	h, fs, c, _ := startFast(t, g, refused)
	h.next(t) // connect round
	h.next(t) // deep round, without d
	b := backendByName(t, h.e.Snapshot(), "d")
	wantSchedule(t, b, Schedule{State: IntervalDown, Connect: testDownInterval, Deep: testDownInterval, Own: true})
	fs.fire(fs.armed(t))
	h.next(t)
	if got, want := c.probes(), []string{"d/connect", "d/deep"}; !slices.Equal(got, want) {
		t.Fatalf("probes %v, want %v", got, want)
	}
}

// The interval in use is exported per backend and phase, with the state
// that chose it, so an alert on probe age follows down_interval.
func TestDownIntervalMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	g := downGroup(1, 1, 0, mailTarget("a", 1, false), mailTarget("b", 2, true))
	clock := newPassiveClock()
	fs := newFakeSched(clock)
	c := &scriptChecker{script: map[string][]bool{"a/connect": {false}}}
	e, err := New([]Group{g}, c, Options{Now: clock.now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e, fs.hook)
	h.next(t)
	h.stop()
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{GroupMail, "a", "connect", "down"}, 600},
		{[]string{GroupMail, "b", "connect", "normal"}, 3600},
		{[]string{GroupMail, "b", "deep", "normal"}, 3600},
	} {
		if got := metricValue(t, reg, "backline_probe_interval_in_use_seconds", tc.labels...); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.labels, got, tc.want)
		}
	}
	if n := seriesCount(t, reg, "backline_probe_interval_in_use_seconds"); n != 3 {
		t.Errorf("%d series, want 3 (no deep series for a)", n)
	}
}

// initial_state unhealthy starts a backend down: the snapshot before any
// probe says so, its first probe runs at once, and a failure there puts it
// on down_interval (HAProxy's init-state down with downinter).
func TestDownIntervalInitialUnhealthy(t *testing.T) {
	g := downGroup(1, 1, 0, mailTarget("a", 1, false))
	g.InitialHealthy = false
	clock := newPassiveClock()
	fs := newFakeSched(clock)
	c := &seqChecker{clock: clock, seq: []probe.Result{fastRefused}}
	e, err := New([]Group{g}, c, Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	wantSchedule(t, backendByName(t, e.Snapshot(), "a"), downSchedule)
	h := startEngineFrom(t, e, fs.hook)
	wantSchedule(t, backendByName(t, h.next(t), "a"), downSchedule)
	if a := fs.armed(t); a == nil || a.d != testDownInterval {
		t.Fatalf("armed %+v after a failed first probe, want %s", a, testDownInterval)
	}
	if n := len(c.times()); n != 1 {
		t.Fatalf("%d probes, want the first one only", n)
	}
}

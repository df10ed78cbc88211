package health

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// fakeSched replaces the fast re-check clock and timer: every timer the
// loop arms is handed to the test, which fires it by moving the clock.
// Nothing here waits on real time, so the tests assert order, not speed.
type fakeSched struct {
	clock *passiveClock
	arms  chan *fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	c       chan time.Time
	stopped atomic.Bool
}

func newFakeSched(clock *passiveClock) *fakeSched {
	return &fakeSched{clock: clock, arms: make(chan *fakeTimer, 64)}
}

func (f *fakeSched) hook(e *Engine) {
	e.schedNow = f.clock.now
	e.schedAfter = func(d time.Duration) (<-chan time.Time, func()) {
		t := &fakeTimer{d: d, c: make(chan time.Time, 1)}
		f.arms <- t
		return t.c, func() { t.stopped.Store(true) }
	}
}

// nextArm waits for the loop to arm a timer; the bound only guards
// against a hung test.
func (f *fakeSched) nextArm(t *testing.T) *fakeTimer {
	t.Helper()
	select {
	case a := <-f.arms:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("no fast re-check armed")
		return nil
	}
}

// noArm checks that nothing was armed. The loop plans its re-checks
// before it publishes a round, so after h.next this is not a race.
func (f *fakeSched) noArm(t *testing.T) {
	t.Helper()
	select {
	case a := <-f.arms:
		t.Fatalf("unexpected fast re-check armed after %s", a.d)
	default:
	}
}

// fire moves the clock to the timer's end and lets it go off.
func (f *fakeSched) fire(a *fakeTimer) {
	f.clock.advance(a.d)
	a.c <- f.clock.now()
}

// seqChecker answers from a list (the last entry repeats) and notes the
// (fake) time of each probe.
type seqChecker struct {
	clock *passiveClock
	mu    sync.Mutex
	seq   []probe.Result
	at    []time.Time
	keys  []string
}

func (c *seqChecker) Check(_ context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, c.clock.now())
	c.keys = append(c.keys, t.Name+"/"+string(phase))
	res := c.seq[0]
	if len(c.seq) > 1 {
		c.seq = c.seq[1:]
	}
	res.Phase = phase
	return res
}

func (c *seqChecker) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

func (c *seqChecker) probes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.keys...)
}

var (
	fastOK       = probe.Result{OK: true, Duration: time.Millisecond}
	fastRefused  = probe.Result{Reason: probe.ReasonRefused, Duration: time.Millisecond, Err: errors.New("connect refused")}
	outOfSockets = probe.Result{Reason: probe.ReasonLocal, Duration: time.Millisecond, Err: errors.New("too many open files")}
)

func fastGroup(failures, recoveries int, initialHealthy bool, targets ...*probe.Target) Group {
	g := mailGroup(targets...)
	g.FailureThreshold, g.RecoveryThreshold, g.InitialHealthy = failures, recoveries, initialHealthy
	g.FastInterval = 5 * time.Second
	return g
}

func startFast(t *testing.T, g Group, results ...probe.Result) (*harness, *fakeSched, *seqChecker, time.Time) {
	t.Helper()
	clock := newPassiveClock()
	start := clock.now()
	fs := newFakeSched(clock)
	c := &seqChecker{clock: clock, seq: results}
	h := startEngine(t, []Group{g}, c, Options{Now: clock.now}, fs.hook)
	return h, fs, c, start
}

// With an hour's interval and failure_threshold 3, a dead backend is down
// after three results spaced by fast_interval; once down, nothing more is
// armed (the threshold reached ends the streak).
func TestFastIntervalReachesFailureThreshold(t *testing.T) {
	h, fs, c, start := startFast(t, fastGroup(3, 1, true, mailTarget("a", 1, false)), fastRefused)
	for i := 1; i <= 2; i++ {
		if b := backendByName(t, h.next(t), "a"); !b.Healthy || b.Connect.ConsecutiveFailures != i {
			t.Fatalf("after %d failures: healthy %v, consecutive %d", i, b.Healthy, b.Connect.ConsecutiveFailures)
		}
		a := fs.nextArm(t)
		if a.d != 5*time.Second {
			t.Fatalf("re-check armed after %s, want fast_interval 5s", a.d)
		}
		fs.fire(a)
	}
	b := backendByName(t, h.next(t), "a")
	if b.Healthy || !b.Since.Equal(start.Add(10*time.Second)) {
		t.Fatalf("after 3 failures: healthy %v since %v, want down at start+10s", b.Healthy, b.Since)
	}
	fs.noArm(t)
	want := []time.Time{start, start.Add(5 * time.Second), start.Add(10 * time.Second)}
	if got := c.times(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("probes at %v, want %v", got, want)
	}
}

// The other direction: an unhealthy backend with recovery_threshold 2 is
// back one fast_interval after its first success.
func TestFastIntervalReachesRecoveryThreshold(t *testing.T) {
	h, fs, c, start := startFast(t, fastGroup(1, 2, false, mailTarget("a", 1, false)), fastOK)
	if b := backendByName(t, h.next(t), "a"); b.Healthy {
		t.Fatal("healthy after one success with recovery_threshold 2")
	}
	fs.fire(fs.nextArm(t))
	if b := backendByName(t, h.next(t), "a"); !b.Healthy || !b.Since.Equal(start.Add(5*time.Second)) {
		t.Fatalf("healthy %v since %v, want up at start+5s", b.Healthy, b.Since)
	}
	fs.noArm(t)
	if n := len(c.times()); n != 2 {
		t.Fatalf("%d probes, want 2", n)
	}
}

// A healthy, stable backend gets no extra probe, neither after its rounds
// nor after a requested one.
func TestFastIntervalNoExtraProbesWhenStable(t *testing.T) {
	h, fs, c, _ := startFast(t, fastGroup(3, 2, true, mailTarget("a", 1, false), mailTarget("b", 2, true)), fastOK)
	h.next(t)
	fs.noArm(t)
	r, _, err := h.e.ProbeNow("a", RecheckAPI, "test")
	if err != nil {
		t.Fatal(err)
	}
	waitRecheck(t, r)
	h.next(t)
	fs.noArm(t)
	if n := len(c.times()); n != 3 {
		t.Fatalf("%d probes, want 3 (one round of two, one requested)", n)
	}
}

// A streak broken by a success disarms: a failure, then a success, and no
// re-check follows.
func TestFastIntervalStreakBrokenDisarms(t *testing.T) {
	h, fs, c, _ := startFast(t, fastGroup(3, 1, true, mailTarget("a", 1, false)), fastRefused, fastOK)
	h.next(t)
	fs.fire(fs.nextArm(t))
	if b := backendByName(t, h.next(t), "a"); !b.Healthy || b.Connect.ConsecutiveFailures != 0 {
		t.Fatalf("healthy %v consecutive failures %d", b.Healthy, b.Connect.ConsecutiveFailures)
	}
	fs.noArm(t)
	if n := len(c.times()); n != 2 {
		t.Fatalf("%d probes, want 2", n)
	}
}

// A requested probe that reaches the threshold before the fast re-check is
// due stops its timer.
func TestFastIntervalThresholdReachedElsewhereStopsTimer(t *testing.T) {
	h, fs, _, _ := startFast(t, fastGroup(2, 1, true, mailTarget("a", 1, false)), fastRefused)
	h.next(t)
	a := fs.nextArm(t)
	fs.clock.advance(2 * time.Second) // past the request limit, before the re-check is due
	r, _, err := h.e.ProbeNow("a", RecheckAPI, "test")
	if err != nil {
		t.Fatal(err)
	}
	waitRecheck(t, r)
	if b := backendByName(t, h.next(t), "a"); b.Healthy {
		t.Fatal("still healthy after 2 failures")
	}
	if !a.stopped.Load() {
		t.Fatal("the armed re-check was not stopped when the threshold was reached")
	}
	fs.noArm(t)
}

// A reload stops the old loop's timer; the new loop's first round decides
// afresh, and a reload that turns fast_interval off arms nothing.
func TestFastIntervalReloadCancels(t *testing.T) {
	g := fastGroup(5, 1, true, mailTarget("a", 1, false))
	h, fs, _, _ := startFast(t, g, fastRefused)
	h.next(t)
	first := fs.nextArm(t)
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if !first.stopped.Load() {
		t.Fatal("reload left the old loop's re-check armed")
	}
	if b := backendByName(t, h.next(t), "a"); b.Connect.ConsecutiveFailures != 2 {
		t.Fatalf("consecutive failures %d after the reload's first round, want 2", b.Connect.ConsecutiveFailures)
	}
	second := fs.nextArm(t)
	g.FastInterval = 0
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if !second.stopped.Load() {
		t.Fatal("reload left the old loop's re-check armed")
	}
	if b := backendByName(t, h.next(t), "a"); b.Connect.ConsecutiveFailures != 3 {
		t.Fatalf("consecutive failures %d, want 3", b.Connect.ConsecutiveFailures)
	}
	fs.noArm(t)
}

// An inconclusive re-check (this host out of sockets) records nothing and
// arms nothing: the normal interval takes over instead of a loop of
// re-checks at fast_interval.
func TestFastIntervalInconclusiveDoesNotRearm(t *testing.T) {
	h, fs, c, _ := startFast(t, fastGroup(3, 1, true, mailTarget("a", 1, false)), fastRefused, outOfSockets)
	h.next(t)
	fs.fire(fs.nextArm(t))
	if b := backendByName(t, h.next(t), "a"); !b.Healthy || b.Connect.ConsecutiveFailures != 1 {
		t.Fatalf("healthy %v consecutive failures %d", b.Healthy, b.Connect.ConsecutiveFailures)
	}
	fs.noArm(t)
	if n := len(c.times()); n != 2 {
		t.Fatalf("%d probes, want 2", n)
	}
}

// With separate connect and deep rounds, a deep_check backend's fast
// re-check is its combined deep probe, as any requested probe; both gates
// count it.
func TestFastIntervalDeepTargetUsesCombinedProbe(t *testing.T) {
	g := fastGroup(2, 1, true, mailTarget("d", 1, true))
	g.DeepInterval = 2 * time.Hour
	refused := fastRefused
	refused.FailedPhase = probe.PhaseConnect
	h, fs, c, _ := startFast(t, g, refused)
	h.next(t) // connect round
	h.next(t) // deep round
	fs.fire(fs.nextArm(t))
	b := backendByName(t, h.next(t), "d")
	if b.Healthy || b.Connect.Healthy || b.Deep.Healthy {
		t.Fatalf("healthy %v connect %v deep %v after two failures of each", b.Healthy, b.Connect.Healthy, b.Deep.Healthy)
	}
	want := []string{"d/connect", "d/deep", "d/deep"}
	if got := c.probes(); !slices.Equal(got, want) {
		t.Fatalf("probes %v, want %v", got, want)
	}
	fs.noArm(t)
}

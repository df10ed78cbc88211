package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// Review of down_interval (interval.go, fast.go, lease.go): every test
// drives the loop by hand or through the fake schedule clock; nothing
// waits on real time.

// phaseChecker fails a deep_check target's probes as its mode says:
// "auth" (connect passes, the login fails), "refused" (nothing answers)
// or "ok". Deep probes are counted per owner.
type phaseChecker struct {
	mode    atomic.Value // string
	mu      sync.Mutex
	deep    map[string]int
	connect int
}

func newPhaseChecker(mode string) *phaseChecker {
	c := &phaseChecker{deep: map[string]int{}}
	c.mode.Store(mode)
	return c
}

func (c *phaseChecker) checker(owner string) probe.Checker {
	return checkerFunc(func(_ context.Context, _ *probe.Target, phase probe.Phase) probe.Result {
		c.mu.Lock()
		if phase == probe.PhaseDeep {
			c.deep[owner]++
		} else {
			c.connect++
		}
		c.mu.Unlock()
		switch c.mode.Load().(string) {
		case "refused":
			return probe.Result{Phase: phase, Reason: probe.ReasonRefused, FailedPhase: probe.PhaseConnect,
				Duration: time.Millisecond, Err: errors.New("connection refused")}
		case "auth":
			if phase == probe.PhaseDeep {
				return probe.Result{Phase: phase, Reason: probe.ReasonAuth, FailedPhase: probe.PhaseDeep,
					Duration: time.Millisecond, Err: errors.New("login refused")}
			}
		}
		return probe.Result{Phase: phase, OK: true, Duration: time.Millisecond}
	})
}

func (c *phaseChecker) deepBy() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.deep
	c.deep = map[string]int{}
	return out
}

// dueIn is how long after now the backend's schedule entry is due; -1:
// not armed.
func (d *driven) dueIn(id string) time.Duration {
	s := d.e.gen.Load().byID[id]
	due, ok := d.l.fast.due[s]
	if !ok {
		return -1
	}
	return due.Sub(d.fs.clock.now())
}

// A deep_check backend that is down on its login (connect passes) and
// then stops answering altogether is still down and not part-way back up:
// its connect gate counting failures toward failure_threshold changes
// nothing about its health (it is down already). The docs' table says
// "transitioning" is "up with failures counted, or down with successes
// counted"; a down backend with failures counted is "down", so it stays
// on down_interval rather than getting fast_interval re-checks (or going
// back into the rounds without fast_interval).
func TestReviewDownBackendStaysDownWhenItsConnectGateCountsFailures(t *testing.T) {
	for _, fast := range []time.Duration{5 * time.Second, 0} {
		t.Run(fmt.Sprint("fast_interval ", fast), func(t *testing.T) {
			c := newPhaseChecker("auth")
			d := newDriven(t, downGroup(3, 1, fast, mailTarget("d", 1, true)), c.checker("one"))
			defer d.l.stopFast()
			for range 3 {
				d.round()
			}
			b := backendByName(t, d.e.Snapshot(), "d")
			if b.Healthy || b.Schedule.State != IntervalDown {
				t.Fatalf("after three failed logins: healthy %v, schedule %+v", b.Healthy, b.Schedule)
			}
			if got := d.dueIn("d"); got != testDownInterval {
				t.Fatalf("down probe due in %s, want %s", got, testDownInterval)
			}
			// The server dies: its down probe is refused at connect.
			c.mode.Store("refused")
			d.fs.clock.advance(testDownInterval)
			d.l.fireFast()
			d.kicked()
			b = backendByName(t, d.e.Snapshot(), "d")
			if b.Healthy || b.Schedule.State != IntervalDown || b.Schedule.Setting() != KeyDownInterval {
				t.Errorf("down backend whose connect starts failing: healthy %v, schedule %+v; want down on down_interval", b.Healthy, b.Schedule)
			}
			if got := d.dueIn("d"); got != testDownInterval {
				t.Errorf("next probe due in %s, want %s (down_interval)", got, testDownInterval)
			}
			// The group's rounds (an hour apart) leave it out.
			c.deepBy()
			d.round()
			if n := c.deepBy()["one"]; n != 0 {
				t.Errorf("a scheduled round probed the down backend %d times", n)
			}
		})
	}
}

// With separate connect and deep intervals, a deep_check backend can go
// down in a connect round. Its lease was acquired for three deep
// intervals; the holder's next probe comes a down_interval later, so the
// lease must be lengthened then too (docs/scaling.md: "the holder
// lengthens it as soon as the backend goes down"), or the other instance,
// whose down probe happens to come first, takes the deep probes over.
func TestReviewDownLeaseLengthenedWhenAConnectRoundTurnsItDown(t *testing.T) {
	clock := newPassiveClock()
	mem := state.NewMemoryLeaseStore(clock.now)
	c := newPhaseChecker("ok")
	g := Group{Name: GroupMail, ConnectInterval: 10 * time.Second, DeepInterval: time.Minute,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, DownInterval: testDownInterval,
		Targets: []*probe.Target{mailTarget("d", 1, true)}}
	ins := leasedInstances(t, g, c.checker, mem, clock)
	ctx := context.Background()
	for _, d := range ins {
		d.l.round(ctx, d.l.deepJobs)
	}
	if got := c.deepBy(); got["instance-0"] != 1 || got["instance-1"] != 0 {
		t.Fatalf("first deep round: deep probes %v, want one by instance-0", got)
	}
	c.mode.Store("refused")
	for _, d := range ins {
		d.l.round(ctx, d.l.connectJobs)
		if b := backendByName(t, d.e.Snapshot(), "d"); b.Healthy || b.Schedule.State != IntervalDown {
			t.Fatalf("after a refused connect round: healthy %v, schedule %+v", b.Healthy, b.Schedule)
		}
	}
	// One down_interval on, the other instance's down probe comes first.
	clock.advance(testDownInterval)
	for _, i := range []int{1, 0} {
		ins[i].l.fireFast()
		ins[i].kicked()
	}
	if got := c.deepBy(); got["instance-0"] != 1 || got["instance-1"] != 0 {
		t.Fatalf("down probes: deep probes %v, want the holder's (instance-0) only", got)
	}
}

// A down backend whose down probe is refused (checks paused) or says
// nothing (this host out of sockets) is tried again a down_interval
// later, and probed again once its checks resume: never dropped from
// every schedule.
func TestReviewDownProbeRefusedOrInconclusiveIsRetried(t *testing.T) {
	h, fs, c, start := startFast(t, downGroup(1, 1, 0, mailTarget("a", 1, false)),
		fastRefused, outOfSockets, fastRefused)
	h.next(t)
	s := h.e.gen.Load().byID["a"]
	// Paused: the timer goes off, nothing is probed, it re-arms.
	s.paused.Store(true)
	fs.fire(fs.armed(t))
	a := fs.nextArm(t)
	if a.d != testDownInterval {
		t.Fatalf("re-armed after %s while paused, want %s", a.d, testDownInterval)
	}
	s.paused.Store(false)
	fs.fire(a) // out of sockets: inconclusive
	h.next(t)
	fs.fire(fs.armed(t)) // refused again
	h.next(t)
	want := []time.Time{start, start.Add(2 * testDownInterval), start.Add(3 * testDownInterval)}
	if got := c.times(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("probes at %v, want %v", got, want)
	}
	if a := fs.armed(t); a == nil || a.d != testDownInterval {
		t.Fatalf("armed %+v after the last result, want %s", a, testDownInterval)
	}
}

// A reload while a down probe has been requested but not run yet: the
// request ends (cancelled), the old timer stops, and the new loop's first
// round probes the backend once; then down_interval applies again. A
// reload that removes the backend leaves no timer and no series.
func TestReviewDownReloadMidProbeAndRemoval(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clock := newPassiveClock()
	fs := newFakeSched(clock)
	c := &seqChecker{clock: clock, seq: []probe.Result{fastRefused}}
	g := downGroup(1, 1, 0, mailTarget("a", 1, false), mailTarget("b", 2, false))
	e, err := New([]Group{g}, c, Options{Now: clock.now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e, fs.hook)
	h.next(t)
	first := armedSoon(t, fs)
	if first == nil || first.d != testDownInterval {
		t.Fatalf("armed %+v, want %s", first, testDownInterval)
	}
	if n := seriesCount(t, reg, "backline_probe_interval_in_use_seconds"); n != 2 {
		t.Fatalf("%d interval series, want 2", n)
	}
	// Remove b while both are armed.
	g2 := downGroup(1, 1, 0, mailTarget("a", 1, false))
	if err := h.e.Reconfigure([]Group{g2}); err != nil {
		t.Fatal(err)
	}
	if !first.stopped.Load() {
		t.Fatal("the old loop's down timer outlived the reload")
	}
	var b Backend
	for b.Connect.ConsecutiveFailures != 2 {
		b = backendByName(t, h.next(t), "a")
	}
	if n := seriesCount(t, reg, "backline_probe_interval_in_use_seconds"); n != 1 {
		t.Fatalf("%d interval series after b was removed, want 1", n)
	}
	for _, x := range h.e.Snapshot().Backends {
		if x.Target.Name == "b" {
			t.Fatal("b still in the snapshot")
		}
	}
	a := armedSoon(t, fs)
	if a == nil || a.d != testDownInterval {
		t.Fatalf("armed %+v after the reload, want %s", a, testDownInterval)
	}
	// The probe is requested; a reload comes before it runs.
	probes := len(c.times())
	fs.clock.advance(a.d)
	r, _, err := h.e.ProbeNow("a", RecheckAPI, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Reconfigure([]Group{g2}); err != nil {
		t.Fatal(err)
	}
	<-r.Done()
	for b.Connect.ConsecutiveFailures < 3 {
		b = backendByName(t, h.next(t), "a")
	}
	// At most the request's probe (if it ran first) and the new loop's
	// first round: never a burst.
	if n := len(c.times()) - probes; n < 1 || n > 2 {
		t.Fatalf("%d probes around the reload, want 1 or 2", n)
	}
	if a := armedSoon(t, fs); a == nil || a.d != testDownInterval {
		t.Fatalf("armed %+v after the second reload, want %s", a, testDownInterval)
	}
}

// armedSoon is the last timer armed that is still running. Around a
// reload two loops overlap for a moment: the old one may arm a timer
// after the new one did and stop it as it exits, so the last arm alone
// (fakeSched.armed) can be a stopped one while the new loop's runs. With
// none running yet, it waits for the next arm.
func armedSoon(t *testing.T, fs *fakeSched) *fakeTimer {
	t.Helper()
	var running *fakeTimer
	for {
		select {
		case a := <-fs.arms:
			if !a.stopped.Load() {
				running = a
			}
			continue
		default:
		}
		break
	}
	if running != nil {
		return running
	}
	return fs.nextArm(t)
}

// With fast_interval and recovery_threshold 3, a down backend's first
// success hands over to fast_interval; a failure before the third puts
// it back on down_interval, not on fast_interval.
func TestReviewDownPartWayUpThenFailsAgain(t *testing.T) {
	h, fs, c, start := startFast(t, downGroup(1, 3, 5*time.Second, mailTarget("a", 1, false)),
		fastRefused, fastOK, fastOK, fastRefused, fastRefused)
	want := []struct {
		state IntervalState
		delay time.Duration
	}{
		{IntervalDown, testDownInterval},
		{IntervalTransitioning, 5 * time.Second},
		{IntervalTransitioning, 5 * time.Second},
		{IntervalDown, testDownInterval},
	}
	for i, w := range want {
		b := backendByName(t, h.next(t), "a")
		if b.Healthy || b.Schedule.State != w.state {
			t.Fatalf("step %d: healthy %v, schedule %+v, want down %v", i, b.Healthy, b.Schedule, w.state)
		}
		a := fs.armed(t)
		if a == nil || a.d != w.delay {
			t.Fatalf("step %d: armed %+v, want %s", i, a, w.delay)
		}
		if i < len(want)-1 {
			fs.fire(a)
		}
	}
	s5 := 5 * time.Second
	wantAt := []time.Time{start, start.Add(testDownInterval), start.Add(testDownInterval + s5), start.Add(testDownInterval + 2*s5)}
	if got := c.times(); !slices.EqualFunc(got, wantAt, time.Time.Equal) {
		t.Fatalf("probes at %v, want %v", got, wantAt)
	}
}

// downDelay stays within [down_interval, down_interval + jitter) with the
// real random source, and the lease of a down backend outlasts the
// longest delay three times over, 24h included (no overflow).
func TestReviewDownDelayJitterBoundsAndLongLeases(t *testing.T) {
	for _, down := range []time.Duration{time.Second, testDownInterval, 24 * time.Hour} {
		g := downGroup(1, 1, 0, mailTarget("a", 1, true))
		g.DownInterval, g.Jitter = down, 9*time.Second
		e, err := New([]Group{g}, &scriptChecker{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		l := e.gen.Load().loops[0]
		for range 2000 {
			if d := l.downDelay(); d < down || d >= down+g.Jitter {
				t.Fatalf("down %s: delay %s outside [%s, %s)", down, d, down, down+g.Jitter)
			}
		}
		s := e.gen.Load().byID["a"]
		s.downScheduled = true
		ttl := LeaseTTLIntervals * l.leaseInterval(s)
		if ttl < 3*(down+g.Jitter) || ttl <= 0 {
			t.Fatalf("down %s: lease TTL %s", down, ttl)
		}
		mem := state.NewMemoryLeaseStore(time.Now)
		if held, err := mem.AcquireAll(context.Background(), []string{"a"}, "x", ttl); err != nil || len(held) != 1 {
			t.Fatalf("down %s: acquire for %s: %v %v", down, ttl, held, err)
		}
	}
}

// Two instances, a down backend on the down schedule: the holder does the
// deep probes; when it stops cleanly the other takes over at its next
// down probe; when it is killed (no release) the other runs connect
// probes only, a requested one included, until the lease (three
// down_intervals) runs out, then takes over (docs/scaling.md, Handover).
func TestReviewDownLeaseHandover(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprint("clean stop ", clean), func(t *testing.T) {
			clock := newPassiveClock()
			mem := state.NewMemoryLeaseStore(clock.now)
			c := newPhaseChecker("auth")
			g := downGroup(1, 1, 0, mailTarget("d", 1, true))
			g.ConnectInterval, g.DeepInterval = time.Minute, time.Minute // shorter than down_interval
			ins := leasedInstances(t, g, c.checker, mem, clock)
			for _, d := range ins {
				d.round()
			}
			if got := c.deepBy(); got["instance-0"] != 1 || got["instance-1"] != 0 {
				t.Fatalf("first rounds: deep probes %v", got)
			}
			if clean {
				ins[0].e.releaseLeases()
			}
			// instance-0 is gone; instance-1's down probes go on.
			var takeover int
			for i := 1; i <= 6 && takeover == 0; i++ {
				clock.advance(testDownInterval)
				ins[1].l.fireFast()
				ins[1].kicked()
				if c.deepBy()["instance-1"] > 0 {
					takeover = i
					break
				}
				if i > 1 {
					continue
				}
				// A requested probe does not get the deep probe either.
				clock.advance(time.Second)
				if _, _, err := ins[1].e.ProbeNow("d", RecheckAPI, "test"); err != nil {
					t.Fatal(err)
				}
				ins[1].kicked()
				if n := c.deepBy()["instance-1"]; n > 0 {
					t.Fatalf("down probe %d: a requested probe got the deep probe under a live lease", i)
				}
				clock.advance(-time.Second)
			}
			// The lease ran out three down_intervals after the holder's last
			// probe, just at instance-1's third down probe (a probe out of
			// step with it comes up to one down_interval later).
			want := 3
			if clean {
				want = 1
			}
			if takeover != want {
				t.Fatalf("instance-1 took the deep probes over at its down probe %d, want %d", takeover, want)
			}
		})
	}
}

// An instance that starts (or scales out) while a deep_check backend is
// down on another instance's lease must apply the holder's last published
// result, though the holder publishes only every down_interval: without
// it, the new instance's own connect probe passes, its deep gate starts
// healthy, and it routes logins to a backend whose login fails for up to
// a down_interval (24h at most). Published results must therefore be kept,
// and fetched, for as long as a holder may go between two of them.
func TestReviewNewInstanceSeesDownBackendBetweenDownProbes(t *testing.T) {
	clock := newPassiveClock()
	mem := state.NewMemoryLeaseStore(clock.now)
	c := newPhaseChecker("auth")
	g := downGroup(1, 1, 0, mailTarget("d", 1, true))
	g.ConnectInterval, g.DeepInterval = time.Minute, time.Minute
	start := func(owner string) *driven {
		e, err := New([]Group{g}, c.checker(owner), Options{Now: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.UseLeases(LeaseConfig{Store: mem, Owner: owner}); err != nil {
			t.Fatal(err)
		}
		fs := newFakeSched(clock)
		fs.hook(e)
		d := &driven{e: e, l: e.gen.Load().loops[0], fs: fs}
		t.Cleanup(d.l.stopFast)
		return d
	}
	a := start("instance-0")
	a.round()
	if b := backendByName(t, a.e.Snapshot(), "d"); b.Healthy {
		t.Fatal("holder: healthy after a failed login")
	}
	// Five minutes on (past three deep intervals, before the holder's next
	// down probe at 10m) a second instance starts.
	clock.advance(5 * time.Minute)
	b := start("instance-1")
	b.round()
	if got := c.deepBy(); got["instance-1"] != 0 {
		t.Fatalf("the new instance ran the deep probe under a live lease: %v", got)
	}
	if bk := backendByName(t, b.e.Snapshot(), "d"); bk.Healthy {
		t.Fatalf("new instance: backend healthy (deep %+v); the holder's published failure was not applied", bk.Deep)
	}
}

// Two instances, a deep_check backend down on both and on down_interval.
// It recovers; the holder's down probe finds it (instance-1's came just
// before). instance-1 learns of it at its next scheduled round (its
// rounds run every deep interval and fetch the published results), not
// only at its own next down probe a down_interval later: with leases the
// other instances must not lag the holder by up to a whole down_interval
// (24h at most) on top of the holder's own wait.
func TestReviewOtherInstanceLearnsRecoveryAtItsNextRound(t *testing.T) {
	clock := newPassiveClock()
	mem := state.NewMemoryLeaseStore(clock.now)
	c := newPhaseChecker("auth")
	g := downGroup(1, 1, 0, mailTarget("d", 1, true), mailTarget("e", 2, false))
	g.ConnectInterval, g.DeepInterval = time.Minute, time.Minute
	ins := leasedInstances(t, g, c.checker, mem, clock)
	for _, d := range ins {
		d.round()
		if b := backendByName(t, d.e.Snapshot(), "d"); b.Healthy || b.Schedule.State != IntervalDown {
			t.Fatalf("first round: healthy %v schedule %+v", b.Healthy, b.Schedule)
		}
	}
	c.mode.Store("ok")
	clock.advance(testDownInterval)
	for _, i := range []int{1, 0} {
		ins[i].l.fireFast()
		ins[i].kicked()
	}
	if b := backendByName(t, ins[0].e.Snapshot(), "d"); !b.Healthy {
		t.Fatal("holder: still down after a good login")
	}
	if b := backendByName(t, ins[1].e.Snapshot(), "d"); b.Healthy {
		t.Fatal("instance-1 up before it could have fetched the holder's result")
	}
	clock.advance(time.Minute)
	ins[1].round()
	if b := backendByName(t, ins[1].e.Snapshot(), "d"); !b.Healthy {
		t.Fatalf("instance-1 a deep interval after the holder's good login: healthy %v, schedule %+v; want up", b.Healthy, b.Schedule)
	}
	if got := c.deepBy(); got["instance-1"] != 0 {
		t.Fatalf("instance-1 ran deep probes under a live lease: %v", got)
	}
}

// The Redis lease store with the longest down_interval: the lease (three
// times 24h plus jitter) and the published results get those TTLs in
// Redis, no overflow, no truncation to seconds.
func TestReviewDownLeaseTTLsInRedis(t *testing.T) {
	quietRedis.Do(func() { redis.SetLogger(quietRedisLogger{}) })
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	g := downGroup(1, 1, 0, mailTarget("d", 1, true))
	g.DownInterval, g.Jitter = 24*time.Hour, 1500*time.Millisecond
	clock := newPassiveClock()
	e, err := New([]Group{g}, newPhaseChecker("auth").checker("x"), Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e.jitter = func(time.Duration) time.Duration { return 0 }
	if err := e.UseLeases(LeaseConfig{Store: state.NewRedisLeaseStore(c, "backline:"), Owner: "x"}); err != nil {
		t.Fatal(err)
	}
	fs := newFakeSched(clock)
	fs.hook(e)
	d := &driven{e: e, l: e.gen.Load().loops[0], fs: fs}
	defer d.l.stopFast()
	d.round()
	want := 3 * (24*time.Hour + 1500*time.Millisecond)
	if got := m.TTL("backline:{lease:d}:l"); got != want {
		t.Fatalf("lease TTL in Redis %s, want %s", got, want)
	}
	if got := m.TTL("backline:{lease:d}:r"); got != want {
		t.Fatalf("published results TTL in Redis %s, want %s", got, want)
	}
	// Its down probe a day later renews it for as long again.
	m.FastForward(24 * time.Hour)
	clock.advance(24 * time.Hour)
	d.l.fireFast()
	d.kicked()
	if got := m.TTL("backline:{lease:d}:l"); got != want {
		t.Fatalf("lease TTL after the down probe %s, want %s", got, want)
	}
}

// An operator's maint, drain or forced health on a down backend does not
// touch its probes: down probes go on at down_interval (the checks keep
// their verdict ready for when the override ends). Pausing its checks,
// then resuming them, brings it back to its next down probe.
func TestReviewDownAdminOverridesKeepDownProbes(t *testing.T) {
	c := newPhaseChecker("refused")
	d := newDriven(t, downGroup(1, 1, 0, mailTarget("d", 1, true)), c.checker("one"))
	defer d.l.stopFast()
	d.round()
	c.deepBy()
	maint, drain, up := AdminMaint, AdminDrain, HealthUp
	paused, resumed := true, false
	for i, ch := range []AdminChange{{State: &maint}, {State: &drain}, {Health: &up}, {ChecksPaused: &paused}, {ChecksPaused: &resumed}} {
		ch.Who = "review"
		if _, err := d.e.SetAdmin("d", ch); err != nil {
			t.Fatal(err)
		}
		if got := d.dueIn("d"); got != testDownInterval {
			t.Fatalf("change %d: down probe due in %s, want %s", i, got, testDownInterval)
		}
		d.fs.clock.advance(testDownInterval)
		d.l.fireFast()
		d.kicked()
		wantProbes := 1
		if ch.ChecksPaused != nil && *ch.ChecksPaused {
			wantProbes = 0
		}
		if n := c.deepBy()["one"]; n != wantProbes {
			t.Fatalf("change %d: %d deep probes at the down probe, want %d", i, n, wantProbes)
		}
		if b := backendByName(t, d.e.Snapshot(), "d"); b.Schedule.State != IntervalDown {
			t.Fatalf("change %d: schedule %+v", i, b.Schedule)
		}
	}
}

// leasedInstances is two engines on g sharing the lease store mem, each
// driven by hand with its own fake scheduler on clock.
func leasedInstances(t *testing.T, g Group, checker func(owner string) probe.Checker, mem state.LeaseStore, clock *passiveClock) []*driven {
	t.Helper()
	var ins []*driven
	for i := range 2 {
		owner := fmt.Sprint("instance-", i)
		e, err := New([]Group{g}, checker(owner), Options{Now: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.UseLeases(LeaseConfig{Store: mem, Owner: owner}); err != nil {
			t.Fatal(err)
		}
		fs := newFakeSched(clock)
		fs.hook(e)
		d := &driven{e: e, l: e.gen.Load().loops[0], fs: fs}
		t.Cleanup(d.l.stopFast)
		ins = append(ins, d)
	}
	return ins
}

package health

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// passiveClock is a settable Options.Now.
type passiveClock struct{ ns atomic.Int64 }

func newPassiveClock() *passiveClock {
	c := &passiveClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *passiveClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *passiveClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func passiveTarget(i int) *probe.Target         { return mailTarget(fmt.Sprintf("o%d", i), 8000+i, false) }
func passiveID(i int) string                    { return fmt.Sprintf("o%d", i) }
func failN(e *Engine, id string, n int)         { reportN(e, id, n, true) }
func reportN(e *Engine, id string, n int, f bool) {
	for range n {
		e.ReportPassive(id, f)
	}
}

var testPolicy = PassivePolicy{Consecutive: 3, Interval: 10 * time.Second, BaseEjection: 30 * time.Second,
	MaxEjection: 100 * time.Second, MaxEjectionPercent: 50}

func passiveGroup(n int, pol *PassivePolicy) Group {
	g := Group{Name: "gateway:api", ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Passive: pol}
	for i := range n {
		g.Targets = append(g.Targets, passiveTarget(i))
		g.IDs = append(g.IDs, passiveID(i))
	}
	return g
}

func newPassiveEngine(t *testing.T, n int, pol PassivePolicy, clock *passiveClock, reg prometheus.Registerer) *Engine {
	t.Helper()
	e, err := New([]Group{passiveGroup(n, &pol)}, &scriptChecker{}, Options{Now: clock.now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func entry(t *testing.T, e *Engine, id string) Backend {
	t.Helper()
	for _, b := range e.Snapshot().Backends {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("no backend %q", id)
	return Backend{}
}

func TestPassiveEjectsAfterConsecutiveFailures(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 4, testPolicy, clock, nil)
	failN(e, "o1", 2)
	e.ReportPassive("o1", false) // a success breaks the streak
	failN(e, "o1", 2)
	if b := entry(t, e, "o1"); !b.Eligible || b.Ejections != 0 {
		t.Fatalf("ejected after a broken streak: %+v", b)
	}
	e.ReportPassive("o1", true)
	b := entry(t, e, "o1")
	if b.Eligible || b.Reason != ReasonPassive || !b.EjectedUntil.Equal(clock.now().Add(30*time.Second)) || b.Ejections != 1 {
		t.Fatalf("after 3 failures: eligible %v reason %q until %v ejections %d", b.Eligible, b.Reason, b.EjectedUntil, b.Ejections)
	}
	if ok, r := Eligibility(b, clock.now().Add(30*time.Second)); !ok || r != "" {
		t.Errorf("at the end of the ejection: %v %q, want eligible", ok, r)
	}
	// Failures of requests already on their way while ejected do not count.
	failN(e, "o1", 10)
	clock.advance(30 * time.Second)
	e.ReportPassive("o1", true)
	if b := entry(t, e, "o1"); b.Ejections != 1 {
		t.Errorf("ejections = %d after stragglers, want 1", b.Ejections)
	}
	if b := entry(t, e, "o0"); !b.Eligible {
		t.Errorf("o0 affected: %+v", b.Reason)
	}
}

func TestPassiveStreakWindow(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 2, testPolicy, clock, nil)
	failN(e, "o0", 2)
	clock.advance(10*time.Second + 1) // the streak is older than interval
	failN(e, "o0", 2)
	if b := entry(t, e, "o0"); !b.Eligible {
		t.Fatalf("ejected by failures spread over more than the interval")
	}
	e.ReportPassive("o0", true)
	if b := entry(t, e, "o0"); b.Reason != ReasonPassive {
		t.Fatalf("reason %q, want passive", b.Reason)
	}
}

func TestPassiveBackoffMultipliesAndCaps(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 2, testPolicy, clock, nil)
	var got []time.Duration
	for range 5 {
		failN(e, "o0", 3)
		b := entry(t, e, "o0")
		got = append(got, b.EjectedUntil.Sub(clock.now()))
		clock.advance(b.EjectedUntil.Sub(clock.now()))
	}
	want := []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, 100 * time.Second, 100 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("ejection times %v, want %v", got, want)
	}
	// In service for max_ejection_time since the last ejection: the
	// multiplier starts over.
	clock.advance(100 * time.Second)
	failN(e, "o0", 3)
	if d := entry(t, e, "o0").EjectedUntil.Sub(clock.now()); d != 30*time.Second {
		t.Errorf("after a quiet max_ejection_time: %v, want 30s", d)
	}
}

func ejectedCount(e *Engine, now time.Time) int {
	n := 0
	for _, b := range e.Snapshot().Backends {
		if b.Reason == ReasonPassive && isEjected(&b, now) {
			n++
		}
	}
	return n
}

func TestPassiveMaxEjectionShareNeverExceeded(t *testing.T) {
	for _, tc := range []struct{ members, percent, want int }{
		{4, 50, 2}, {3, 50, 1}, {1, 50, 0}, {1, 100, 1}, {10, 10, 1}, {5, 0, 0}, {5, 100, 5}, {2, 49, 0},
	} {
		clock := newPassiveClock()
		pol := testPolicy
		pol.MaxEjectionPercent = tc.percent
		e := newPassiveEngine(t, tc.members, pol, clock, nil)
		// Every member fails at once, from many goroutines (run with -race).
		var wg sync.WaitGroup
		for i := range tc.members {
			for range 4 {
				wg.Go(func() { failN(e, passiveID(i), 5) })
			}
		}
		wg.Wait()
		if got := ejectedCount(e, clock.now()); got != tc.want {
			t.Errorf("%d members at %d%%: %d ejected, want %d", tc.members, tc.percent, got, tc.want)
		}
	}
}

func TestPassiveShareFreesWhenEjectionEnds(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 2, testPolicy, clock, nil)
	failN(e, "o0", 3)
	failN(e, "o1", 3) // refused: 2 x 50 % = 1
	if got := ejectedCount(e, clock.now()); got != 1 {
		t.Fatalf("%d ejected, want 1", got)
	}
	clock.advance(30 * time.Second)
	failN(e, "o1", 3) // a fresh streak (the old one is older than interval)
	if b := entry(t, e, "o1"); b.Reason != ReasonPassive {
		t.Errorf("o1 reason %q, want passive once o0 is back", b.Reason)
	}
	if b := entry(t, e, "o0"); !b.Eligible {
		t.Errorf("o0 still out: %q", b.Reason)
	}
}

func TestPassiveRaceReportsAndSnapshots(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 3, testPolicy, clock, prometheus.NewRegistry())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				e.ReportPassive(passiveID((g+i)%3), i%4 != 0)
				_ = e.Snapshot()
				if i%50 == 0 {
					clock.advance(time.Second)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_, _ = e.SetAdmin("o2", AdminChange{Who: "t"})
		}
	})
	wg.Wait()
	if got := ejectedCount(e, clock.now()); got > 1 {
		t.Errorf("%d ejected at once, max is 1 of 3 at 50%%", got)
	}
}

func TestPassiveAdminOrder(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 2, testPolicy, clock, nil)
	failN(e, "o0", 3)
	up := HealthUp
	if _, err := e.SetAdmin("o0", AdminChange{Health: &up}); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, e, "o0"); !b.Eligible {
		t.Errorf("forced up: reason %q, want eligible (forced up overrides checks and passive)", b.Reason)
	}
	maint := AdminMaint
	if _, err := e.SetAdmin("o0", AdminChange{State: &maint}); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, e, "o0"); b.Reason != ReasonMaint {
		t.Errorf("maint: reason %q", b.Reason)
	}
}

func TestPassiveStateSurvivesReconfigure(t *testing.T) {
	clock := newPassiveClock()
	e := newPassiveEngine(t, 3, testPolicy, clock, nil)
	failN(e, "o1", 3)
	failN(e, "o2", 2)
	before := entry(t, e, "o1")
	// Same IDs, one more member, a changed policy: state stays by ID.
	pol := testPolicy
	pol.BaseEjection = time.Minute
	if err := e.Reconfigure([]Group{passiveGroup(4, &pol)}); err != nil {
		t.Fatal(err)
	}
	after := entry(t, e, "o1")
	if after.Reason != ReasonPassive || !after.EjectedUntil.Equal(before.EjectedUntil) || after.Ejections != 1 {
		t.Errorf("after reload: %q until %v ejections %d, want the old ejection", after.Reason, after.EjectedUntil, after.Ejections)
	}
	e.ReportPassive("o2", true) // the streak of 2 survived too; 4 x 50 % = 2 allowed
	if b := entry(t, e, "o2"); b.Reason != ReasonPassive || b.EjectedUntil.Sub(clock.now()) != time.Minute {
		t.Errorf("o2: %q for %v, want passive for the new base 1m", b.Reason, b.EjectedUntil.Sub(clock.now()))
	}
	// Passive health switched off: ejections end.
	if err := e.Reconfigure([]Group{passiveGroup(4, nil)}); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, e, "o1"); !b.Eligible || !b.EjectedUntil.IsZero() {
		t.Errorf("passive off: eligible %v until %v", b.Eligible, b.EjectedUntil)
	}
	failN(e, "o1", 10)
	if b := entry(t, e, "o1"); !b.Eligible {
		t.Errorf("reports count without a policy")
	}
}

func TestPassiveUnknownIDIgnored(t *testing.T) {
	e := newPassiveEngine(t, 1, testPolicy, newPassiveClock(), nil)
	failN(e, "nope", 10)
	mail, err := New([]Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	failN(mail, DefaultID(mailTarget("a", 1, false)), 10)
	if !mail.Snapshot().Backends[0].Eligible {
		t.Error("a group without passive health ejected a backend")
	}
}

func TestPassiveMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clock := newPassiveClock()
	e := newPassiveEngine(t, 2, testPolicy, clock, reg)
	failN(e, "o0", 3)
	if v := metricValue(t, reg, "backline_backend_ejected", "gateway:api", "o0", "passive"); v != 1 {
		t.Errorf("ejected o0 = %v", v)
	}
	if v := metricValue(t, reg, "backline_backend_ejected", "gateway:api", "o1", "passive"); v != 0 {
		t.Errorf("ejected o1 = %v", v)
	}
	if v := metricValue(t, reg, "backline_backend_ejections_total", "gateway:api", "o0", "passive"); v != 1 {
		t.Errorf("ejections o0 = %v", v)
	}
	if v := metricValue(t, reg, "backline_backend_eligible", "gateway:api", "o0"); v != 0 {
		t.Errorf("eligible o0 = %v", v)
	}
}

// An ejection probes the backend at once, outside the schedule (the
// interval here is an hour).
func TestPassiveEjectionReprobes(t *testing.T) {
	clock := newPassiveClock()
	checker := &scriptChecker{}
	pol := testPolicy
	h := startEngine(t, []Group{passiveGroup(2, &pol)}, checker, Options{Now: clock.now})
	h.next(t) // the first round
	if calls := checker.callList(); len(calls) != 2 {
		t.Fatalf("first round calls %v", calls)
	}
	failN(h.e, "o1", 3)
	if s := h.next(t); backendByName(t, s, "o1").Reason != ReasonPassive {
		t.Fatalf("the ejection's snapshot does not show it")
	}
	h.next(t) // the re-probe's round
	calls := checker.callList()
	if want := []string{"o0/connect", "o1/connect", "o1/connect"}; !slices.Equal(sortedFirst2(calls), want) {
		t.Errorf("probes %v, want %v", calls, want)
	}
}

// sortedFirst2 sorts the first round's two calls (they run concurrently).
func sortedFirst2(calls []string) []string {
	out := slices.Clone(calls)
	if len(out) >= 2 {
		slices.Sort(out[:2])
	}
	return out
}

// A passive-only group is never probed, is ready after its first publish,
// never turns stale, and still ejects.
func TestPassiveOnlyGroup(t *testing.T) {
	clock := newPassiveClock()
	checker := &scriptChecker{}
	pol := testPolicy
	g := passiveGroup(2, &pol)
	g.PassiveOnly = true
	h := startEngine(t, []Group{g}, checker, Options{Now: clock.now})
	h.next(t)
	if !h.e.Ready() {
		t.Error("not ready after the first publish")
	}
	clock.advance(1000 * time.Hour)
	failN(h.e, "o0", 3)
	s := h.next(t)
	if b := backendByName(t, s, "o0"); b.Reason != ReasonPassive {
		t.Errorf("o0 reason %q", b.Reason)
	}
	if b := backendByName(t, s, "o1"); !b.Eligible || !b.Healthy {
		t.Errorf("o1: eligible %v reason %q", b.Eligible, b.Reason)
	}
	if calls := checker.callList(); len(calls) != 0 {
		t.Errorf("probes %v in a passive-only group", calls)
	}
}

// A timeout of live traffic while this process was stalled is not held
// against the origin (as with active probes); the same timeouts without
// a stall eject it, and so do refusals during a stall.
func TestPassiveTimeoutsDuringAStallDoNotEject(t *testing.T) {
	clock := newPassiveClock()
	reg := prometheus.NewPedanticRegistry()
	e := newPassiveEngine(t, 4, testPolicy, clock, reg)
	now := time.Now()
	e.stalls.record(stallInterval{from: now.Add(-5 * time.Second), to: now.Add(time.Hour)})
	for range 5 {
		e.ReportPassiveTimeout("o1", 2*time.Second)
	}
	if b := entry(t, e, "o1"); !b.Eligible || b.Ejections != 0 {
		t.Fatalf("ejected on timeouts during a stall: %+v", b)
	}
	if v := metricValue(t, reg, "backline_probe_stalled_total", "gateway:api"); v != 5 {
		t.Errorf("stalled count %v, want 5", v)
	}
	failN(e, "o2", 3) // refusals are the origin's answer, stall or not
	if b := entry(t, e, "o2"); b.Eligible || b.Ejections != 1 {
		t.Fatalf("refusals during a stall did not eject: %+v", b)
	}

	e.stalls.mu.Lock()
	e.stalls.stalls = [stallsKept]stallInterval{}
	e.stalls.mu.Unlock()
	for range 3 {
		e.ReportPassiveTimeout("o3", 2*time.Second)
	}
	if b := entry(t, e, "o3"); b.Eligible || b.Ejections != 1 {
		t.Fatalf("timeouts without a stall did not eject: %+v", b)
	}
}

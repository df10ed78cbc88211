package health

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// heldChecker answers at once until hold is set, then blocks each probe
// of target held until release (or the probe's context) ends it; started
// reports every probe as it begins.
type heldChecker struct {
	held    string
	started chan string
	release chan struct{}
	fail    bool
}

func newHeldChecker(held string) *heldChecker {
	return &heldChecker{held: held, started: make(chan string, 64), release: make(chan struct{})}
}

func (c *heldChecker) Check(ctx context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	c.started <- t.Name + "/" + string(phase)
	if t.Name == c.held {
		select {
		case <-c.release:
		case <-ctx.Done():
			return probe.Result{Phase: phase, Reason: probe.ReasonTimeout, Err: ctx.Err()}
		}
	}
	if c.fail {
		return probe.Result{Phase: phase, Reason: probe.ReasonRefused, Duration: time.Millisecond,
			Err: errors.New("connect to " + t.Address() + " refused")}
	}
	return probe.Result{Phase: phase, OK: true, Duration: 2 * time.Millisecond}
}

func (c *heldChecker) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-c.started:
		return s
	case <-time.After(30 * time.Second): // a hung test, not a timing assertion
		t.Fatal("no probe started")
		return ""
	}
}

func waitRecheck(t *testing.T, r *Recheck) RecheckResult {
	t.Helper()
	select {
	case <-r.Done():
		return r.Result()
	case <-time.After(30 * time.Second):
		t.Fatal("requested probe never finished")
		return RecheckResult{}
	}
}

// A requested probe starts outside the schedule (the interval is an
// hour) and its result comes back; the log line names the source.
func TestProbeNowProbesBeforeTheInterval(t *testing.T) {
	checker := newHeldChecker("")
	checker.fail = true
	reg := prometheus.NewRegistry()
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, true))}, checker, Options{Registerer: reg})
	h.next(t)
	checker.next(t)
	checker.next(t) // the first round's two probes

	r, joined, err := h.e.ProbeNow("b", RecheckAPI, "operator")
	if err != nil || joined || r == nil {
		t.Fatalf("ProbeNow = %v, %v, %v", r, joined, err)
	}
	if got := checker.next(t); got != "b/deep" {
		t.Fatalf("probe %q started, want b/deep (the combined probe)", got)
	}
	res := waitRecheck(t, r)
	if res.Status != RecheckDone || res.OK || res.Phase != probe.PhaseDeep || res.Reason != probe.ReasonRefused ||
		res.Error == "" || res.Finished.IsZero() {
		t.Fatalf("result %+v", res)
	}
	if b := backendByName(t, h.e.Snapshot(), "b"); b.Healthy {
		t.Errorf("b still healthy after a failed probe with failure threshold 1")
	}
	if v := metricValue(t, reg, "backline_probe_requests_total", RecheckAPI, "started"); v != 1 {
		t.Errorf("started = %v", v)
	}
	select {
	case extra := <-checker.started:
		t.Errorf("unexpected probe %q", extra)
	default:
	}
}

// Requests while a probe is pending share it; one within RecheckInterval
// of the last is dropped and counted; after the interval a new one runs.
func TestProbeNowCoalescesAndLimits(t *testing.T) {
	clock := newPassiveClock()
	checker := newHeldChecker("")
	reg := prometheus.NewRegistry()
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false))}, checker, Options{Now: clock.now, Registerer: reg})
	h.next(t)
	checker.next(t)
	checker.held = "a" // only the loop's probe goroutines read it, after this

	first, joined, err := h.e.ProbeNow("a", RecheckLua, "")
	if err != nil || joined {
		t.Fatalf("first: %v %v", joined, err)
	}
	checker.next(t) // it runs and is held
	for range 3 {
		r, joined, err := h.e.ProbeNow("a", RecheckLua, "")
		if err != nil || !joined || r != first {
			t.Fatalf("while pending: %p %v %v, want the first request joined", r, joined, err)
		}
	}
	close(checker.release)
	if res := waitRecheck(t, first); res.Status != RecheckDone || !res.OK {
		t.Fatalf("result %+v", res)
	}
	if _, _, err := h.e.ProbeNow("a", RecheckLua, ""); !errors.Is(err, ErrRecheckLimited) {
		t.Fatalf("within the interval: %v, want ErrRecheckLimited", err)
	}
	if v := metricValue(t, reg, "backline_probe_requests_total", RecheckLua, "limited"); v != 1 {
		t.Errorf("limited = %v", v)
	}
	if v := metricValue(t, reg, "backline_probe_requests_total", RecheckLua, "joined"); v != 3 {
		t.Errorf("joined = %v", v)
	}
	clock.advance(RecheckInterval)
	r, _, err := h.e.ProbeNow("a", RecheckLua, "")
	if err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	checker.next(t)
	waitRecheck(t, r)
	select {
	case extra := <-checker.started:
		t.Errorf("unexpected probe %q: joined requests must not probe", extra)
	default:
	}
}

func TestProbeNowRefusals(t *testing.T) {
	pol := testPolicy
	passive := passiveGroup(1, &pol)
	passive.PassiveOnly = true
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false), mailTarget("p", 2, false)), passive}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("p", AdminChange{ChecksPaused: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want error
	}{
		{"nope", ErrUnknownBackend},
		{"", ErrUnknownBackend},
		{"p", ErrChecksPaused},
		{passiveID(0), ErrNoActiveChecks},
	} {
		if _, _, err := e.ProbeNow(tc.id, RecheckAPI, ""); !errors.Is(err, tc.want) {
			t.Errorf("ProbeNow(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}
}

// A request queued when the loop stops (reload, shutdown) ends cancelled,
// and the stopped loop takes no more.
func TestProbeNowCancelledWhenTheLoopStops(t *testing.T) {
	checker := newHeldChecker("a")
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false))}, checker, Options{})
	checker.next(t) // the first round, held
	r, _, err := h.e.ProbeNow("a", RecheckAPI, "")
	if err != nil {
		t.Fatal(err)
	}
	h.stop()
	if res := waitRecheck(t, r); res.Status != RecheckCancelled {
		t.Fatalf("result %+v", res)
	}
	if _, _, err := h.e.ProbeNow("a", RecheckAPI, ""); !errors.Is(err, ErrRecheckStopped) && !errors.Is(err, ErrRecheckLimited) {
		t.Fatalf("after stop: %v", err)
	}
	if calls := slices.Collect(drain(checker.started)); len(calls) != 0 {
		t.Errorf("probes after stop: %v", calls)
	}
}

func drain(c chan string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for {
			select {
			case s := <-c:
				if !yield(s) {
					return
				}
			default:
				return
			}
		}
	}
}

// A request taken by a loop that was replaced before it ever ran
// (Reconfigure before Run) ends as cancelled at the next request, instead
// of leaving its caller waiting for a probe that never comes.
func TestProbeNowOfAReplacedLoopEndsCancelled(t *testing.T) {
	groups := []Group{mailGroup(mailTarget("a", 1, false))}
	e, err := New(groups, newHeldChecker(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := e.ProbeNow("a", RecheckAPI, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reconfigure(groups); err != nil {
		t.Fatal(err)
	}
	_, _, _ = e.ProbeNow("a", RecheckAPI, "") // limited or queued: either way the old request ends
	if res := waitRecheck(t, r); res.Status != RecheckCancelled {
		t.Fatalf("result %+v, want cancelled", res)
	}
}

package health

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/probe"
)

func mailGroup(targets ...*probe.Target) Group {
	return Group{Name: GroupMail, ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Targets: targets}
}

func TestNewRejectsBadInput(t *testing.T) {
	ok := mailGroup(mailTarget("a", 1, false))
	tests := []struct {
		name    string
		groups  []Group
		checker probe.Checker
		want    string
	}{
		{"no checker", []Group{ok}, nil, "no checker"},
		{"duplicate group", []Group{ok, ok}, &scriptChecker{}, "listed twice"},
		{"zero interval", []Group{{Name: "g"}}, &scriptChecker{}, "connect interval must be positive"},
		{"negative jitter", []Group{{Name: "g", ConnectInterval: time.Second, Jitter: -1}}, &scriptChecker{}, "jitter"},
		{"duplicate target name", []Group{mailGroup(mailTarget("a", 1, false), mailTarget("a", 2, false))}, &scriptChecker{}, `both named "a"`},
		{"nil target", []Group{mailGroup(nil)}, &scriptChecker{}, "target 0 is nil"},
		{"negative fast interval", []Group{{Name: "g", ConnectInterval: time.Minute, FastInterval: -1}}, &scriptChecker{}, "fast interval"},
		{"fast interval above connect", []Group{{Name: "g", ConnectInterval: time.Minute, FastInterval: time.Hour}}, &scriptChecker{}, "fast interval must be 0..1m0s"},
		{"fast interval above deep", []Group{{Name: "g", ConnectInterval: time.Minute, DeepInterval: 10 * time.Second, FastInterval: 20 * time.Second}}, &scriptChecker{}, "fast interval must be 0..10s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.groups, tc.checker, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestInitialSnapshotListsEveryTargetInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gw := Group{Name: "gateway:api", ConnectInterval: time.Minute, InitialHealthy: false,
		Targets: []*probe.Target{{Name: "api", Protocol: "http", Host: "127.0.0.1", Port: 80}}}
	gw2 := Group{Name: "gateway:web", ConnectInterval: time.Minute, InitialHealthy: true,
		Targets: []*probe.Target{{Protocol: "http", Host: "127.0.0.1", Port: 81}}}
	mail := mailGroup(mailTarget("m1", 143, true), mailTarget("m2", 110, false))
	e, err := New([]Group{gw, mail, gw2}, &scriptChecker{}, Options{Now: func() time.Time { return start }})
	if err != nil {
		t.Fatal(err)
	}
	s := e.Snapshot()
	if !s.Taken.IsZero() || s.Round != 0 {
		t.Fatalf("initial snapshot Taken=%v Round=%d, want zero", s.Taken, s.Round)
	}
	var got []string
	for _, b := range s.Backends {
		got = append(got, fmt.Sprintf("%s/%s/%v/%v", b.Group, b.ID, b.Healthy, b.Since.Equal(start)))
	}
	want := []string{
		"backend_health_checks/m1/true/true",
		"backend_health_checks/m2/true/true",
		"gateway:api/api/false/true",
		"gateway:web/http://127.0.0.1:81/true/true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("backends (-want +got):\n%s", diff)
	}
	if n := len(s.Healthy(GroupMail, "imap")); n != 2 {
		t.Fatalf("Healthy(mail, imap) = %d backends, want 2", n)
	}
}

func TestCombinedRoundProbesDeepTargetsDeep(t *testing.T) {
	checker := &scriptChecker{}
	h := startEngine(t, []Group{mailGroup(mailTarget("deep", 1, true), mailTarget("plain", 2, false))}, checker, Options{})
	h.next(t)
	h.stop()
	got := checker.callList()
	slices.Sort(got)
	if want := []string{"deep/deep", "plain/connect"}; !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
}

func TestSplitRoundsProbeConnectThenDeep(t *testing.T) {
	checker := &scriptChecker{}
	g := mailGroup(mailTarget("deep", 1, true), mailTarget("plain", 2, false))
	g.DeepInterval = 2 * time.Hour
	h := startEngine(t, []Group{g}, checker, Options{})
	first := h.next(t)
	second := h.next(t)
	h.stop()
	// The connect round finishes (all its probes return) before the deep
	// round starts, so the call order tells the rounds apart.
	calls := checker.callList()
	if len(calls) != 3 {
		t.Fatalf("calls %v, want 3", calls)
	}
	connectRound := slices.Sorted(slices.Values(calls[:2]))
	if want := []string{"deep/connect", "plain/connect"}; !slices.Equal(connectRound, want) {
		t.Fatalf("connect round calls %v, want %v", connectRound, want)
	}
	if calls[2] != "deep/deep" {
		t.Fatalf("deep round call %v, want deep/deep", calls[2])
	}
	if first.Round != 1 || second.Round != 2 {
		t.Fatalf("rounds %d, %d; want 1, 2", first.Round, second.Round)
	}
}

func TestThresholdsThroughTheEngine(t *testing.T) {
	checker := &scriptChecker{script: map[string][]bool{
		"a/connect": {false, false, true, true},
	}}
	g := mailGroup(mailTarget("a", 1, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	g.FailureThreshold, g.RecoveryThreshold = 2, 2
	h := startEngine(t, []Group{g}, checker, Options{})
	var states []bool
	for range 5 {
		states = append(states, backendByName(t, h.next(t), "a").Healthy)
	}
	h.stop()
	if got, want := fmt.Sprint(states), "[true false false true true]"; got != want {
		t.Fatalf("healthy after each round %s, want %s", got, want)
	}
}

func TestInitialUnhealthyRecovers(t *testing.T) {
	g := mailGroup(mailTarget("a", 1, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	g.InitialHealthy, g.RecoveryThreshold = false, 2
	e0, err := New([]Group{g}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e0.Snapshot().Backends[0].Healthy || len(e0.Snapshot().Healthy(GroupMail, "")) != 0 {
		t.Fatal("initial_state unhealthy: backend healthy before any probe")
	}
	h := startEngine(t, []Group{g}, &scriptChecker{}, Options{})
	first, second := h.next(t), h.next(t)
	h.stop()
	if first.Backends[0].Healthy || !second.Backends[0].Healthy {
		t.Fatalf("healthy after rounds: %v, %v; want false, true", first.Backends[0].Healthy, second.Backends[0].Healthy)
	}
	if c := second.Backends[0].Connect; c.ConsecutiveSuccesses != 2 || c.LastSuccess.IsZero() {
		t.Fatalf("connect phase %+v", c)
	}
}

func TestPublishedSnapshotsAreNeverModified(t *testing.T) {
	checker := &scriptChecker{script: map[string][]bool{"a/connect": {true, false, true, false}}}
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	h := startEngine(t, []Group{g}, checker, Options{})
	first := h.next(t)
	frozen := *first
	frozen.Backends = slices.Clone(first.Backends)
	h.rounds(t, 3)
	h.stop()
	// netip.Addr has no Equal method for cmp; == is its equality.
	addrEqual := cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
	if diff := cmp.Diff(frozen, *first, addrEqual); diff != "" {
		t.Fatalf("published snapshot changed (-before +after):\n%s", diff)
	}
	if last := h.e.Snapshot(); last == first || last.Round <= first.Round {
		t.Fatalf("snapshot not replaced: round %d after %d", last.Round, first.Round)
	}
}

func TestRoundsNeverOverlap(t *testing.T) {
	var mu sync.Mutex
	inFlight := map[string]int{}
	maxInFlight := 0
	slow := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		mu.Lock()
		inFlight[tg.Name]++
		maxInFlight = max(maxInFlight, inFlight[tg.Name])
		mu.Unlock()
		// Much longer than both intervals: stacked rounds would overlap here.
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		mu.Lock()
		inFlight[tg.Name]--
		mu.Unlock()
		return probe.Result{Phase: phase, OK: true}
	})
	g := mailGroup(mailTarget("a", 1, true), mailTarget("b", 2, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, 2*time.Millisecond
	h := startEngine(t, []Group{g}, slow, Options{})
	h.rounds(t, 6)
	h.stop()
	if maxInFlight != 1 {
		t.Fatalf("a target was probed %d times at once: rounds overlapped", maxInFlight)
	}
}

func TestJitterSpreadsProbeStarts(t *testing.T) {
	const jitter = 40 * time.Millisecond
	var targets []*probe.Target
	for i := range 200 {
		targets = append(targets, mailTarget(fmt.Sprint("t", i), 1000+i, false))
	}
	g := mailGroup(targets...)
	g.Jitter = jitter
	var mu sync.Mutex
	var offsets []time.Duration
	h := startEngine(t, []Group{g}, &scriptChecker{}, Options{}, func(e *Engine) {
		e.probeStarted = func(_ string, _ *probe.Target, _ probe.Phase, offset time.Duration) {
			mu.Lock()
			offsets = append(offsets, offset)
			mu.Unlock()
		}
	})
	h.next(t)
	h.stop()
	if len(offsets) != 200 {
		t.Fatalf("%d probes started, want 200", len(offsets))
	}
	distinct := map[time.Duration]bool{}
	for _, o := range offsets {
		if o < 0 || o >= jitter {
			t.Fatalf("offset %v outside [0, %v)", o, jitter)
		}
		distinct[o] = true
	}
	if len(distinct) < 100 {
		t.Fatalf("only %d distinct offsets among 200: jitter not applied", len(distinct))
	}
}

func TestNoJitterMeansNoOffset(t *testing.T) {
	var nonZero atomic.Int32
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{}, func(e *Engine) {
		e.probeStarted = func(_ string, _ *probe.Target, _ probe.Phase, offset time.Duration) {
			if offset != 0 {
				nonZero.Add(1)
			}
		}
	})
	h.next(t)
	h.stop()
	if nonZero.Load() != 0 {
		t.Fatal("offsets without jitter")
	}
}

func TestMaxInFlightBoundsConcurrency(t *testing.T) {
	var current, peak atomic.Int32
	entered := make(chan struct{}, 50)
	release := make(chan struct{})
	checker := checkerFunc(func(ctx context.Context, _ *probe.Target, phase probe.Phase) probe.Result {
		n := current.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		current.Add(-1)
		return probe.Result{Phase: phase, OK: true}
	})
	var targets []*probe.Target
	for i := range 50 {
		targets = append(targets, mailTarget(fmt.Sprint("t", i), 1000+i, false))
	}
	h := startEngine(t, []Group{mailGroup(targets...)}, checker, Options{MaxInFlight: 3})
	for range 3 {
		<-entered
	}
	close(release)
	h.next(t)
	h.stop()
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want exactly MaxInFlight=3", p)
	}
	if n := len(entered) + 3; n != 50 {
		t.Fatalf("%d probes ran, want 50", n)
	}
}

func TestSlowGroupDoesNotBlockOthers(t *testing.T) {
	checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		if tg.Name == "stuck" {
			<-ctx.Done() // until shutdown
			return probe.Result{Phase: phase, Err: ctx.Err(), Reason: probe.ReasonTimeout}
		}
		return probe.Result{Phase: phase, OK: true}
	})
	stuck := mailGroup(mailTarget("stuck", 1, false))
	fast := Group{Name: "gateway:fast", ConnectInterval: time.Millisecond, InitialHealthy: true,
		Targets: []*probe.Target{{Name: "fast", Protocol: "http", Host: "127.0.0.1", Port: 2}}}
	h := startEngine(t, []Group{stuck, fast}, checker, Options{})
	s := h.rounds(t, 5)
	h.stop()
	if s.Round != 5 || len(s.Backends) != 2 || s.Backends[0].Target.Name != "stuck" {
		t.Fatalf("snapshot round %d with %d backends", s.Round, len(s.Backends))
	}
	if !s.Backends[0].Connect.LastCheck.IsZero() {
		t.Fatal("stuck group recorded a result")
	}
}

func TestCancelMidRoundReturnsAndRecordsNothing(t *testing.T) {
	entered := make(chan struct{}, 10)
	checker := checkerFunc(func(ctx context.Context, _ *probe.Target, phase probe.Phase) probe.Result {
		entered <- struct{}{}
		<-ctx.Done()
		return probe.Result{Phase: phase, Err: ctx.Err(), Reason: probe.ReasonTimeout}
	})
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, true))}, checker, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	<-entered
	<-entered
	cancel()
	<-done
	s := e.Snapshot()
	if s.Round != 0 || !s.Backends[0].Healthy || !s.Backends[1].Healthy {
		t.Fatalf("cancelled round was recorded: round %d, %+v", s.Round, s.Backends)
	}
}

func TestRunTwiceIsIgnored(t *testing.T) {
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{})
	h.next(t)                     // the first Run is under way
	h.e.Run(context.Background()) // returns at once instead of probing twice
	h.stop()
}

func TestPanickingCheckerCountsAsFailure(t *testing.T) {
	checker := checkerFunc(func(context.Context, *probe.Target, probe.Phase) probe.Result { panic("checker bug") })
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false))}, checker, Options{})
	b := h.next(t).Backends[0]
	h.stop()
	if b.Healthy || b.Connect.LastError != errCheckerPanicked.Error() {
		t.Fatalf("backend after panic: %+v", b.Connect)
	}
}

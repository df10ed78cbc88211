package health

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

func findBackend(s *Snapshot, id string) (Backend, bool) {
	for _, b := range s.Backends {
		if b.ID == id {
			return b, true
		}
	}
	return Backend{}, false
}

// TestReconfigureKeepsStateOfSurvivingBackends is the issue's "a backend
// down before a reload is still down after, with its counters": with
// initial health up, a fresh state would read healthy again.
func TestReconfigureKeepsStateOfSurvivingBackends(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	checker := &scriptChecker{script: map[string][]bool{"down/connect": {false}, "gone/connect": {false}}}
	g := mailGroup(mailTarget("down", 1, false), mailTarget("keep", 2, false), mailTarget("gone", 3, false))
	g.ConnectInterval, g.DeepInterval = time.Hour, time.Hour
	h := startEngine(t, []Group{g}, checker, Options{Registerer: reg})
	h.next(t)
	before, _ := findBackend(h.e.Snapshot(), "down")
	if before.Healthy || before.Connect.ConsecutiveFailures != 1 {
		t.Fatalf("before: healthy=%v failures=%d", before.Healthy, before.Connect.ConsecutiveFailures)
	}
	if v := metricValue(t, reg, "backline_probe_failures_total", GroupMail, "down", "connect", "connect_refused"); v != 1 {
		t.Fatalf("failures metric before = %v", v)
	}
	if v := metricValue(t, reg, "backline_backend_transitions_total", GroupMail, "gone", "connect", "unhealthy"); v != 1 {
		t.Fatalf("gone transitions before = %v", v)
	}

	// Changed check settings (timeout, deep check) under the same name; one
	// target removed, one added.
	changed := mailTarget("down", 1, false)
	changed.ConnectTimeout = 3 * time.Second
	g2 := mailGroup(changed, mailTarget("keep", 2, false), mailTarget("new", 4, false))
	g2.ConnectInterval, g2.DeepInterval = time.Hour, time.Hour
	g2.InitialHealthy = true
	if err := h.e.Reconfigure([]Group{g2}); err != nil {
		t.Fatal(err)
	}
	snap := h.e.Snapshot()
	after, ok := findBackend(snap, "down")
	if !ok || after.Healthy || after.Eligible || after.Connect.ConsecutiveFailures < 1 || !after.Since.Equal(before.Since) {
		t.Fatalf("after reload: %+v", after)
	}
	if after.Target.ConnectTimeout != 3*time.Second {
		t.Errorf("new check settings not applied: %v", after.Target.ConnectTimeout)
	}
	if _, ok := findBackend(snap, "gone"); ok {
		t.Error("removed backend still in the snapshot")
	}
	if b, ok := findBackend(snap, "new"); !ok || !b.Healthy {
		t.Errorf("new backend: %+v %v", b, ok)
	}
	if _, ok := h.e.ProbeTarget("gone"); ok {
		t.Error("removed backend's probe target still found")
	}
	// The reload's own round records one more failure on the kept counter.
	h.next(t)
	if v := metricValue(t, reg, "backline_probe_failures_total", GroupMail, "down", "connect", "connect_refused"); v != 2 {
		t.Errorf("failures metric after = %v, want 2 (kept and counted on)", v)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.Contains(f.String(), `value:"gone"`) {
			t.Errorf("removed backend still in %s", f.GetName())
		}
	}
	if got := h.e.Snapshot(); got.Round <= snap.Round-1 {
		t.Errorf("round went backwards: %d", got.Round)
	}
}

// TestReconfigureRenamedSameAddressKeepsState: a backend renamed at the same
// protocol and address starts from its old state.
func TestReconfigureRenamedSameAddressKeepsState(t *testing.T) {
	// The round the reload starts never ends, so the snapshot shows what
	// the rename carried over (it raced with that round before).
	checker := refusedUntil("renamed")
	g := mailGroup(mailTarget("old", 1, false))
	g.ConnectInterval, g.DeepInterval = time.Hour, time.Hour
	e, err := New([]Group{g}, checker, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e)
	h.next(t)
	g2 := mailGroup(mailTarget("renamed", 1, false))
	g2.ConnectInterval, g2.DeepInterval = time.Hour, time.Hour
	if err := e.Reconfigure([]Group{g2}); err != nil {
		t.Fatal(err)
	}
	b, ok := findBackend(e.Snapshot(), "renamed")
	if !ok || b.Healthy || b.Connect.ConsecutiveFailures != 1 {
		t.Fatalf("renamed: %+v", b)
	}
}

// TestReconfigureKeepsAdminAndRefusesInvalid: admin state survives a
// reload; an invalid configuration changes nothing.
func TestReconfigureKeepsAdminAndRefusesInvalid(t *testing.T) {
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	e, err := New([]Group{g}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	drain := AdminDrain
	why := "disk swap"
	if _, err := e.SetAdmin("a", AdminChange{State: &drain, Why: &why, Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	bad := mailGroup(mailTarget("a", 1, false), mailTarget("a", 2, false))
	if err := e.Reconfigure([]Group{bad}); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if n := len(e.Snapshot().Backends); n != 2 {
		t.Fatalf("invalid reload changed the snapshot: %d backends", n)
	}
	if err := e.Reconfigure([]Group{mailGroup(mailTarget("a", 1, false))}); err != nil {
		t.Fatal(err)
	}
	b, _ := findBackend(e.Snapshot(), "a")
	if b.Admin.State != AdminDrain || b.Eligible || b.Reason != ReasonDrain || b.Admin.Why != why {
		t.Fatalf("admin after reload: %+v eligible=%v reason=%q", b.Admin, b.Eligible, b.Reason)
	}
	if _, ok := e.GetAdmin("b"); ok {
		t.Error("removed backend still has admin state")
	}
}

// TestReconfigureWhileRunningRace lets the race detector watch reloads
// that overlap rounds, scrapes, admin changes and lookups.
func TestReconfigureWhileRunningRace(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	mk := func(n int) []Group {
		var targets []*probe.Target
		for i := range n {
			targets = append(targets, mailTarget(fmt.Sprint("t", i), 1000+i, i%2 == 0))
		}
		g := mailGroup(targets...)
		g.ConnectInterval, g.DeepInterval = time.Millisecond, 2*time.Millisecond
		return []Group{g, {Name: "gateway:web", ConnectInterval: time.Millisecond, FailureThreshold: 1, RecoveryThreshold: 1,
			Targets: []*probe.Target{{Name: "web", Protocol: "http", Host: "127.0.0.1", Port: 80}}}}
	}
	h := startEngine(t, mk(4), &scriptChecker{script: map[string][]bool{"t1/connect": {true, false}}}, Options{Registerer: reg})
	if _, err := h.e.SetAdmin("t0", AdminChange{Weight: ptr(3)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
			_, _ = h.e.SetAdmin("t0", AdminChange{Weight: ptr(3)})
			_, _ = h.e.ProbeTarget("t2")
			_ = h.e.TestPasswords()
			_, _ = h.e.GetAdmin("t3")
			_ = h.e.Snapshot().Eligible(GroupMail, "")
		}
	})
	for i := range 20 {
		if err := h.e.Reconfigure(mk(2 + i%4)); err != nil {
			t.Fatal(err)
		}
		h.next(t)
	}
	close(done)
	wg.Wait()
	b, ok := findBackend(h.e.Snapshot(), "t0")
	if !ok || b.Weight != 3 {
		t.Fatalf("t0 after reloads: %+v", b)
	}
	// Both groups of the last generation publish a round.
	for !h.e.Ready() {
		h.next(t)
	}
}

// TestReconfigureAfterRunReturned: no hang, the new groups are installed.
func TestReconfigureAfterRunReturned(t *testing.T) {
	h := startEngine(t, []Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{})
	h.next(t)
	h.stop()
	if err := h.e.Reconfigure([]Group{mailGroup(mailTarget("b", 2, false))}); err != nil {
		t.Fatal(err)
	}
	if _, ok := findBackend(h.e.Snapshot(), "b"); !ok {
		t.Fatal("b not installed")
	}
}

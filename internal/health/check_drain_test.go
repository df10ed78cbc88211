package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// drainStep is one deep check's answer: "ok" (an expected status),
// "drain" (a drain_on_status answer, 404) or "fail".
func feedDeep(s *targetState, at int64, answer string) outcome {
	res := probe.Result{Phase: probe.PhaseDeep, OK: true}
	switch answer {
	case "drain":
		res.DrainStatus = 404
	case "fail":
		res = probe.Result{Phase: probe.PhaseDeep, Reason: probe.ReasonTimeout, Err: errors.New("timed out")}
	}
	return s.record(probe.PhaseDeep, &res, time.Unix(at, 0))
}

func httpDrainTarget() *probe.Target {
	return &probe.Target{Name: "web", Protocol: "http", Host: "127.0.0.1", Port: 80, DeepCheck: true,
		HTTP: &probe.HTTPExpect{Statuses: []int{200}, DrainStatuses: []int{404}}}
}

// TestCheckDrainTransitions walks one backend (failure_threshold 2,
// recovery_threshold 2) through drain answers, failures and recoveries.
func TestCheckDrainTransitions(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 2, RecoveryThreshold: 2, InitialHealthy: true}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	now := time.Unix(100, 0)
	view := func() string {
		b := s.backend()
		b.Eligible, b.Reason, b.Draining = assess(&b, now)
		state := "down"
		if b.Healthy {
			state = "up"
		}
		return state + " " + string(b.Reason) + " " + map[bool]string{true: "draining", false: "-"}[b.Draining]
	}
	steps := []struct{ answer, want string }{
		{"ok", "up  -"},
		{"drain", "up check_drain draining"}, // at once, no threshold
		{"fail", "up check_drain draining"},  // a failure below the threshold keeps the drain
		{"drain", "up check_drain draining"}, // and the drain answer resets the failure count
		{"ok", "up  -"},                      // an expected status ends it at once
		{"drain", "up check_drain draining"}, //
		{"fail", "up check_drain draining"},  //
		{"fail", "down unhealthy -"},         // down ends the drain
		{"drain", "down unhealthy -"},        // a drain answer never brings it back...
		{"ok", "down unhealthy -"},           // ...nor counts towards recovery
		{"drain", "down unhealthy -"},        // it resets the count, as a failure does
		{"ok", "down unhealthy -"},           //
		{"ok", "up  -"},                      // two expected answers in a row
	}
	for i, st := range steps {
		feedDeep(s, int64(i+1), st.answer)
		if got := view(); got != st.want {
			t.Fatalf("step %d (%s): %q, want %q", i, st.answer, got, st.want)
		}
	}
}

func TestCheckDrainWhileDownIsAFailure(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: false}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	out := feedDeep(s, 1, "drain")
	if out.ok || s.healthy || s.checkDrain != 0 {
		t.Fatalf("ok %v healthy %v checkDrain %d", out.ok, s.healthy, s.checkDrain)
	}
	if !strings.Contains(s.deep.LastError, "404 is in drain_on_status") || s.deep.LastReason != probe.ReasonProtocol {
		t.Errorf("last error %q reason %q", s.deep.LastError, s.deep.LastReason)
	}
	feedDeep(s, 2, "ok")
	if !s.healthy || s.checkDrain != 0 {
		t.Errorf("after an expected status: healthy %v checkDrain %d", s.healthy, s.checkDrain)
	}
}

// A reload that drops drain_on_status ends a running check drain.
func TestCheckDrainEndsWhenConfigDropsIt(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	feedDeep(s, 1, "drain")
	if s.checkDrain != 404 {
		t.Fatalf("checkDrain %d", s.checkDrain)
	}
	kept := httpDrainTarget()
	s.adopt(g, kept)
	if s.checkDrain != 404 {
		t.Errorf("same config: checkDrain %d", s.checkDrain)
	}
	dropped := httpDrainTarget()
	dropped.HTTP.DrainStatuses = nil
	s.adopt(g, dropped)
	if s.checkDrain != 0 {
		t.Errorf("drain_on_status removed: checkDrain %d", s.checkDrain)
	}
}

// Admin states and forced health come before the check's drain answer.
func TestCheckDrainEligibilityOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	base := Backend{Healthy: true, Weight: 1, Admin: defaultAdmin(1), StaleAfter: 10 * time.Second,
		Connect: PhaseState{LastCheck: now.Add(-time.Second)}, CheckDrainStatus: 404}
	cases := []struct {
		name     string
		edit     func(b *Backend)
		ok       bool
		want     Reason
		draining bool
	}{
		{"check drain", func(*Backend) {}, false, ReasonCheckDrain, true},
		{"maint wins", func(b *Backend) { b.Admin.State = AdminMaint }, false, ReasonMaint, false},
		{"admin drain wins", func(b *Backend) { b.Admin.State = AdminDrain }, false, ReasonDrain, true},
		{"forced down wins", func(b *Backend) { b.Admin.Health = HealthDown }, false, ReasonForcedDown, false},
		{"forced up sets it aside", func(b *Backend) { b.Admin.Health = HealthUp }, true, "", false},
		{"stale wins", func(b *Backend) { b.Connect.LastCheck = now.Add(-time.Hour) }, false, ReasonStale, false},
		{"ejected wins", func(b *Backend) { b.EjectedUntil = now.Add(time.Minute) }, false, ReasonPassive, false},
		{"weight zero wins", func(b *Backend) { b.Weight = 0 }, false, ReasonWeightZero, false},
		{"no drain answer", func(b *Backend) { b.CheckDrainStatus = 0 }, true, "", false},
	}
	for _, c := range cases {
		b := base
		c.edit(&b)
		ok, why, draining := Assess(b, now)
		if ok != c.ok || why != c.want || draining != c.draining {
			t.Errorf("%s: got %v %q draining %v, want %v %q draining %v", c.name, ok, why, draining, c.ok, c.want, c.draining)
		}
	}
	b := base
	if ok, why, _ := Assess(b, now); Usable(&Backend{Reason: why, Weight: 1}) || ok {
		t.Errorf("a check-drained backend is usable in panic mode")
	}
}

// drainChecker answers deep checks from a script of "ok", "drain" and
// "fail"; the last entry repeats.
type drainChecker struct {
	mu     sync.Mutex
	script []string
}

func (c *drainChecker) Check(_ context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	answer := c.script[0]
	if len(c.script) > 1 {
		c.script = c.script[1:]
	}
	switch answer {
	case "drain":
		return probe.Result{Phase: phase, OK: true, DrainStatus: 404}
	case "fail":
		return probe.Result{Phase: phase, Reason: probe.ReasonProtocol, Err: errors.New("HTTP request failed: HTTP/1.1 503 Service Unavailable")}
	}
	return probe.Result{Phase: phase, OK: true}
}

// The engine publishes a check drain in the snapshot (reason check_drain,
// draining) and in backline_backend_draining, lets maint win over it, and
// ends it on the next expected status.
func TestCheckDrainSnapshotAndMetric(t *testing.T) {
	clock := &fakeClock{now: time.Unix(5000, 0)}
	reg := prometheus.NewPedanticRegistry()
	tg := httpDrainTarget()
	g := Group{Name: "gateway:web", ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 2, RecoveryThreshold: 1, InitialHealthy: true, Targets: []*probe.Target{tg}}
	checker := &drainChecker{script: []string{"drain", "drain", "ok"}}
	e, err := New([]Group{g}, checker, Options{Now: clock.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	round := func() {
		l := e.gen.Load().loops[0]
		l.round(context.Background(), l.combinedJobs)
	}
	only := func() Backend {
		t.Helper()
		snap := e.Snapshot()
		if snap == nil || len(snap.Backends) != 1 {
			t.Fatalf("snapshot %+v", snap)
		}
		return snap.Backends[0]
	}
	round()
	b := only()
	if b.Eligible || b.Reason != ReasonCheckDrain || !b.Draining || b.CheckDrainStatus != 404 || !b.Healthy {
		t.Fatalf("after a drain answer: eligible %v reason %q draining %v status %d healthy %v", b.Eligible, b.Reason, b.Draining, b.CheckDrainStatus, b.Healthy)
	}
	if v := metricValue(t, reg, "backline_backend_draining", "gateway:web", "web"); v != 1 {
		t.Errorf("draining metric %v, want 1", v)
	}
	if v := metricValue(t, reg, "backline_backend_eligible", "gateway:web", "web"); v != 0 {
		t.Errorf("eligible metric %v, want 0", v)
	}
	if _, err := e.SetAdmin(b.ID, AdminChange{State: ptr(AdminMaint), Who: "alice"}); err != nil {
		t.Fatal(err)
	}
	round()
	if b := only(); b.Reason != ReasonMaint || b.Draining {
		t.Errorf("maint: reason %q draining %v", b.Reason, b.Draining)
	}
	if _, err := e.SetAdmin(b.ID, AdminChange{State: ptr(AdminReady), Who: "alice"}); err != nil {
		t.Fatal(err)
	}
	round()
	if b := only(); !b.Eligible || b.Reason != "" || b.Draining || b.CheckDrainStatus != 0 {
		t.Errorf("after an expected status: eligible %v reason %q draining %v status %d", b.Eligible, b.Reason, b.Draining, b.CheckDrainStatus)
	}
	if v := metricValue(t, reg, "backline_backend_draining", "gateway:web", "web"); v != 0 {
		t.Errorf("draining metric %v, want 0", v)
	}
}

func TestCheckDrainLogLines(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g := &Group{Name: "gateway:web", FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	for i, answer := range []string{"ok", "drain", "drain", "ok"} {
		out := feedDeep(s, int64(i+1), answer)
		logOutcome(context.Background(), logger, s, &out, &probe.Result{})
	}
	var got []string
	for _, r := range buf.records(t) {
		got = append(got, fmt.Sprint(r["msg"], " ", r["drain_status"], " ", r["address"]))
	}
	want := []string{"backend check drain started 404 127.0.0.1:80", "backend check drain ended 404 127.0.0.1:80"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// With probe leases, the holder's drain answer reaches the other
// instances; a malformed drain_status from the store is ignored.
func TestCheckDrainSharedResult(t *testing.T) {
	data, err := encodeShared(&probe.Result{Phase: probe.PhaseDeep, OK: true, DrainStatus: 404})
	if err != nil {
		t.Fatal(err)
	}
	res, err := decodeShared(data)
	if err != nil || !res.OK || res.DrainStatus != 404 {
		t.Fatalf("round trip: %+v %v", res, err)
	}
	g := &Group{Name: "gateway:web", FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	if out := s.recordSharedDeep(&res, time.Unix(1, 0)); s.checkDrain != 404 || out.checkDrainTo != 404 {
		t.Errorf("shared drain answer: checkDrain %d", s.checkDrain)
	}
	for _, raw := range []string{
		`{"ok":true,"drain_status":99999,"duration_ns":1}`,
		`{"ok":true,"drain_status":-404,"duration_ns":1}`,
		`{"ok":false,"err":"x","drain_status":404,"duration_ns":1}`,
	} {
		res, err := decodeShared([]byte(raw))
		if err != nil || res.DrainStatus != 0 {
			t.Errorf("%s: DrainStatus %d, err %v", raw, res.DrainStatus, err)
		}
	}
}

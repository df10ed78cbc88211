package health

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// Bug: a shared (probe lease) result's drain_status drained the backend
// whatever this instance's configuration says: a holder whose
// drain_on_status differs (a reload rolling through the instances), or a
// hostile store value, drained a backend whose drain_on_status does not
// list the status, or one that is no http target at all.
func TestReviewSharedDrainStatusFollowsOwnConfig(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 2, RecoveryThreshold: 1, InitialHealthy: true}
	cases := []struct {
		name      string
		target    *probe.Target
		data      string
		wantDrain int
		wantOK    bool
	}{
		{"listed status drains", httpDrainTarget(), `{"ok":true,"duration_ns":1,"drain_status":404}`, 404, true},
		{"status not listed here", httpDrainTarget(), `{"ok":true,"duration_ns":1,"drain_status":503}`, 0, false},
		{"expected status here", httpDrainTarget(), `{"ok":true,"duration_ns":1,"drain_status":200}`, 0, true},
		{"no drain_on_status here", func() *probe.Target {
			t := httpDrainTarget()
			t.HTTP.DrainStatuses = nil
			return t
		}(), `{"ok":true,"duration_ns":1,"drain_status":404}`, 0, false},
		{"imap target", &probe.Target{Name: "imap", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: true},
			`{"ok":true,"duration_ns":1,"drain_status":404}`, 0, false},
		{"older instance: no drain_status", httpDrainTarget(), `{"ok":true,"duration_ns":1}`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTargetState(g, tc.target, time.Unix(0, 0))
			res, err := decodeShared([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			out := s.recordSharedDeep(&res, time.Unix(10, 0))
			if s.checkDrain != tc.wantDrain || out.ok != tc.wantOK {
				t.Errorf("checkDrain %d ok %v, want %d %v (error %q)", s.checkDrain, out.ok, tc.wantDrain, tc.wantOK, out.errText)
			}
		})
	}
}

// Bug: a drain answer from a backend that is down is recorded as a failed
// check (it stays down), but the check history (status page sparkline,
// uptime) counted it as a passed one.
func TestReviewDrainAnswerWhileDownIsAFailureInHistory(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 1, RecoveryThreshold: 2, InitialHealthy: false}
	e := &Engine{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l := &groupLoop{e: e, group: *g}
	s := newTargetState(g, httpDrainTarget(), time.Unix(0, 0))
	now := time.Unix(7200, 0)
	res := probe.Result{Phase: probe.PhaseDeep, OK: true, DrainStatus: 404}
	l.recordLocal(context.Background(), job{state: s, phase: probe.PhaseDeep}, &res, now)
	h := s.history.summary()
	if h == nil {
		t.Fatal("no history")
	}
	last := h.Minutes[len(h.Minutes)-1]
	if last.Checks != 1 || last.Fails != 1 {
		t.Errorf("history minute: %d checks, %d fails; want 1 failed check", last.Checks, last.Fails)
	}
}

// The snapshot says since when the check drain runs: from its first drain
// answer, kept while the answers go on (another drain status included),
// zero once it ended.
func TestReviewCheckDrainSince(t *testing.T) {
	g := &Group{Name: "gateway:web", FailureThreshold: 2, RecoveryThreshold: 1, InitialHealthy: true}
	target := httpDrainTarget()
	target.HTTP.DrainStatuses = []int{404, 410}
	s := newTargetState(g, target, time.Unix(0, 0))
	feedDeep(s, 10, "ok")
	feedDeep(s, 20, "drain")
	res := probe.Result{Phase: probe.PhaseDeep, OK: true, DrainStatus: 410}
	s.record(probe.PhaseDeep, &res, time.Unix(30, 0))
	if b := s.backend(); b.CheckDrainStatus != 410 || !b.CheckDrainSince.Equal(time.Unix(20, 0)) {
		t.Errorf("draining: status %d since %v, want 410 since %v", b.CheckDrainStatus, b.CheckDrainSince, time.Unix(20, 0))
	}
	feedDeep(s, 40, "ok")
	if b := s.backend(); !b.CheckDrainSince.IsZero() {
		t.Errorf("ended: since %v", b.CheckDrainSince)
	}
	feedDeep(s, 50, "drain")
	if b := s.backend(); !b.CheckDrainSince.Equal(time.Unix(50, 0)) {
		t.Errorf("again: since %v", b.CheckDrainSince)
	}
}

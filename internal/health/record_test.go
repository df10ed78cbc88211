package health

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// step is one probe fed to a target in the combining tests.
type step struct {
	phase probe.Phase
	ok    bool
}

func c(ok bool) step { return step{probe.PhaseConnect, ok} }
func d(ok bool) step { return step{probe.PhaseDeep, ok} }

func TestRecordCombinesPhases(t *testing.T) {
	tests := []struct {
		name      string
		deepCheck bool
		fail, rec int
		steps     []step
		// wanted after the last step: connect gate, deep gate, combined
		connect, deep, healthy bool
	}{
		{"connect failure downs a connect-only target", false, 1, 1,
			[]step{c(false)}, false, true, false},
		{"connect-only target ignores the deep gate", false, 1, 1,
			[]step{c(true)}, true, true, true},
		{"deep failure records on the deep gate only", true, 1, 1,
			[]step{d(false)}, true, false, false},
		{"deep success heals both gates", true, 1, 1,
			[]step{c(false), d(false), d(true)}, true, true, true},
		{"deep success counts towards connect recovery", true, 1, 2,
			[]step{c(false), d(true)}, false, true, false},
		{"second deep success completes connect recovery", true, 1, 2,
			[]step{c(false), d(true), d(true)}, true, true, true},
		{"connect success does not heal the deep gate", true, 1, 1,
			[]step{d(false), c(true)}, true, false, false},
		{"connect failure downs a deep target", true, 1, 1,
			[]step{c(false)}, false, true, false},
		{"deep failures below threshold keep it up", true, 3, 1,
			[]step{d(false), d(false)}, true, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := &probe.Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: tc.deepCheck}
			g := &Group{Name: GroupMail, FailureThreshold: tc.fail, RecoveryThreshold: tc.rec, InitialHealthy: true}
			s := newTargetState(g, target, time.Unix(0, 0))
			for i, st := range tc.steps {
				res := probe.Result{Phase: st.phase, OK: st.ok}
				if !st.ok {
					res.Reason, res.Err = probe.ReasonProtocol, errors.New("boom")
				}
				s.record(st.phase, &res, time.Unix(int64(i+1), 0))
			}
			got := fmt.Sprint(s.connectGate.healthy, s.deepGate.healthy, s.healthy)
			want := fmt.Sprint(tc.connect, tc.deep, tc.healthy)
			if got != want {
				t.Fatalf("connect deep healthy = %s, want %s", got, want)
			}
			if s.connect.Healthy != s.connectGate.healthy || s.deep.Healthy != s.deepGate.healthy {
				t.Fatalf("phase states disagree with gates")
			}
		})
	}
}

func TestRecordDeepDialErrorLeavesConnectGate(t *testing.T) {
	target := &probe.Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: true}
	s := newTargetState(&Group{Name: GroupMail, InitialHealthy: true}, target, time.Unix(0, 0))
	dialErr := fmt.Errorf("dial tcp 127.0.0.1:143: %w", syscall.ECONNREFUSED)
	out := s.record(probe.PhaseDeep, &probe.Result{Phase: probe.PhaseConnect, Reason: probe.ReasonRefused, Err: dialErr}, time.Unix(5, 0))

	if !s.connect.Healthy || s.connect.ConsecutiveFailures != 0 || !s.connect.LastCheck.IsZero() {
		t.Fatalf("connect phase touched by a deep failure: %+v", s.connect)
	}
	if s.deep.Healthy || s.deep.ConsecutiveFailures != 1 || s.deep.LastReason != probe.ReasonRefused {
		t.Fatalf("deep phase = %+v, want unhealthy, 1 failure, reason refused", s.deep)
	}
	if len(out.changes) != 1 || out.changes[0] != (gateChange{probe.PhaseDeep, false}) || !out.healthyChanged {
		t.Fatalf("outcome = %+v", out)
	}
	if !s.since.Equal(time.Unix(5, 0)) {
		t.Fatalf("since = %v, want the time of the change", s.since)
	}
}

func TestRecordKeepsLastCheckDetails(t *testing.T) {
	target := &probe.Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 993, DeepCheck: true}
	s := newTargetState(&Group{Name: GroupMail, InitialHealthy: true}, target, time.Unix(0, 0))
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := []probe.Step{{Name: "connect", Duration: 2 * time.Millisecond}, {Name: "tls", Duration: 3 * time.Millisecond}, {Name: "auth", Duration: 7 * time.Millisecond}}
	s.record(probe.PhaseDeep, &probe.Result{OK: true, Duration: 12 * time.Millisecond, Steps: steps, CertNotAfter: expiry, Mechanism: "PLAIN"}, time.Unix(1, 0))
	if s.connect.Latency != 5*time.Millisecond || s.deep.Latency != 12*time.Millisecond {
		t.Fatalf("latencies connect=%v deep=%v, want 5ms and 12ms", s.connect.Latency, s.deep.Latency)
	}
	// A later failure before TLS keeps the last seen certificate and mechanism.
	s.record(probe.PhaseDeep, &probe.Result{Reason: probe.ReasonTimeout, Err: errors.New("i/o timeout"), Steps: steps[:1]}, time.Unix(2, 0))
	b := s.backend()
	if !b.CertNotAfter.Equal(expiry) || b.Mechanism != "PLAIN" || len(b.Steps) != 1 {
		t.Fatalf("backend = %+v", b)
	}
	if b.Deep.LastError != "i/o timeout" || b.Deep.LastReason != probe.ReasonTimeout || !b.Deep.LastSuccess.Equal(time.Unix(1, 0)) {
		t.Fatalf("deep phase = %+v", b.Deep)
	}
}

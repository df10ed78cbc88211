package health

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// Issue 9 item 9: with the default schedule (deep_interval equal to
// connect_interval) a deep_check target only gets deep probes. A refused or
// TLS-timed-out target used to show "connect ok, checked never" and
// backline_backend_phase_up{phase="connect"} 1, so a connect alert never
// fired. A combined probe now records the connect phase's own result.
func TestCombinedProbeRecordsTheConnectPhase(t *testing.T) {
	cases := []struct {
		name        string
		res         probe.Result
		connectUp   bool
		connectErr  string
		connectFail float64
	}{
		{"refused", probe.Result{Phase: probe.PhaseDeep, Reason: probe.ReasonRefused, FailedPhase: probe.PhaseConnect,
			Err: fmt.Errorf("TCP dial 127.0.0.1:1 failed: connection refused"), Duration: 2 * time.Millisecond}, false, "connection refused", 1},
		{"TLS handshake timed out", probe.Result{Phase: probe.PhaseDeep, Reason: probe.ReasonTimeout, FailedPhase: probe.PhaseConnect,
			Err: fmt.Errorf("TLS handshake failed: i/o timeout"), Duration: time.Second,
			Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}}}, false, "TLS handshake failed", 1},
		{"wrong password after a good connect", probe.Result{Phase: probe.PhaseDeep, Reason: probe.ReasonAuth, FailedPhase: probe.PhaseDeep,
			Err: fmt.Errorf("IMAP AUTHENTICATE PLAIN failed"), Duration: 5 * time.Millisecond,
			Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}, {Name: "auth", Duration: 4 * time.Millisecond}}}, true, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			checker := checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
				if phase != probe.PhaseDeep {
					t.Errorf("combined round probed phase %q", phase)
				}
				return tc.res
			})
			g := mailGroup(mailTarget("a", 1, true))
			g.ConnectInterval, g.DeepInterval = time.Hour, time.Hour // combined: one round only
			before := time.Now()
			h := startEngine(t, []Group{g}, checker, Options{Registerer: reg})
			snap := h.next(t)
			h.stop()

			b := backendByName(t, snap, "a")
			if b.Connect.Healthy != tc.connectUp {
				t.Errorf("connect healthy = %v, want %v", b.Connect.Healthy, tc.connectUp)
			}
			if b.Connect.LastCheck.Before(before) {
				t.Errorf("connect phase never checked: %+v", b.Connect)
			}
			if tc.connectErr == "" {
				if b.Connect.LastError != "" || b.Connect.LastSuccess.IsZero() {
					t.Errorf("connect phase = %+v, want a success", b.Connect)
				}
			} else if !strings.Contains(b.Connect.LastError, tc.connectErr) || b.Connect.LastReason != tc.res.Reason {
				t.Errorf("connect error %q (%q), want %q (%q)", b.Connect.LastError, b.Connect.LastReason, tc.connectErr, tc.res.Reason)
			}
			if b.Deep.Healthy || b.Healthy {
				t.Errorf("deep healthy %v, healthy %v after a failed deep check", b.Deep.Healthy, b.Healthy)
			}
			if v := metricValue(t, reg, "backline_backend_phase_up", GroupMail, "a", "connect"); v != boolGauge(tc.connectUp) {
				t.Errorf("phase_up{connect} = %v, want %v", v, boolGauge(tc.connectUp))
			}
			if v := metricValue(t, reg, "backline_backend_phase_up", GroupMail, "a", "deep"); v != 0 {
				t.Errorf("phase_up{deep} = %v, want 0", v)
			}
			if tc.connectFail > 0 {
				if v := metricValue(t, reg, "backline_probe_failures_total", GroupMail, "a", "connect", string(tc.res.Reason)); v != tc.connectFail {
					t.Errorf("failures{connect} = %v, want %v", v, tc.connectFail)
				}
			}
		})
	}
}

// With separate schedules the connect rounds own the connect gate, and a
// deep dial failure stays on the deep gate (contract §4.3).
func TestSeparateDeepRoundLeavesTheConnectGate(t *testing.T) {
	target := &probe.Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: true}
	s := newTargetState(&Group{Name: GroupMail, InitialHealthy: true, FailureThreshold: 1}, target, time.Unix(0, 0))
	res := probe.Result{Phase: probe.PhaseDeep, Reason: probe.ReasonRefused, FailedPhase: probe.PhaseConnect, Err: errTestRefused}
	s.record(probe.PhaseDeep, &res, time.Unix(5, 0))
	if !s.connect.Healthy || !s.connect.LastCheck.IsZero() {
		t.Fatalf("connect phase touched by a separate deep round: %+v", s.connect)
	}
}

// The connect gate follows the connect phase of combined probes through a
// recovery: refused (both down), then reachable with a bad password
// (connect back up, deep still down), then a full success.
func TestCombinedProbeConnectGateRecovers(t *testing.T) {
	target := &probe.Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: true}
	s := newTargetState(&Group{Name: GroupMail, InitialHealthy: true, FailureThreshold: 1, RecoveryThreshold: 1}, target, time.Unix(0, 0))
	steps := []struct {
		res                    probe.Result
		connect, deep, healthy bool
	}{
		{probe.Result{Reason: probe.ReasonRefused, FailedPhase: probe.PhaseConnect, Err: errTestRefused}, false, false, false},
		{probe.Result{Reason: probe.ReasonAuth, FailedPhase: probe.PhaseDeep, Err: errTestRefused,
			Steps: []probe.Step{{Name: "connect", Duration: 3 * time.Millisecond}}}, true, false, false},
		{probe.Result{OK: true, Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}}}, true, true, true},
	}
	for i, st := range steps {
		out := s.recordCombined(&st.res, time.Unix(int64(i+1), 0))
		if s.connect.Healthy != st.connect || s.deep.Healthy != st.deep || s.healthy != st.healthy {
			t.Fatalf("step %d: connect %v deep %v healthy %v, want %v %v %v (outcome %+v)",
				i, s.connect.Healthy, s.deep.Healthy, s.healthy, st.connect, st.deep, st.healthy, out)
		}
		if !s.connect.LastCheck.Equal(time.Unix(int64(i+1), 0)) {
			t.Fatalf("step %d: connect last check %v", i, s.connect.LastCheck)
		}
	}
	if s.connect.Latency != time.Millisecond {
		t.Errorf("connect latency %v, want the connect step of the last probe", s.connect.Latency)
	}
}

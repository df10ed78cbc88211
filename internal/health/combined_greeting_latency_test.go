package health

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// Bug: with connect_check: greeting a connect-only probe's latency runs
// to the greeting, but the connect part of a combined deep probe counted
// only connect, proxy and tls: the same backend's connect latency (the
// API, the status page, Lua's latency_ms) shrank by its greeting time
// whenever connect_interval equalled deep_interval. The greeting now
// counts in both when the connect phase reads it.
func TestCombinedConnectLatencyCountsTheGreeting(t *testing.T) {
	steps := []probe.Step{{Name: "connect", Duration: time.Millisecond}, {Name: "greeting", Duration: 2 * time.Millisecond},
		{Name: "auth", Duration: 5 * time.Millisecond}, {Name: "logout", Duration: 7 * time.Millisecond}}
	for _, greeting := range []bool{true, false} {
		want := time.Millisecond
		if greeting {
			want = 3 * time.Millisecond
		}
		target := &probe.Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: true, ConnectGreeting: greeting}
		s := newTargetState(&Group{Name: GroupMail, InitialHealthy: true, FailureThreshold: 1, RecoveryThreshold: 1}, target, time.Unix(0, 0))
		s.recordCombined(&probe.Result{Phase: probe.PhaseDeep, OK: true, Duration: 15 * time.Millisecond, Steps: steps}, time.Unix(1, 0))
		if s.connect.Latency != want {
			t.Errorf("connect_check greeting=%v: connect latency %v, want %v", greeting, s.connect.Latency, want)
		}
		_, part, ok := s.recordConnectPart(&probe.Result{Phase: probe.PhaseDeep, OK: true, Duration: 15 * time.Millisecond, Steps: steps}, time.Unix(2, 0))
		if !ok || part.Duration != want {
			t.Errorf("connect_check greeting=%v: leased connect part %v (ok %v), want %v", greeting, part.Duration, ok, want)
		}
	}
}

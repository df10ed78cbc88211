package health

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

func checkedResult(ok bool, failed probe.Phase, remote string) *probe.Result {
	res := &probe.Result{Phase: probe.PhaseDeep, OK: ok, FailedPhase: failed, RemoteAddr: remote}
	if !ok {
		res.Reason, res.Err = probe.ReasonProtocol, errors.New("boom")
	}
	return res
}

func TestCheckedAddrFollowsPassedConnectPhases(t *testing.T) {
	type rec struct {
		phase    probe.Phase
		combined bool
		res      *probe.Result
		want     string // "" for the zero Addr
	}
	tests := []struct {
		name  string
		steps []rec
	}{
		{"connect success keeps the address", []rec{
			{probe.PhaseConnect, false, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: "192.0.2.7:143"}, "192.0.2.7"},
		}},
		{"a later success on another address replaces it (DNS changed)", []rec{
			{probe.PhaseConnect, false, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: "192.0.2.7:143"}, "192.0.2.7"},
			{probe.PhaseConnect, false, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: "[2001:db8::7]:143"}, "2001:db8::7"},
		}},
		{"a failed connect phase keeps the last address that worked", []rec{
			{probe.PhaseConnect, false, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: "192.0.2.7:143"}, "192.0.2.7"},
			{probe.PhaseConnect, false, &probe.Result{Phase: probe.PhaseConnect, Err: errors.New("refused"), RemoteAddr: "192.0.2.8:143"}, "192.0.2.7"},
		}},
		{"TLS failing after TCP is no passed connect phase", []rec{
			{probe.PhaseDeep, true, checkedResult(false, probe.PhaseConnect, "192.0.2.9:993"), ""},
		}},
		{"deep failure after a passed connect phase (combined)", []rec{
			{probe.PhaseDeep, true, checkedResult(false, probe.PhaseDeep, "192.0.2.10:143"), "192.0.2.10"},
		}},
		{"deep failure after a passed connect phase (own deep round)", []rec{
			{probe.PhaseDeep, false, checkedResult(false, probe.PhaseDeep, "192.0.2.10:143"), "192.0.2.10"},
		}},
		{"a deep failure that does not say where keeps it", []rec{
			{probe.PhaseDeep, true, checkedResult(true, "", "192.0.2.11:143"), "192.0.2.11"},
			{probe.PhaseDeep, true, checkedResult(false, "", "192.0.2.12:143"), "192.0.2.11"},
		}},
		{"IPv4-mapped is kept as IPv4", []rec{
			{probe.PhaseDeep, true, checkedResult(true, "", "[::ffff:192.0.2.13]:143"), "192.0.2.13"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTargetState(&Group{Name: GroupMail, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true},
				&probe.Target{Name: "t", Protocol: "imap", Host: "mail.example.test", Port: 143, DeepCheck: true}, time.Unix(0, 0))
			for i, st := range tc.steps {
				if st.combined {
					s.recordCombined(st.res, time.Unix(int64(i+1), 0))
				} else {
					s.record(st.phase, st.res, time.Unix(int64(i+1), 0))
				}
				if got := addrString(s.backend().Addr); got != st.want {
					t.Fatalf("step %d: Addr = %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

// A success whose RemoteAddr is missing or not an address (a custom
// dialer, a hostile checker) forgets the old address: it no longer says
// where the checks go, so nginx falls back to resolving the name.
func TestCheckedAddrHostileRemoteAddr(t *testing.T) {
	for _, remote := range []string{"", "mail.example.test:143", "192.0.2.7", "not an address", "0.0.0.0:143",
		"[::]:143", "224.0.0.1:143", "[ff02::1]:143", "192.0.2.7:143\r\nAuth-Server: 203.0.113.1", "999.1.1.1:143"} {
		s := newTargetState(&Group{Name: GroupMail, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true},
			&probe.Target{Name: "t", Protocol: "imap", Host: "mail.example.test", Port: 143}, time.Unix(0, 0))
		s.record(probe.PhaseConnect, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: "192.0.2.1:143"}, time.Unix(1, 0))
		s.record(probe.PhaseConnect, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: remote}, time.Unix(2, 0))
		if got := s.backend().Addr; got.IsValid() {
			t.Errorf("RemoteAddr %q: Addr = %v, want none", remote, got)
		}
	}
}

func TestCheckedAddrLeasedConnectPart(t *testing.T) {
	s := newTargetState(&Group{Name: GroupMail, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true},
		&probe.Target{Name: "t", Protocol: "imap", Host: "mail.example.test", Port: 143, DeepCheck: true}, time.Unix(0, 0))
	s.recordConnectPart(checkedResult(false, probe.PhaseDeep, "192.0.2.20:143"), time.Unix(1, 0))
	if got := addrString(s.addr); got != "192.0.2.20" {
		t.Fatalf("own leased probe: Addr = %q", got)
	}
	// Another instance's published deep result says nothing about this
	// instance's network path.
	shared, err := decodeShared([]byte(`{"ok":true,"duration_ns":1}`))
	if err != nil {
		t.Fatal(err)
	}
	s.recordSharedDeep(&shared, time.Unix(2, 0))
	if got := addrString(s.addr); got != "192.0.2.20" {
		t.Fatalf("after a shared result: Addr = %q", got)
	}
}

func TestCheckedAddrForgottenWhenReloadMovesTarget(t *testing.T) {
	g := &Group{Name: GroupMail, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true}
	old := &probe.Target{Name: "t", Protocol: "imap", Host: "mail.example.test", Port: 143}
	s := newTargetState(g, old, time.Unix(0, 0))
	s.record(probe.PhaseConnect, &probe.Result{Phase: probe.PhaseConnect, OK: true, RemoteAddr: "192.0.2.1:143"}, time.Unix(1, 0))
	same := *old
	same.ConnectTimeout = time.Second
	s.adopt(g, &same)
	if !s.addr.IsValid() {
		t.Fatal("a reload that keeps host and port forgot the address")
	}
	moved := same
	moved.Host = "mail2.example.test"
	s.adopt(g, &moved)
	if s.addr.IsValid() {
		t.Fatalf("a reload to another host kept %v", s.addr)
	}
}

// The engine publishes the address in its snapshots.
func TestSnapshotCarriesCheckedAddr(t *testing.T) {
	target := mailTarget("a", 143, false)
	checker := checkerFunc(func(_ context.Context, _ *probe.Target, phase probe.Phase) probe.Result {
		return probe.Result{Phase: phase, OK: true, RemoteAddr: "192.0.2.30:143"}
	})
	h := startEngine(t, []Group{{Name: GroupMail, ConnectInterval: time.Millisecond, DeepInterval: time.Millisecond,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Targets: []*probe.Target{target}}}, checker, Options{})
	b := backendByName(t, h.next(t), "a")
	if want := netip.MustParseAddr("192.0.2.30"); b.Addr != want {
		t.Fatalf("snapshot Addr = %v, want %v", b.Addr, want)
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// While an operator pauses a backend's checks its checked address stays
// the one the last check reached, with the verdict it belongs to (nginx is
// never sent to an address no check reached); the first check after the
// pause reaches the address the name resolves to then.
func TestCheckedAddrStaysWhileChecksPaused(t *testing.T) {
	var remote atomic.Value
	remote.Store("192.0.2.30:143")
	checker := checkerFunc(func(_ context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		return probe.Result{Phase: phase, OK: true, RemoteAddr: remote.Load().(string)}
	})
	g := Group{Name: GroupMail, ConnectInterval: time.Millisecond, DeepInterval: time.Millisecond,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{mailTarget("a", 143, false), mailTarget("b", 144, false)}}
	h := startEngine(t, []Group{g}, checker, Options{})
	if b := backendByName(t, h.next(t), "a"); addrString(b.Addr) != "192.0.2.30" {
		t.Fatalf("before the pause: %v", b.Addr)
	}
	if _, err := h.e.SetAdmin("a", AdminChange{ChecksPaused: ptr(true), Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	h.fresh(t) // a round that began before the pause may still record
	remote.Store("192.0.2.31:143")
	// b's checks go on and publish rounds; a's address stays.
	for range 3 {
		snap := h.fresh(t)
		if b := backendByName(t, snap, "b"); addrString(b.Addr) != "192.0.2.31" {
			t.Fatalf("b was not re-checked: %v", b.Addr)
		}
		if a := backendByName(t, snap, "a"); addrString(a.Addr) != "192.0.2.30" || !a.ChecksPaused {
			t.Fatalf("paused a: Addr %v paused %v, want the last checked 192.0.2.30", a.Addr, a.ChecksPaused)
		}
	}
	if _, err := h.e.SetAdmin("a", AdminChange{ChecksPaused: ptr(false), Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	h.fresh(t)
	if a := backendByName(t, h.fresh(t), "a"); addrString(a.Addr) != "192.0.2.31" {
		t.Fatalf("after the pause: %v", a.Addr)
	}
}

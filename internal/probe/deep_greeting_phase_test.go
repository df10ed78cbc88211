package probe

import (
	"context"
	"testing"
)

// Bug: with connect_check: greeting (the default) a refusing greeting
// failed a connect-only check in the connect phase, but the same greeting
// failed a deep check in the deep phase with the connect phase passed. A
// combined round (deep_interval = connect_interval, fast and API
// re-checks, and an instance without the deep lease running plain connect
// probes) therefore recorded the connect phase healthy for a server whose
// connect-only check says it is down. A deep check that fails on the
// greeting now reports the connect phase failed when the connect phase
// reads the greeting; with connect_check: tcp it stays a deep failure.
func TestDeepCheckGreetingFailureIsAConnectFailure(t *testing.T) {
	greetings := map[string]string{
		"imap":  "* BYE Too many connections",
		"pop3":  "-ERR [SYS/TEMP] busy",
		"smtp":  "554 5.3.2 no service here",
		"lmtp":  "421 4.3.2 shutting down",
		"sieve": `NO "Maximum number of connections"`,
	}
	for protocol, greeting := range greetings {
		for _, connectGreeting := range []bool{true, false} {
			want := PhaseDeep
			if connectGreeting {
				want = PhaseConnect
			}
			t.Run(protocol+map[bool]string{true: " greeting", false: " tcp"}[connectGreeting], func(t *testing.T) {
				srv := startFake(t, script("S: "+greeting, "-- close"))
				tg := newTarget(t, protocol, srv, TLSPlain)
				tg.ConnectGreeting = connectGreeting
				res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{})
				srv.wait()
				if res.OK || res.Reason != ReasonProtocol || res.FailedPhase != want {
					t.Fatalf("ok=%v reason=%s failed_phase=%s (want %s) err=%v", res.OK, res.Reason, res.FailedPhase, want, res.Err)
				}
			})
		}
	}
	// A failure after the greeting stays in the deep phase.
	srv := startFake(t, script("S: * PREAUTH ready", "C: a1 LOGOUT"))
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.ConnectGreeting = true
	res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{})
	srv.wait()
	if res.OK || res.FailedPhase != PhaseDeep {
		t.Fatalf("PREAUTH: ok=%v failed_phase=%s err=%v", res.OK, res.FailedPhase, res.Err)
	}
}

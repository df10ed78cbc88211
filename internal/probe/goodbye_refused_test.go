package probe

import (
	"context"
	"slices"
	"testing"
)

// A connect-only check that meets SMTP's 554 greeting fails and still says
// QUIT: RFC 5321 §3.1 has such a server wait for it (the deep check does
// the same). A 421 greeting closes at once and gets nothing.
func TestConnectCheckSays554GreetingQuit(t *testing.T) {
	srv := startFake(t, script("S: 554 5.3.2 no service here", "C: QUIT", "S: 221 bye", "-- close"))
	res := (&Prober{}).Check(context.Background(), connectTarget(t, "smtp", srv, TLSPlain), PhaseConnect, Options{})
	srv.wait()
	if res.OK || res.Reason != ReasonProtocol || res.FailedPhase != PhaseConnect {
		t.Fatalf("ok=%v reason=%s failed_phase=%s err=%v", res.OK, res.Reason, res.FailedPhase, res.Err)
	}
	if got := srv.received(); !slices.Equal(got, []string{"QUIT"}) {
		t.Fatalf("client sent %q, want QUIT", got)
	}

	srv = startFake(t, script("S: 421 4.3.2 shutting down", "-- close"))
	res = (&Prober{}).Check(context.Background(), connectTarget(t, "lmtp", srv, TLSPlain), PhaseConnect, Options{})
	srv.wait()
	if res.OK || len(srv.received()) != 0 {
		t.Fatalf("ok=%v, client sent %q after a 421 greeting", res.OK, srv.received())
	}
}

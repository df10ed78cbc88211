package probe

import (
	"context"
	"testing"
	"time"
)

// Bug: a connect-only check's Duration, the connect phase's latency in
// the status API, the Lua backend's latency_ms, the latency histogram and
// the status page, ran until the goodbye was answered. The verdict is
// made with the greeting and the goodbye's answer is optional, so a
// server that greets at once but never answers QUIT (and keeps the
// connection) showed a latency of the whole connect_timeout. Duration now
// ends at the verdict; the goodbye keeps its own "logout" step.
func TestConnectCheckLatencyEndsWithTheGreeting(t *testing.T) {
	hold := make(chan struct{})
	srv := startFake(t, func(c *fakeConn) {
		_, _ = c.conn.Write([]byte("220 mx ESMTP\r\n"))
		<-hold // reads QUIT into the socket buffer, never answers, never closes
	})
	defer close(hold)
	tg := connectTarget(t, "smtp", srv, TLSPlain)
	tg.ConnectTimeout = 300 * time.Millisecond
	begin := time.Now()
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{Transcript: true})
	wall := time.Since(begin)
	if !res.OK {
		t.Fatalf("check failed: %v", res.Err)
	}
	var logout time.Duration
	for _, st := range res.Steps {
		if st.Name == "logout" {
			logout = st.Duration
		}
	}
	if logout == 0 {
		t.Fatalf("no logout step: %v", stepNames(res))
	}
	// Without a clock threshold: the check and its goodbye together fit in
	// the wall time only when Duration leaves the goodbye out.
	if res.Duration+logout > wall {
		t.Errorf("Duration %v includes the unanswered goodbye (logout step %v, whole check %v)", res.Duration, logout, wall)
	}
}

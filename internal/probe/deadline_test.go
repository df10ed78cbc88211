package probe

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 9 item 7: deep_timeout bounds the whole deep phase. STARTTLS used to
// start it again (and ManageSieve once more after the handshake), so a
// server slow before and after STARTTLS held a 5s check for 9.5s.

// slowStartTLS is one protocol's dialogue up to the STARTTLS answer.
type slowStartTLS struct {
	protocol string
	before   []string // script steps up to and including the client's STARTTLS
	answer   string   // the server's go-ahead, sent late
}

var slowStartTLSServers = []slowStartTLS{
	{"smtp", []string{"S: 220 ready", "C: " + ehlo, "S: 250-host", "S: 250 STARTTLS", "C: STARTTLS"}, "220 go ahead"},
	{"lmtp", []string{"S: 220 ready", "C: LHLO localhost.localdomain", "S: 250-host", "S: 250 STARTTLS", "C: STARTTLS"}, "220 go ahead"},
	{"pop3", []string{"S: +OK ready", "C: CAPA", "S: +OK", "S: STLS", "S: .", "C: STLS"}, "+OK go ahead"},
	{"imap", []string{"S: * OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready", "C: a1 STARTTLS"}, "a1 OK go ahead"},
	{"sieve", []string{`S: "SASL" "PLAIN"`, `S: "STARTTLS"`, `S: OK "ready"`, "C: STARTTLS"}, `OK "go ahead"`},
}

// playSlowStartTLS plays before, waits delay, answers, and then either runs
// the TLS handshake and stays silent, or stays silent without one.
func playSlowStartTLS(srvCase slowStartTLS, delay time.Duration, handshake bool) func(*fakeConn) {
	return func(c *fakeConn) {
		for _, step := range srvCase.before {
			if strings.HasPrefix(step, "S: ") {
				c.send(step[3:])
			} else if !c.expect(step[3:]) {
				return
			}
		}
		time.Sleep(delay)
		c.send(srvCase.answer)
		// On a loaded machine the deep deadline may come during the
		// handshake (0.2 s are left of it): the client then hangs up, which
		// is the behaviour under test, not a fake server failure.
		if handshake && !c.tryStartTLS() {
			return
		}
		for range 1000 { // silent: read whatever comes until the client gives up
			if _, err := c.readLine(); err != nil {
				return
			}
		}
	}
}

func TestStartTLSDoesNotRestartTheDeepDeadline(t *testing.T) {
	const deepTimeout = 2 * time.Second
	// The server uses most of deep_timeout before its STARTTLS answer. The
	// unfixed probe then gave the handshake tls_timeout and deep_timeout
	// again after it: about 2x. The bound is generous on purpose.
	const delay = 1800 * time.Millisecond
	const bound = deepTimeout + 1200*time.Millisecond
	type outcome struct {
		name string
		res  Result
		took time.Duration
	}
	var cases []func() outcome
	for _, srvCase := range slowStartTLSServers {
		for _, handshake := range []bool{true, false} {
			name := srvCase.protocol + "/silent after TLS"
			if !handshake {
				name = srvCase.protocol + "/handshake never comes"
			}
			srv := startFake(t, playSlowStartTLS(srvCase, delay, handshake))
			tg := newTarget(t, srvCase.protocol, srv, TLSStartTLS)
			tg.ConnectTimeout, tg.TLSTimeout, tg.DeepTimeout = time.Second, deepTimeout, deepTimeout
			cases = append(cases, func() outcome {
				start := time.Now()
				res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{})
				return outcome{name, res, time.Since(start)}
			})
		}
	}
	// All at once: each case waits about deep_timeout on a silent server.
	outcomes := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, run := range cases {
		wg.Go(func() { outcomes[i] = run() })
	}
	wg.Wait()
	for _, o := range outcomes {
		if o.res.OK {
			t.Errorf("%s: check passed against a silent server", o.name)
			continue
		}
		if o.res.Reason != ReasonTimeout {
			t.Errorf("%s: reason = %q, want timeout (err: %v)", o.name, o.res.Reason, o.res.Err)
		}
		if o.took > bound {
			t.Errorf("%s: deep phase took %v with deep_timeout %v (bound %v)", o.name, o.took, deepTimeout, bound)
		}
	}
}

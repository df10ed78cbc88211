package probe

import (
	"context"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"
)

// The greetings and goodbye answers are Dovecot 2.3's before login, as
// /work/shared/spec/mail-server-transcripts.md and the fixture show them.
var politeTranscripts = []struct {
	protocol string
	server   []string // the fake server's script
	want     []string // Result.Transcript
}{
	{"imap", []string{
		"S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot harness-a ready.",
		"C: a1 LOGOUT",
		"S: * BYE Logging out",
		"S: a1 OK Logout completed.",
	}, nil},
	{"pop3", []string{
		"S: +OK Dovecot ready.",
		"C: QUIT",
		"S: +OK Logging out",
	}, nil},
	{"smtp", []string{
		"S: 220 dovecot-a.harness.test Dovecot harness-a ready.",
		"C: QUIT",
		"S: 221 2.0.0 Bye",
	}, nil},
	{"lmtp", []string{
		"S: 220 dovecot-a.harness.test Dovecot harness-a ready.",
		"C: QUIT",
		"S: 221 2.0.0 Bye",
	}, nil},
	{"sieve", []string{
		`S: "IMPLEMENTATION" "Dovecot Pigeonhole"`,
		`S: "SIEVE" "fileinto reject envelope"`,
		`S: "SASL" "PLAIN LOGIN"`,
		`S: "STARTTLS"`,
		`S: "VERSION" "1.0"`,
		`S: OK "Dovecot ready."`,
		"C: LOGOUT",
		`S: OK "Logout completed."`,
	}, nil},
}

func connectTarget(t *testing.T, protocol string, srv *fakeServer, mode TLSMode) *Target {
	tg := newTarget(t, protocol, srv, mode)
	tg.DeepCheck, tg.Username, tg.Password = false, "", ""
	tg.ConnectGreeting = true
	return tg
}

func TestConnectCheckReadsGreetingAndSaysGoodbye(t *testing.T) {
	for _, tc := range politeTranscripts {
		t.Run(tc.protocol, func(t *testing.T) {
			srv := startFake(t, script(tc.server...))
			res := (&Prober{}).Check(context.Background(), connectTarget(t, tc.protocol, srv, TLSPlain), PhaseConnect, Options{Transcript: true})
			srv.wait()
			if !res.OK || res.Phase != PhaseConnect {
				t.Fatalf("check: ok=%v phase=%s err=%v\n%s", res.OK, res.Phase, res.Err, strings.Join(res.Transcript, "\n"))
			}
			// The transcript is the server's script, our lines as C:.
			want := []string{"-- connect " + srv.ln.Addr().String()}
			want = append(want, tc.server...)
			if !slices.Equal(res.Transcript, want) {
				t.Errorf("transcript\n got: %q\nwant: %q", res.Transcript, want)
			}
			if got := stepNames(res); !slices.Equal(got, []string{"connect", "greeting", "logout"}) {
				t.Errorf("steps %v", got)
			}
		})
	}
}

func TestConnectCheckTCPSendsNothing(t *testing.T) {
	for _, tc := range politeTranscripts {
		t.Run(tc.protocol, func(t *testing.T) {
			// A server that never greets: connect_check: tcp does not wait.
			srv := startFake(t, script())
			tg := connectTarget(t, tc.protocol, srv, TLSPlain)
			tg.ConnectGreeting = false
			res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{Transcript: true})
			srv.wait()
			if !res.OK {
				t.Fatalf("check failed: %v", res.Err)
			}
			if got := srv.received(); len(got) != 0 {
				t.Errorf("server read %q", got)
			}
		})
	}
}

func TestConnectCheckGoodbyeOverImplicitTLS(t *testing.T) {
	srv := startFake(t, script("-- TLS", "S: +OK Dovecot ready.", "C: QUIT", "S: +OK Logging out"))
	res := (&Prober{}).Check(context.Background(), connectTarget(t, "pop3", srv, TLSImplicit), PhaseConnect, Options{Transcript: true})
	srv.wait()
	if !res.OK {
		t.Fatalf("check failed: %v\n%s", res.Err, strings.Join(res.Transcript, "\n"))
	}
	if got := stepNames(res); !slices.Equal(got, []string{"connect", "tls", "greeting", "logout"}) {
		t.Errorf("steps %v", got)
	}
}

// A STARTTLS target's connect-only check greets and leaves in plain text:
// STARTTLS belongs to the deep phase.
func TestConnectCheckStartTLSTargetStaysPlain(t *testing.T) {
	srv := startFake(t, script("S: 220 mx ESMTP", "C: QUIT", "S: 221 bye"))
	res := (&Prober{}).Check(context.Background(), connectTarget(t, "smtp", srv, TLSStartTLS), PhaseConnect, Options{})
	srv.wait()
	if !res.OK {
		t.Fatalf("check failed: %v", res.Err)
	}
}

func TestConnectCheckRefusingGreetingFails(t *testing.T) {
	cases := []struct {
		protocol, greeting, want string
	}{
		{"imap", "* BYE Too many connections", "IMAP server refused the connection: * BYE Too many connections"},
		{"imap", "a1 OK odd", "IMAP greeting failed"},
		{"pop3", "-ERR [SYS/TEMP] busy", "POP3 greeting failed, response: -ERR [SYS/TEMP] busy"},
		{"smtp", "554 5.3.2 no service here", "SMTP greeting failed, response: 554 5.3.2 no service here"},
		{"lmtp", "421 4.3.2 shutting down", "LMTP greeting failed"},
		{"sieve", `NO "Maximum number of connections"`, "ManageSieve greeting failed"},
		{"smtp", "220\x00\x1b[2J evil", "malformed reply line"},
	}
	for _, tc := range cases {
		t.Run(tc.protocol+" "+tc.greeting, func(t *testing.T) {
			srv := startFake(t, script("S: "+tc.greeting, "-- close"))
			res := (&Prober{}).Check(context.Background(), connectTarget(t, tc.protocol, srv, TLSPlain), PhaseConnect, Options{})
			srv.wait()
			if res.OK || res.Reason != ReasonProtocol || res.FailedPhase != PhaseConnect {
				t.Fatalf("ok=%v reason=%s failed_phase=%s err=%v", res.OK, res.Reason, res.FailedPhase, res.Err)
			}
			if !strings.Contains(res.Err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", res.Err, tc.want)
			}
			if strings.ContainsAny(res.Err.Error(), "\x00\x1b") {
				t.Errorf("control characters in the error: %q", res.Err)
			}
		})
	}
}

// PREAUTH means the server is up: a connect-only check passes (a deep
// check cannot log in and fails).
func TestConnectCheckIMAPPreauthPasses(t *testing.T) {
	srv := startFake(t, script("S: * PREAUTH ready", "C: a1 LOGOUT", "S: * BYE", "S: a1 OK"))
	res := (&Prober{}).Check(context.Background(), connectTarget(t, "imap", srv, TLSPlain), PhaseConnect, Options{})
	srv.wait()
	if !res.OK {
		t.Fatalf("check failed: %v", res.Err)
	}
}

// The verdict is made once the greeting is read: no answer, a closed
// connection or garbage after the goodbye does not fail the check.
func TestConnectCheckMissingGoodbyeAnswerPasses(t *testing.T) {
	cases := map[string][]string{
		"closes without answer":    {"S: * OK ready", "C: a1 LOGOUT", "-- close"},
		"answers garbage":          {"S: +OK ready", "C: QUIT", "S: \x00\x01garbage", "-- close"},
		"smtp malformed answer":    {"S: 220 ready", "C: QUIT", "S: hello?", "-- close"},
		"sieve answers with NO":    {`S: OK "ready"`, "C: LOGOUT", `S: NO "why"`},
		"imap untagged flood ends": append(append([]string{"S: * OK ready", "C: a1 LOGOUT"}, repeat("S: * 1 EXISTS", maxResponseLines+5)...), "-- close"),
	}
	protocolOf := map[string]string{
		"closes without answer": "imap", "answers garbage": "pop3", "smtp malformed answer": "smtp",
		"sieve answers with NO": "sieve", "imap untagged flood ends": "imap",
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			srv := startFake(t, script(steps...))
			res := (&Prober{}).Check(context.Background(), connectTarget(t, protocolOf[name], srv, TLSPlain), PhaseConnect, Options{Transcript: true})
			srv.wait()
			if !res.OK {
				t.Fatalf("check failed: %v\n%s", res.Err, strings.Join(res.Transcript, "\n"))
			}
			if name != "sieve answers with NO" && name != "answers garbage" && !slices.ContainsFunc(res.Transcript, func(l string) bool {
				return strings.HasPrefix(l, "-- no answer to the goodbye")
			}) {
				t.Errorf("transcript does not say the goodbye went unanswered:\n%s", strings.Join(res.Transcript, "\n"))
			}
		})
	}
}

// A server that never answers the goodbye holds the check until the
// connect budget ends, and the check still passes.
func TestConnectCheckSilentAfterGoodbyePasses(t *testing.T) {
	hold := make(chan struct{})
	srv := startFake(t, func(c *fakeConn) {
		c.send("+OK ready")
		c.expect("QUIT")
		<-hold
	})
	defer close(hold)
	tg := connectTarget(t, "pop3", srv, TLSPlain)
	tg.ConnectTimeout = 300 * time.Millisecond
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{Transcript: true})
	if !res.OK {
		t.Fatalf("check failed: %v", res.Err)
	}
}

// A server that does not greet within the connect budget fails the check
// with reason timeout, in the connect phase.
func TestConnectCheckNoGreetingTimesOut(t *testing.T) {
	hold := make(chan struct{})
	srv := startFake(t, func(c *fakeConn) { <-hold })
	defer close(hold)
	tg := connectTarget(t, "smtp", srv, TLSPlain)
	tg.ConnectTimeout = 200 * time.Millisecond
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{})
	if res.OK || res.Reason != ReasonTimeout || res.FailedPhase != PhaseConnect {
		t.Fatalf("ok=%v reason=%s failed_phase=%s err=%v", res.OK, res.Reason, res.FailedPhase, res.Err)
	}
	if got := srv.received(); len(got) != 0 {
		t.Errorf("sent %q before the greeting (haproxy#980)", got)
	}
}

// An oversized greeting line is refused without growing memory.
func TestConnectCheckOversizedGreetingFails(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		_, _ = c.conn.Write([]byte(strings.Repeat("x", 2*maxLine)))
		c.drain()
	})
	res := (&Prober{}).Check(context.Background(), connectTarget(t, "pop3", srv, TLSPlain), PhaseConnect, Options{})
	srv.wait()
	if res.OK || res.Reason != ReasonProtocol {
		t.Fatalf("ok=%v reason=%s err=%v", res.OK, res.Reason, res.Err)
	}
}

// http has no greeting: ConnectGreeting changes nothing.
func TestConnectCheckHTTPIgnoresGreeting(t *testing.T) {
	srv := startFake(t, script())
	tg := connectTarget(t, "http", srv, TLSPlain)
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{})
	srv.wait()
	if !res.OK || len(srv.received()) != 0 {
		t.Fatalf("ok=%v err=%v received=%q", res.OK, res.Err, srv.received())
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// With connect_check: greeting the greeting itself is the TLS 1.3 verdict
// on the client certificate: accepted, the check says goodbye; refused,
// it fails in the connect phase with the certificate named.
func TestConnectCheckGreetingCarriesClientCertVerdict(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	mc := implicitCase("imap")
	t.Run("accepted", func(t *testing.T) {
		srv := startFakeTLS(t, p.server, script("-- TLS", "S: * OK ready", "C: a1 LOGOUT", "S: * BYE", "S: a1 OK"))
		tg := mtlsTarget(t, mc, p, srv, true)
		tg.DeepCheck, tg.ConnectGreeting = false, true
		res := connectOnly(t, tg)
		srv.wait()
		expectOK(t, res)
		expectStepNames(t, res, "connect", "tls", "greeting", "logout")
	})
	t.Run("refused", func(t *testing.T) {
		srv := startFakeTLS(t, p.server, refusingScript(t, []string{"-- TLS", "S: * OK ready"}))
		tg := mtlsTarget(t, mc, p, srv, false)
		tg.DeepCheck, tg.ConnectGreeting = false, true
		res := connectOnly(t, tg)
		expectConnectFailure(t, res, "requires a client certificate and none is configured")
	})
}

package probe

// Deep checks end with the protocol's goodbye whether they passed or
// failed, as long as the server can still read it (goodbye.go). The
// transcripts are exact: the goodbye is the last line, or absent after a
// timeout, a closed connection, an unfinished STARTTLS handshake or the
// server's own farewell. The verdict and its error text never change.

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

const noGoodbye = "-- no goodbye: the server cannot read a command any more"

func wantTranscript(t *testing.T, res Result, want ...string) {
	t.Helper()
	if !slices.Equal(res.Transcript, want) {
		t.Errorf("transcript:\n  %s\nwant:\n  %s", strings.Join(res.Transcript, "\n  "), strings.Join(want, "\n  "))
	}
}

func wantError(t *testing.T, err error, reason Reason, text string) {
	t.Helper()
	wantReason(t, err, reason)
	if err.Error() != text {
		t.Errorf("error = %q, want %q", err, text)
	}
}

func TestDeepGoodbyeAfterFailedCapabilities(t *testing.T) {
	t.Run("pop3 CAPA", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(pop3AGreeting),
			clientSends("CAPA", "* OK IMAP4rev1 ready"),
			clientSends("QUIT", "-ERR Unknown command"),
		)
		res, err := runDeep(t, dlgTarget(srv, "pop3", TLSStartTLS, "auto"), 5*time.Second, checkPOP3)
		wantReceived(t, srv.finish(t), "CAPA", "QUIT")
		wantError(t, err, ReasonProtocol, "POP3 CAPA failed, response: * OK IMAP4rev1 ready")
		wantTranscript(t, res, "S: "+pop3AGreeting, "C: CAPA", "S: * OK IMAP4rev1 ready", "C: QUIT")
		wantSteps(t, res, "greeting", "logout")
	})
	for _, tc := range []struct{ protocol, hello string }{{"smtp", "EHLO"}, {"lmtp", "LHLO"}} {
		t.Run(tc.protocol+" "+tc.hello, func(t *testing.T) {
			hello := tc.hello + " localhost.localdomain"
			srv := startDialogue(t, false,
				serverSays(dovecotAGreeting),
				clientSends(hello, "502 5.5.1 Unsupported command"),
				clientSends("QUIT", "221 2.0.0 Bye"),
			)
			check := checkSMTP
			if tc.protocol == "lmtp" {
				check = checkLMTP
			}
			tg := dlgTarget(srv, tc.protocol, TLSPlain, "auto")
			tg.Username, tg.Password = "", ""
			res, err := runDeep(t, tg, 5*time.Second, check)
			wantReceived(t, srv.finish(t), hello, "QUIT")
			wantError(t, err, ReasonProtocol, strings.ToUpper(tc.protocol)+" "+tc.hello+" failed, response: 502 5.5.1 Unsupported command")
			wantTranscript(t, res, "S: "+dovecotAGreeting, "C: "+hello, "S: 502 5.5.1 Unsupported command", "C: QUIT")
		})
	}
}

func TestDeepGoodbyeAfterRefusedSMTPStartTLS(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloPlain...),
		clientSends("STARTTLS", "454 4.7.0 TLS not available due to temporary reason"),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	_, err := runDeep(t, dlgTarget(srv, "smtp", TLSStartTLS, "auto"), 5*time.Second, checkSMTP)
	wantReceived(t, srv.finish(t), ehlo, "STARTTLS", "QUIT")
	wantError(t, err, ReasonProtocol, "SMTP STARTTLS command failed, response: 454 4.7.0 TLS not available due to temporary reason")
}

func TestDeepGoodbyeAfterFailedAuth(t *testing.T) {
	t.Run("pop3 USER/PASS", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(pop3AGreeting),
			clientSends("CAPA", "+OK", "USER", "."),
			clientSends("USER "+testUser, "+OK"),
			clientSends("PASS "+testPassword, "-ERR [AUTH] Authentication failed."),
			clientSends("QUIT", "+OK Logging out"),
		)
		res, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, "auto"), 5*time.Second, checkPOP3)
		wantReceived(t, srv.finish(t), "CAPA", "USER "+testUser, "PASS "+testPassword, "QUIT")
		wantError(t, err, ReasonAuth, "POP3 PASS failed: -ERR [AUTH] Authentication failed.")
		wantTranscript(t, res,
			"S: "+pop3AGreeting, "C: CAPA", "S: +OK", "S: USER", "S: .",
			"C: USER "+testUser, "S: +OK", "C: PASS "+redacted, "S: -ERR [AUTH] Authentication failed.",
			"C: QUIT")
		wantSteps(t, res, "greeting", "capabilities", "auth", "logout")
		assertNoSecret(t, res, err)
	})
	t.Run("smtp AUTH LOGIN", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(dovecotDGreeting),
			clientSends(ehlo, dovecotDEhlo...),
			clientSends("AUTH LOGIN "+dlgUserB64, "334 UGFzc3dvcmQ6"),
			clientSends(dlgPassB64, "535 5.7.8 Authentication failed"),
			clientSends("QUIT", "221 2.0.0 Bye"),
		)
		res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
		wantReceived(t, srv.finish(t), ehlo, "AUTH LOGIN "+dlgUserB64, dlgPassB64, "QUIT")
		wantError(t, err, ReasonAuth, "SMTP AUTH LOGIN failed: 535 5.7.8 Authentication failed")
		want := []string{"S: " + dovecotDGreeting, "C: " + ehlo}
		for _, line := range dovecotDEhlo {
			want = append(want, "S: "+line)
		}
		want = append(want, "C: AUTH LOGIN "+redacted, "S: 334 UGFzc3dvcmQ6", "C: "+redacted,
			"S: 535 5.7.8 Authentication failed", "C: QUIT")
		wantTranscript(t, res, want...)
		wantSteps(t, res, "greeting", "capabilities", "auth", "logout")
		assertNoSecret(t, res, err)
	})
}

// A server that stops answering gets no goodbye: the deadline has passed
// and the goodbye must not stretch the check.
func TestDeepGoodbyeNotAfterTimeout(t *testing.T) {
	t.Run("pop3 CAPA", func(t *testing.T) {
		srv := startDialogue(t, false, serverSays(pop3AGreeting))
		res, err := runDeep(t, dlgTarget(srv, "pop3", TLSPlain, "auto"), 200*time.Millisecond, checkPOP3)
		wantReason(t, err, ReasonTimeout)
		if !strings.HasPrefix(err.Error(), "POP3 CAPA: ") {
			t.Errorf("error = %q", err)
		}
		wantTranscript(t, res, "S: "+pop3AGreeting, "C: CAPA", noGoodbye)
		wantReceived(t, srv.finish(t), "CAPA")
	})
	t.Run("smtp AUTH", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(dovecotAGreeting),
			clientSends(ehlo, dovecotAEhloTLS...),
		)
		res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "PLAIN"), 200*time.Millisecond, checkSMTP)
		wantReason(t, err, ReasonTimeout)
		if got := res.Transcript[len(res.Transcript)-2:]; !slices.Equal(got, []string{"C: AUTH PLAIN " + redacted, noGoodbye}) {
			t.Errorf("transcript ends %q", got)
		}
		wantReceived(t, srv.finish(t), ehlo, "AUTH PLAIN "+testPlainBlob)
	})
}

// A server that closed the connection, or announced it will (421, BYE),
// gets no goodbye either.
func TestDeepGoodbyeNotAfterClose(t *testing.T) {
	t.Run("closed after EHLO", func(t *testing.T) {
		srv := startRaw(t, func(c net.Conn) {
			_, _ = c.Write([]byte(dovecotAGreeting + "\r\n"))
			buf := make([]byte, 512)
			_, _ = c.Read(buf)
		})
		tg := dlgTarget(srv, "smtp", TLSPlain, "auto")
		tg.Username, tg.Password = "", ""
		res, err := runDeep(t, tg, 5*time.Second, checkSMTP)
		srv.finish(t)
		wantError(t, err, ReasonProtocol, "SMTP EHLO: connection closed by server")
		wantTranscript(t, res, "S: "+dovecotAGreeting, "C: "+ehlo, noGoodbye)
	})
	t.Run("421 greeting", func(t *testing.T) {
		srv := startDialogue(t, false, serverSays("421 4.3.2 Too many connections"))
		res, err := runDeep(t, dlgTarget(srv, "smtp", TLSPlain, "auto"), 5*time.Second, checkSMTP)
		wantReceived(t, srv.finish(t))
		wantError(t, err, ReasonProtocol, "SMTP greeting failed, response: 421 4.3.2 Too many connections")
		wantTranscript(t, res, "S: 421 4.3.2 Too many connections", noGoodbye)
	})
	t.Run("554 greeting waits for QUIT", func(t *testing.T) {
		// RFC 5321 §3.1: a server greeting with 554 waits for QUIT.
		srv := startDialogue(t, false,
			serverSays("554 5.3.2 No SMTP service here"),
			clientSends("QUIT", "221 2.0.0 Bye"),
		)
		_, err := runDeep(t, dlgTarget(srv, "smtp", TLSPlain, "auto"), 5*time.Second, checkSMTP)
		wantReceived(t, srv.finish(t), "QUIT")
		wantError(t, err, ReasonProtocol, "SMTP greeting failed, response: 554 5.3.2 No SMTP service here")
	})
}

// After the server agreed to STARTTLS it reads TLS records, not commands:
// a handshake that failed leaves nothing to say goodbye on.
func TestDeepGoodbyeNotAfterFailedStartTLS(t *testing.T) {
	srv := startRaw(t, func(c net.Conn) {
		_, _ = c.Write([]byte("+OK ready\r\n"))
		buf := make([]byte, 512)
		_, _ = c.Read(buf) // CAPA
		_, _ = c.Write([]byte("+OK\r\nSTLS\r\n.\r\n"))
		_, _ = c.Read(buf) // STLS
		_, _ = c.Write([]byte("+OK Begin TLS negotiation now.\r\n"))
		_, _ = c.Read(buf) // ClientHello
		_, _ = c.Write([]byte("-ERR this is not TLS\r\n"))
	})
	res, err := runDeep(t, dlgTarget(srv, "pop3", TLSStartTLS, "auto"), 5*time.Second, checkPOP3)
	srv.finish(t)
	wantReason(t, err, ReasonTLS)
	wantTranscript(t, res, "S: +OK ready", "C: CAPA", "S: +OK", "S: STLS", "S: .", "C: STLS",
		"S: +OK Begin TLS negotiation now.", noGoodbye)
}

// Through the whole checker: the verdict, the reason and the error text
// are the conversation's, and the check's last step is the goodbye.
func TestDeepGoodbyeKeepsTheVerdict(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: "+pop3AGreeting,
		"C: CAPA",
		"S: +OK", "S: SASL PLAIN", "S: .",
		"C: AUTH PLAIN",
		"S: + ",
		"C: "+testPlainBlob,
		"S: -ERR [AUTH] Authentication failed.",
		"C: QUIT",
		"S: +OK Logging out",
	))
	res := deep(t, newTarget(t, "pop3", srv, TLSImplicit))
	srv.wait()
	expectFail(t, res, ReasonAuth, "POP3 AUTH PLAIN failed: -ERR [AUTH] Authentication failed.")
	if res.Err.Error() != "POP3 AUTH PLAIN failed: -ERR [AUTH] Authentication failed." {
		t.Errorf("error = %q", res.Err)
	}
	if res.FailedPhase != PhaseDeep {
		t.Errorf("failed phase = %q", res.FailedPhase)
	}
	expectStepNames(t, res, "connect", "tls", "greeting", "capabilities", "auth", "logout")
}

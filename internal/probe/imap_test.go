package probe

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Lines from the Dovecot transcripts (docs: shared/spec/mail-server-transcripts.md).
const (
	imapAGreeting     = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot harness-a ready."
	imapATLSGreeting  = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot harness-a ready."
	imapATLSCaps      = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN"
	imapDGreeting     = "* OK [CAPABILITY IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE STARTTLS LOGINDISABLED AUTH=LOGIN] Dovecot harness-d ready."
	imapCForeign      = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot harness-c ready."
	imapPostLoginCaps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY"
	imapPreLoginOK    = " OK Pre-login capabilities listed, post-login capabilities have more."
	imapUserB64       = "aGVhbHRoY2hlY2stdXNlcg=="
	imapPassB64       = "aGVhbHRoY2hlY2stcGFzc3dvcmQ="
)

func TestIMAPImplicitTLSPlainIR(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: "+imapATLSGreeting,
		"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
		"S: a1 OK ["+"CAPABILITY "+imapPostLoginCaps+"] Logged in",
		"C: a2 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSImplicit))
	expectOK(t, res)
	if res.Mechanism != "PLAIN-IR" {
		t.Errorf("mechanism = %q", res.Mechanism)
	}
	if res.CertNotAfter.IsZero() {
		t.Error("CertNotAfter not set")
	}
	expectStepNames(t, res, "connect", "tls", "greeting", "auth", "logout")
	if !slices.Contains(res.Transcript, "C: a1 AUTHENTICATE PLAIN <redacted>") {
		t.Errorf("transcript = %q", res.Transcript)
	}
}

// STARTTLS on a Dovecot C port seen from a foreign address: no AUTH= and
// LOGINDISABLED before TLS, PLAIN with SASL-IR after it. The probe must use
// the capabilities read after the handshake, and Dovecot's untagged
// CAPABILITY before the tagged OK must be skipped.
func TestIMAPStartTLSCapabilitiesChange(t *testing.T) {
	srv := startFake(t, script(
		"S: "+imapCForeign,
		"C: a1 STARTTLS",
		"S: a1 OK Begin TLS negotiation now.",
		"-- TLS",
		"C: a2 CAPABILITY",
		"S: "+imapATLSCaps,
		"S: a2"+imapPreLoginOK,
		"C: a3 AUTHENTICATE PLAIN "+testPlainBlob,
		"S: * CAPABILITY "+imapPostLoginCaps,
		"S: a3 OK Logged in",
		"C: a4 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSStartTLS))
	expectOK(t, res)
	expectStepNames(t, res, "connect", "greeting", "starttls", "capabilities", "auth", "logout")
	if res.Mechanism != "PLAIN-IR" || res.CertNotAfter.IsZero() {
		t.Errorf("mechanism = %q, cert expiry %v", res.Mechanism, res.CertNotAfter)
	}
}

// nginx's mail proxy: no capabilities in the greeting, no SASL-IR, so
// CAPABILITY is asked and PLAIN uses the empty "+ " continuation.
func TestIMAPPlainClassicWithoutSASLIR(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: * OK IMAP4 ready",
		"C: a1 CAPABILITY",
		"S: * CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN AUTH=LOGIN",
		"S: a1 OK completed",
		"C: a2 AUTHENTICATE PLAIN",
		"S: + ",
		"C: "+testPlainBlob,
		"S: a2 OK [CAPABILITY "+imapPostLoginCaps+"] Logged in",
		"C: a3 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSImplicit))
	expectOK(t, res)
	if res.Mechanism != "PLAIN" {
		t.Errorf("mechanism = %q", res.Mechanism)
	}
	expectStepNames(t, res, "connect", "tls", "greeting", "capabilities", "auth", "logout")
}

// Dovecot D offers only LOGIN and no SASL-IR: LOGIN classic after STARTTLS.
func TestIMAPDovecotDLoginOnly(t *testing.T) {
	srv := startFake(t, script(
		"S: "+imapDGreeting,
		"C: a1 STARTTLS",
		"S: a1 OK Begin TLS negotiation now.",
		"-- TLS",
		"C: a2 CAPABILITY",
		"S: * CAPABILITY IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE AUTH=LOGIN",
		"S: a2"+imapPreLoginOK,
		"C: a3 AUTHENTICATE LOGIN",
		"S: + VXNlcm5hbWU6",
		"C: "+imapUserB64,
		"S: + UGFzc3dvcmQ6",
		"C: "+imapPassB64,
		"S: * CAPABILITY IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE",
		"S: a3 OK Logged in",
		"C: a4 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSStartTLS))
	expectOK(t, res)
	if res.Mechanism != "LOGIN" {
		t.Errorf("mechanism = %q", res.Mechanism)
	}
	want := []string{"C: a3 AUTHENTICATE LOGIN", "S: + VXNlcm5hbWU6", "C: <redacted>", "S: + UGFzc3dvcmQ6", "C: <redacted>"}
	if i := slices.Index(res.Transcript, want[0]); i < 0 || !slices.Equal(res.Transcript[i:i+len(want)], want) {
		t.Errorf("transcript = %q", res.Transcript)
	}
}

func TestIMAPLoginWithInitialResponse(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=LOGIN] ready",
		"C: a1 AUTHENTICATE LOGIN "+imapUserB64,
		"S: + UGFzc3dvcmQ6",
		"C: "+imapPassB64,
		"S: A1 OK Logged in", // tags compare case-insensitively
		"C: a2 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSImplicit))
	expectOK(t, res)
	if res.Mechanism != "LOGIN-IR" {
		t.Errorf("mechanism = %q", res.Mechanism)
	}
}

func TestIMAPWrongPassword(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: "+imapATLSGreeting,
		"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
		"S: a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
		"C: a2 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSImplicit))
	expectFail(t, res, ReasonAuth, "IMAP AUTHENTICATE PLAIN failed: a1 NO [AUTHENTICATIONFAILED] Authentication failed.")
}

func TestIMAPRefusalsAreClassified(t *testing.T) {
	cases := []struct {
		reply  string
		reason Reason
	}{
		{"a1 NO [PRIVACYREQUIRED] Plaintext authentication disabled.", ReasonConfig},
		{"a1 NO [UNAVAILABLE] Temporary authentication failure.", ReasonProtocol},
		{"a1 BAD Error in IMAP command received by server.", ReasonProtocol},
		{"a1 NO Invalid login or password", ReasonAuth},
	}
	for _, tc := range cases {
		t.Run(tc.reply, func(t *testing.T) {
			srv := startFake(t, script(
				"-- TLS",
				"S: "+imapATLSGreeting,
				"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
				"S: "+tc.reply,
				"C: a2 LOGOUT",
			))
			res := deep(t, newTarget(t, "imap", srv, TLSImplicit))
			expectFail(t, res, tc.reason, tc.reply)
		})
	}
}

func TestIMAPMechanismNotAdvertised(t *testing.T) {
	srv := startFake(t, script(
		"S: "+imapDGreeting,
		"C: a1 STARTTLS",
		"S: a1 OK Begin TLS negotiation now.",
		"-- TLS",
		"C: a2 CAPABILITY",
		"S: * CAPABILITY IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE AUTH=LOGIN",
		"S: a2"+imapPreLoginOK,
		"C: a3 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSStartTLS)
	tg.Mechanism = "PLAIN"
	res := deep(t, tg)
	expectFail(t, res, ReasonConfig, "backend health-check auth mechanism unavailable: protocol=imap host=127.0.0.1")
}

// Credentials on a plain connection: nothing but LOGOUT follows the greeting.
func TestIMAPPlaintextRefused(t *testing.T) {
	srv := startFake(t, script(
		"S: "+imapAGreeting,
		"C: a1 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSPlain))
	expectFail(t, res, ReasonConfig, "refusing to send credentials")
	srv.wait()
	if got := srv.received(); !slices.Equal(got, []string{"a1 LOGOUT"}) {
		t.Errorf("server received %q", got)
	}
}

func TestIMAPAllowPlaintextOnLoopback(t *testing.T) {
	srv := startFake(t, script(
		"S: "+imapAGreeting,
		"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
		"S: a1 OK Logged in",
		"C: a2 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.AllowPlaintextAuth = true
	expectOK(t, deep(t, tg))
}

func TestIMAPLoginDisabledWithoutTLS(t *testing.T) {
	srv := startFake(t, script(
		"S: "+imapDGreeting,
		"C: a1 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.AllowPlaintextAuth = true
	expectFail(t, deep(t, tg), ReasonConfig, "LOGINDISABLED")
}

func TestIMAPWithoutCredentialsStopsAfterCapabilities(t *testing.T) {
	srv := startFake(t, script(
		"S: * OK ready",
		"C: a1 CAPABILITY",
		"S: * CAPABILITY IMAP4rev1 AUTH=PLAIN",
		"S: a1 OK done",
		"C: a2 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.Username, tg.Password = "", ""
	res := deep(t, tg)
	expectOK(t, res)
	if res.Mechanism != "" {
		t.Errorf("mechanism = %q", res.Mechanism)
	}
	expectStepNames(t, res, "connect", "greeting", "capabilities", "logout")
}

func TestIMAPGreetingFailures(t *testing.T) {
	// A server that said BYE closes the connection: no LOGOUT follows.
	cases := []struct{ greeting, contains, goodbye string }{
		{"* PREAUTH [CAPABILITY IMAP4rev1] Logged in as someone", "PREAUTH", "C: a1 LOGOUT"},
		{"* BYE Too many connections", "refused the connection: * BYE Too many connections", ""},
		{"+OK Dovecot ready.", "IMAP greeting failed, response: +OK Dovecot ready.", "C: a1 LOGOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.greeting, func(t *testing.T) {
			steps := []string{"S: " + tc.greeting}
			if tc.goodbye != "" {
				steps = append(steps, tc.goodbye)
			}
			srv := startFake(t, script(steps...))
			expectFail(t, deep(t, newTarget(t, "imap", srv, TLSPlain)), ReasonProtocol, tc.contains)
		})
	}
}

func TestIMAPStartTLSProblems(t *testing.T) {
	t.Run("not advertised", func(t *testing.T) {
		srv := startFake(t, script("S: "+imapATLSGreeting, "C: a1 LOGOUT"))
		expectFail(t, deep(t, newTarget(t, "imap", srv, TLSStartTLS)), ReasonProtocol, "STARTTLS capability not advertised")
	})
	t.Run("refused", func(t *testing.T) {
		srv := startFake(t, script("S: "+imapAGreeting, "C: a1 STARTTLS", "S: a1 NO not now", "C: a2 LOGOUT"))
		expectFail(t, deep(t, newTarget(t, "imap", srv, TLSStartTLS)), ReasonProtocol, "IMAP STARTTLS failed: a1 NO not now")
	})
	t.Run("data injected before the handshake", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) {
			c.send(imapAGreeting)
			if c.expect("a1 STARTTLS") {
				_, _ = c.conn.Write([]byte("a1 OK Begin TLS negotiation now.\r\n* injected\r\n"))
			}
			drainQuietly(c)
		})
		expectFail(t, deep(t, newTarget(t, "imap", srv, TLSStartTLS)), ReasonProtocol, "before the TLS handshake")
	})
}

func TestIMAPUnexpectedContinuation(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: "+imapATLSGreeting,
		"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
		"S: + ",
		// No LOGOUT: the server waits for a SASL response (deep_goodbye_sasl_test.go).
	))
	expectFail(t, deep(t, newTarget(t, "imap", srv, TLSImplicit)), ReasonProtocol, "unexpected continuation")
}

// Literals in responses are skipped within a bound, whatever they contain.
func TestIMAPLiteralsAreSkipped(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		c.send("* OK ready")
		if !c.expect("a1 CAPABILITY") {
			return
		}
		_, _ = c.conn.Write([]byte("* ID (\"name\" {9}\r\na1 OK \r\n)\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\na1 OK done\r\n"))
		if c.expect("a2 AUTHENTICATE PLAIN " + testPlainBlob) {
			c.send("a2 OK Logged in")
			c.expect("a3 LOGOUT")
		}
		c.drain()
	})
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.AllowPlaintextAuth = true
	res := deep(t, tg)
	expectOK(t, res)
	if !slices.Contains(res.Transcript, "S: <literal of 9 bytes>") {
		t.Errorf("transcript = %q", res.Transcript)
	}
}

func TestParseIMAPLine(t *testing.T) {
	cases := []struct {
		line string
		want imapResponse
	}{
		{"* OK [CAPABILITY IMAP4rev1] hi", imapResponse{Tag: "*", Status: "OK", Text: "[CAPABILITY IMAP4rev1] hi"}},
		{"+ ", imapResponse{Tag: "+", Text: ""}},
		{"+ VXNlcm5hbWU6", imapResponse{Tag: "+", Text: "VXNlcm5hbWU6"}},
		{"A7 ok done", imapResponse{Tag: "A7", Status: "OK", Text: "done"}},
		{"", imapResponse{}},
	}
	for _, tc := range cases {
		tc.want.Line = tc.line
		if got := parseIMAPLine(tc.line); got != tc.want {
			t.Errorf("parseIMAPLine(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
	for line, want := range map[string]int{"x {5}": 5, "{0}": 0, "x {12+}": 12, "x {}": -1, "x {1a}": -1, "x 5}": -1, "x {99999999999}": -1} {
		n, ok := literalSize(line)
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("literalSize(%q) = %d, %v; want %d", line, n, ok, want)
		}
	}
}

// FuzzIMAPResponse feeds arbitrary server output to the IMAP reader: it
// must never panic, never read more than the input, and always stop.
func FuzzIMAPResponse(f *testing.F) {
	for _, seed := range []string{
		imapAGreeting + "\r\n",
		imapDGreeting + "\r\n" + "a1 OK done\r\n",
		"* CAPABILITY " + imapPostLoginCaps + "\r\na4 OK Logged in\r\n",
		"+ \r\n+ VXNlcm5hbWU6\r\n",
		"* ID {5}\r\nhello\r\na1 OK\r\n",
		"* X {3+}\r\nab",
		"* BYE Logging out\r\n",
		"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &session{r: bufio.NewReader(bytes.NewReader(data)), target: &Target{}, res: &Result{}, record: true}
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("reader did not stop after %d responses on %d bytes", i, len(data))
			}
			r, err := s.readIMAP()
			if err != nil {
				break
			}
			var caps imapCaps
			caps.add(r.Text)
			capsFromGreeting(r.Text)
			responseCode(r.Text)
			if strings.ContainsAny(r.Tag, " \n") {
				t.Fatalf("tag %q contains separators", r.Tag)
			}
		}
	})
}

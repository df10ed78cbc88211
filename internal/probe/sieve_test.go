package probe

import (
	"bufio"
	"bytes"
	"slices"
	"testing"
	"time"
)

// Pigeonhole's capability blocks, from the transcripts.
var (
	sieveCapsA = []string{
		`"IMPLEMENTATION" "Dovecot (Debian) Pigeonhole"`,
		`"SIEVE" "fileinto reject envelope encoded-character vacation subaddress comparator-i;ascii-numeric relational regex imap4flags copy include variables body enotify environment mailbox date index ihave duplicate mime foreverypart extracttext"`,
		`"NOTIFY" "mailto"`,
		`"SASL" "PLAIN LOGIN"`,
	}
	sieveGreetingA = serverLines(append(append(sieveCapsA, `"STARTTLS"`, `"VERSION" "1.0"`), `OK "Dovecot harness-a ready."`)...)
	sieveAfterTLSA = serverLines(append(append(sieveCapsA, `"VERSION" "1.0"`), `OK "TLS negotiation successful."`)...)
	sieveGreetingD = serverLines(
		`"IMPLEMENTATION" "Dovecot (Debian) Pigeonhole"`, `"NOTIFY" "mailto"`, `"SASL" "LOGIN"`, `"STARTTLS"`,
		`"VERSION" "1.0"`, `OK "Dovecot harness-d ready."`)
	sieveAfterTLSD = serverLines(
		`"IMPLEMENTATION" "Dovecot (Debian) Pigeonhole"`, `"NOTIFY" "mailto"`, `"SASL" "LOGIN"`,
		`"VERSION" "1.0"`, `OK "TLS negotiation successful."`)
	sieveStartTLS = []string{"C: STARTTLS", `S: OK "Begin TLS negotiation now."`, "-- TLS"}
)

func serverLines(lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "S: " + l
	}
	return out
}

func sieveScript(parts ...[]string) func(*fakeConn) {
	var steps []string
	for _, p := range parts {
		steps = append(steps, p...)
	}
	return script(steps...)
}

// Pigeonhole never advertises SASL-IR, so PLAIN goes the continuation way:
// the server's empty challenge is the quoted string "".
func TestSieveDovecotAPlainContinuation(t *testing.T) {
	srv := startFake(t, sieveScript(sieveGreetingA, sieveStartTLS, sieveAfterTLSA, []string{
		`C: AUTHENTICATE "PLAIN"`,
		`S: ""`,
		`C: "` + testPlainBlob + `"`,
		`S: OK "Logged in."`,
		`C: LOGOUT`,
	}))
	res := deep(t, newTarget(t, "sieve", srv, TLSStartTLS))
	expectOK(t, res)
	if res.Mechanism != "PLAIN" || res.CertNotAfter.IsZero() {
		t.Errorf("mechanism %q, cert expiry %v", res.Mechanism, res.CertNotAfter)
	}
	expectStepNames(t, res, "connect", "greeting", "starttls", "capabilities", "auth", "logout")
	if !slices.Contains(res.Transcript, `C: "<redacted>"`) {
		t.Errorf("transcript = %q", res.Transcript)
	}
}

func TestSieveDovecotALoginClassic(t *testing.T) {
	srv := startFake(t, sieveScript(sieveGreetingA, sieveStartTLS, sieveAfterTLSA, []string{
		`C: AUTHENTICATE "LOGIN"`,
		`S: "VXNlcm5hbWU6"`,
		`C: "` + imapUserB64 + `"`,
		`S: "UGFzc3dvcmQ6"`,
		`C: "` + imapPassB64 + `"`,
		`S: OK "Logged in."`,
		`C: LOGOUT`,
	}))
	tg := newTarget(t, "sieve", srv, TLSStartTLS)
	tg.Mechanism = "LOGIN"
	res := deep(t, tg)
	expectOK(t, res)
	if res.Mechanism != "LOGIN" {
		t.Errorf("mechanism %q", res.Mechanism)
	}
}

func TestSieveDovecotDLoginOnly(t *testing.T) {
	srv := startFake(t, sieveScript(sieveGreetingD, sieveStartTLS, sieveAfterTLSD, []string{
		`C: AUTHENTICATE "LOGIN"`,
		`S: {12}`,
		`S: VXNlcm5hbWU6`, // a literal challenge works as well as a quoted one
		`C: "` + imapUserB64 + `"`,
		`S: "UGFzc3dvcmQ6"`,
		`C: "` + imapPassB64 + `"`,
		`S: OK "Logged in."`,
		`C: LOGOUT`,
	}))
	expectOK(t, deep(t, newTarget(t, "sieve", srv, TLSStartTLS)))
}

func TestSieveWrongPassword(t *testing.T) {
	srv := startFake(t, sieveScript(sieveGreetingA, sieveStartTLS, sieveAfterTLSA, []string{
		`C: AUTHENTICATE "PLAIN"`,
		`S: ""`,
		`C: "` + testPlainBlob + `"`,
		`S: NO "Authentication failed."`,
		`C: LOGOUT`,
	}))
	res := deep(t, newTarget(t, "sieve", srv, TLSStartTLS))
	expectFail(t, res, ReasonAuth, `sieve AUTHENTICATE PLAIN failed: NO "Authentication failed."`)
}

func TestSieveInitialResponseWhenAdvertised(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		`S: "SASL" "PLAIN"`,
		`S: "SASL-IR"`,
		`S: OK "ready"`,
		`C: AUTHENTICATE "PLAIN" "`+testPlainBlob+`"`,
		`S: OK "Logged in."`,
		`C: LOGOUT`,
	))
	res := deep(t, newTarget(t, "sieve", srv, TLSImplicit))
	expectOK(t, res)
	if res.Mechanism != "PLAIN-IR" {
		t.Errorf("mechanism %q", res.Mechanism)
	}
}

func TestSieveUnexpectedChallenge(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		`S: "SASL" "PLAIN"`,
		`S: "SASL-IR"`,
		`S: OK "ready"`,
		`C: AUTHENTICATE "PLAIN" "`+testPlainBlob+`"`,
		`S: ""`,
		// No LOGOUT: the server waits for a SASL response (deep_goodbye_sasl_test.go).
	))
	expectFail(t, deep(t, newTarget(t, "sieve", srv, TLSImplicit)), ReasonProtocol, "unexpected challenge")
}

// A server that does not volunteer its capabilities after TLS is asked.
func TestSieveAsksForCapabilitiesWhenNoneCome(t *testing.T) {
	srv := startFake(t, sieveScript(sieveGreetingA, sieveStartTLS, []string{`C: CAPABILITY`}, sieveAfterTLSA, []string{
		`C: AUTHENTICATE "PLAIN"`,
		`S: {0+}`,
		`S: `,
		`C: "` + testPlainBlob + `"`,
		`S: OK "Logged in."`,
		`C: LOGOUT`,
	}))
	tg := newTarget(t, "sieve", srv, TLSStartTLS)
	// tls_timeout is how long the probe waits for volunteered capabilities
	// before it asks, and it bounds the STARTTLS handshake as well: 2 s
	// (was 200 ms, which a loaded machine spent on the handshake under
	// -race, so the check failed with a timeout before it could ask).
	tg.TLSTimeout = 2 * time.Second
	expectOK(t, deep(t, tg))
}

func TestSieveStartTLSProblems(t *testing.T) {
	t.Run("not advertised", func(t *testing.T) {
		srv := startFake(t, script(`S: "SASL" "PLAIN"`, `S: OK "ready"`, "C: LOGOUT"))
		expectFail(t, deep(t, newTarget(t, "sieve", srv, TLSStartTLS)), ReasonProtocol, "sieve STARTTLS capability not advertised")
	})
	t.Run("refused", func(t *testing.T) {
		srv := startFake(t, sieveScript(sieveGreetingA, []string{"C: STARTTLS", `S: NO "not now"`, "C: LOGOUT"}))
		expectFail(t, deep(t, newTarget(t, "sieve", srv, TLSStartTLS)), ReasonProtocol, `STARTTLS command failed: NO "not now"`)
	})
	t.Run("greeting BYE", func(t *testing.T) {
		// BYE closes the connection: no LOGOUT follows.
		srv := startFake(t, script(`S: BYE "Too many connections"`))
		expectFail(t, deep(t, newTarget(t, "sieve", srv, TLSStartTLS)), ReasonProtocol, `ManageSieve greeting failed: BYE "Too many connections"`)
	})
}

func TestSievePlaintextRefusedAndNoCredentials(t *testing.T) {
	t.Run("plaintext refused", func(t *testing.T) {
		srv := startFake(t, sieveScript(sieveGreetingA, []string{"C: LOGOUT"}))
		expectFail(t, deep(t, newTarget(t, "sieve", srv, TLSPlain)), ReasonConfig, "refusing to send credentials")
	})
	t.Run("no credentials", func(t *testing.T) {
		srv := startFake(t, sieveScript(sieveGreetingA, sieveStartTLS, sieveAfterTLSA, []string{"C: LOGOUT"}))
		tg := newTarget(t, "sieve", srv, TLSStartTLS)
		tg.Username, tg.Password = "", ""
		res := deep(t, tg)
		expectOK(t, res)
		expectStepNames(t, res, "connect", "greeting", "starttls", "capabilities", "logout")
	})
	t.Run("empty SASL list (Dovecot C, untrusted source)", func(t *testing.T) {
		srv := startFake(t, script("-- TLS", `S: "SASL" ""`, `S: OK "ready"`, "C: LOGOUT"))
		expectFail(t, deep(t, newTarget(t, "sieve", srv, TLSImplicit)), ReasonConfig, "configured=auto advertised=")
	})
}

func TestTokenizeSieve(t *testing.T) {
	cases := []struct {
		line    string
		tokens  []sieveToken
		literal int
		bad     bool
	}{
		{`"SASL" "PLAIN LOGIN"`, []sieveToken{{true, "SASL"}, {true, "PLAIN LOGIN"}}, -1, false},
		{`OK "Logged in."`, []sieveToken{{false, "OK"}, {true, "Logged in."}}, -1, false},
		{`NO (TRYLATER) "a \"b\" \\c"`, []sieveToken{{false, "NO"}, {false, "(TRYLATER)"}, {true, `a "b" \c`}}, -1, false},
		{`""`, []sieveToken{{true, ""}}, -1, false},
		{`"SASL" {11}`, []sieveToken{{true, "SASL"}}, 11, false},
		{`{0+}`, nil, 0, false},
		{`"open`, nil, -1, true},
		{`"x\`, nil, -1, true},
		{`{5} x`, nil, -1, true},
	}
	for _, tc := range cases {
		tokens, literal, err := tokenizeSieve(tc.line)
		if (err != nil) != tc.bad || literal != tc.literal || !slices.Equal(tokens, tc.tokens) {
			t.Errorf("tokenizeSieve(%q) = %v, %d, %v", tc.line, tokens, literal, err)
		}
	}
}

// FuzzSieveResponse feeds arbitrary server output to the ManageSieve reader.
func FuzzSieveResponse(f *testing.F) {
	var greeting bytes.Buffer
	for _, l := range sieveGreetingA {
		greeting.WriteString(l[3:] + "\r\n")
	}
	for _, seed := range []string{
		greeting.String(),
		`""` + "\r\n" + `OK "Logged in."` + "\r\n",
		`"SASL" {11}` + "\r\nPLAIN LOGIN\r\nOK\r\n",
		"{0+}\r\n\r\nNO \"x\"\r\n",
		`NO (TRYLATER) "a \"b\""` + "\r\n",
		`"unterminated` + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &session{r: bufio.NewReader(bytes.NewReader(data)), target: &Target{}, res: &Result{}, record: true}
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("reader did not stop after %d responses on %d bytes", i, len(data))
			}
			resp, err := s.readSieveResponse()
			if err != nil {
				break
			}
			parseSieveCaps(resp.data)
			if resp.status != "OK" && resp.status != "NO" && resp.status != "BYE" {
				t.Fatalf("status %q", resp.status)
			}
		}
	})
}

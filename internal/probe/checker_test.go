package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// deep runs a deep check with a transcript and asserts that no secret leaked.
func deep(t *testing.T, tg *Target) Result {
	t.Helper()
	res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{Transcript: true})
	assertNoLeak(t, res)
	return res
}

func expectOK(t *testing.T, res Result) {
	t.Helper()
	if !res.OK || res.Err != nil || res.Reason != ReasonNone {
		t.Fatalf("check failed: reason=%q err=%v\ntranscript:\n%s", res.Reason, res.Err, strings.Join(res.Transcript, "\n"))
	}
}

func expectFail(t *testing.T, res Result, reason Reason, errContains string) {
	t.Helper()
	if res.OK || res.Err == nil {
		t.Fatalf("check passed, want reason %q\ntranscript:\n%s", reason, strings.Join(res.Transcript, "\n"))
	}
	if res.Reason != reason {
		t.Errorf("reason = %q, want %q (err: %v)", res.Reason, reason, res.Err)
	}
	if !strings.Contains(res.Err.Error(), errContains) {
		t.Errorf("error %q does not contain %q", res.Err, errContains)
	}
}

func stepNames(res Result) []string {
	var names []string
	for _, st := range res.Steps {
		names = append(names, st.Name)
	}
	return names
}

func expectStepNames(t *testing.T, res Result, want ...string) {
	t.Helper()
	if got := stepNames(res); !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}
}

// silentServer accepts and reads until the client goes away, never answering.
func silentServer(t *testing.T) *fakeServer {
	return startFake(t, func(c *fakeConn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.conn.Read(buf); err != nil {
				return
			}
		}
	})
}

func TestCheckConnectPhaseOnlyByDefault(t *testing.T) {
	srv := silentServer(t)
	tg := newTarget(t, "imap", srv, TLSPlain)
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{})
	expectOK(t, res)
	if res.Phase != PhaseConnect {
		t.Errorf("phase = %q", res.Phase)
	}
	expectStepNames(t, res, "connect")

	// A deep request for a target without deep_check runs the connect phase only.
	tg.DeepCheck = false
	res = (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{})
	expectOK(t, res)
	if res.Phase != PhaseConnect {
		t.Errorf("phase = %q, want connect", res.Phase)
	}
}

func TestCheckUnknownProtocol(t *testing.T) {
	res := (&Prober{}).Check(context.Background(), &Target{Protocol: "gopher", Host: "127.0.0.1", Port: 1}, PhaseConnect, Options{})
	expectFail(t, res, ReasonConfig, `no health check for protocol "gopher"`)
}

func TestCheckContextCancelClosesConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := startFake(t, func(c *fakeConn) {
		cancel() // the greeting never comes; the caller gives up instead
		_, _ = c.r.ReadString('\n')
	})
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.DeepTimeout = time.Hour
	res := (&Prober{}).Check(ctx, tg, PhaseDeep, Options{})
	expectFail(t, res, ReasonTimeout, "check cancelled")
	if !errors.Is(res.Err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled inside", res.Err)
	}
}

// The hostile servers below must each end within deep_timeout with a clear
// reason; TestMain's goleak proves nothing is left running.
func TestCheckHostileServers(t *testing.T) {
	tenMB := strings.Repeat("a", 10<<20)
	cases := []struct {
		name     string
		protocol string
		handler  func(c *fakeConn)
		reason   Reason
		contains string
	}{
		{"imap greeting never comes", "imap", func(c *fakeConn) { drainQuietly(c) }, ReasonTimeout, "greeting"},
		{"sieve greeting never comes", "sieve", func(c *fakeConn) { drainQuietly(c) }, ReasonTimeout, "greeting"},
		{"imap line never ends", "imap", func(c *fakeConn) {
			_, _ = c.conn.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN"))
			drainQuietly(c)
		}, ReasonTimeout, "greeting"},
		{"imap 10 MB line", "imap", func(c *fakeConn) {
			_, _ = c.conn.Write([]byte(tenMB))
		}, ReasonProtocol, "longer than"},
		{"sieve 10 MB line", "sieve", func(c *fakeConn) {
			_, _ = c.conn.Write([]byte(`"` + tenMB))
		}, ReasonProtocol, "longer than"},
		{"imap garbage", "imap", func(c *fakeConn) {
			_, _ = c.conn.Write([]byte("\x00\xff\x16\x03\x01garbage\r\n"))
			drainQuietly(c)
		}, ReasonProtocol, "IMAP greeting failed"},
		{"sieve garbage", "sieve", func(c *fakeConn) {
			_, _ = c.conn.Write([]byte("\x00\xff\x16\x03\x01garbage\r\n"))
			drainQuietly(c)
		}, ReasonProtocol, "unexpected line"},
		{"imap close in the middle of SASL", "imap", func(c *fakeConn) {
			c.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready")
			if c.expect("a1 AUTHENTICATE PLAIN") {
				c.send("+ ")
				_, _ = c.readLine()
			}
		}, ReasonProtocol, "connection closed by server"},
		{"sieve close in the middle of SASL", "sieve", func(c *fakeConn) {
			c.send(`"SASL" "PLAIN"`)
			c.send(`OK "ready"`)
			if c.expect(`AUTHENTICATE "PLAIN"`) {
				c.send(`""`)
				_, _ = c.readLine()
			}
		}, ReasonProtocol, "connection closed by server"},
		{"imap huge literal", "imap", func(c *fakeConn) {
			c.send("* OK {99999999}")
			drainQuietly(c)
		}, ReasonProtocol, "literal of 99999999 bytes"},
		{"imap endless untagged lines", "imap", func(c *fakeConn) {
			c.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready")
			for range maxResponseLines + 1 {
				c.send("* 1 EXISTS")
			}
			drainQuietly(c)
		}, ReasonProtocol, "more than 1000 lines"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, tc.handler)
			tg := newTarget(t, tc.protocol, srv, TLSPlain)
			tg.AllowPlaintextAuth = true
			tg.DeepTimeout = hostileDeepTimeout(tc.reason)
			res := deep(t, tg)
			expectFail(t, res, tc.reason, tc.contains)
		})
	}
}

// hostileDeepTimeout is deep_timeout for a hostile-server case: short
// where the case wants the timeout, long where it wants another failure.
// With 300 ms for all, a loaded machine ran out of time reading the 1001
// lines or 128 KB a protocol case needs, and reported a timeout; a check
// that hung instead of failing still shows as the wrong reason.
func hostileDeepTimeout(want Reason) time.Duration {
	if want == ReasonTimeout {
		return 300 * time.Millisecond
	}
	return 10 * time.Second
}

func drainQuietly(c *fakeConn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.conn.Read(buf); err != nil {
			return
		}
	}
}

func TestCheckLogsMechanismUnavailable(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: * OK [CAPABILITY IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE AUTH=LOGIN] Dovecot harness-d ready.",
		"C: a1 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSImplicit)
	tg.Mechanism = "PLAIN"
	var logs bytes.Buffer
	p := &Prober{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	res := p.Check(context.Background(), tg, PhaseDeep, Options{Transcript: true})
	assertNoLeak(t, res)
	expectFail(t, res, ReasonConfig, "configured=PLAIN advertised=LOGIN")
	var me *MechanismUnavailableError
	if !errors.As(res.Err, &me) {
		t.Fatalf("err %T is not a MechanismUnavailableError", res.Err)
	}
	want := MechanismUnavailableError{Protocol: "imap", Host: "127.0.0.1", Port: srv.port(), Configured: "PLAIN",
		Advertised: []string{"LOGIN"}, Source: "IMAP CAPABILITY", SASLIR: false}
	if me.Protocol != want.Protocol || me.Host != want.Host || me.Port != want.Port || me.Configured != want.Configured ||
		!slices.Equal(me.Advertised, want.Advertised) || me.Source != want.Source || me.SASLIR != want.SASLIR {
		t.Errorf("error fields = %+v, want %+v", *me, want)
	}

	var entry map[string]any
	if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	wantLog := map[string]any{
		"level": "ERROR", "msg": "Backend health-check auth mechanism unavailable",
		"protocol": "imap", "host": "127.0.0.1", "port": float64(srv.port()),
		"configured_auth_mechanism": "PLAIN", "advertised_auth_mechanisms": "LOGIN",
		"auth_capability_source": "IMAP CAPABILITY", "sasl_ir": false, "health_check_phase": "deep",
	}
	for k, v := range wantLog {
		if entry[k] != v {
			t.Errorf("log field %s = %v, want %v", k, entry[k], v)
		}
	}
	srv.wait()
	for _, line := range srv.received() {
		if strings.Contains(line, "AUTHENTICATE") {
			t.Errorf("server received %q", line)
		}
	}
}

func TestCheckTranscriptRedactsEchoedSecrets(t *testing.T) {
	srv := startFake(t, script(
		"-- TLS",
		"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready",
		"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
		"S: a1 NO [AUTHENTICATIONFAILED] you sent "+testPlainBlob+" with password "+testPassword,
		"C: a2 LOGOUT",
	))
	res := deep(t, newTarget(t, "imap", srv, TLSImplicit))
	expectFail(t, res, ReasonAuth, "you sent <redacted> with password <redacted>")
	if !slices.Contains(res.Transcript, "C: a1 AUTHENTICATE PLAIN <redacted>") {
		t.Errorf("transcript = %q", res.Transcript)
	}
}

package probe

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

const tcpSecret = "s3cret-redis-pw"

// tcpTarget is a tcp deep-check target for srv running steps.
func tcpTarget(t *testing.T, srv *fakeServer, mode TLSMode, steps ...TCPStep) *Target {
	t.Helper()
	tg := newTarget(t, "tcp", srv, mode)
	tg.Username, tg.Password, tg.Mechanism = "", "", ""
	tg.TCPSteps = steps
	tg.AllowPlaintextAuth = true // loopback: the secret steps may go in clear text
	return tg
}

func send(s string) TCPStep   { return TCPStep{Send: []byte(s)} }
func secret(s string) TCPStep { return TCPStep{Send: []byte(s), Secret: true} }
func expect(s string) TCPStep { return TCPStep{Expect: []byte(s), MaxBytes: 4096} }
func expectRe(re string) TCPStep {
	return TCPStep{Regexp: regexp.MustCompile(re), MaxBytes: 4096}
}

// redisSteps log in with a secret password split off its command, so a
// server echoing it is scrubbed too, then PING and QUIT.
func redisSteps() []TCPStep {
	return []TCPStep{
		send("AUTH "), secret(tcpSecret), send("\r\n"),
		expect("+OK"),
		send("PING\r\n"), expectRe(`^\+PONG$`),
		send("QUIT\r\n"), expect("+OK"),
	}
}

// exchanged is the transcript without the connect phase's notes.
func exchanged(res Result) []string {
	var out []string
	for _, line := range res.Transcript {
		if !strings.HasPrefix(line, "-- connect ") {
			out = append(out, line)
		}
	}
	return out
}

// assertNoTCPSecret fails when the secret appears in the transcript or error.
func assertNoTCPSecret(t *testing.T, res Result) {
	t.Helper()
	texts := append([]string(nil), res.Transcript...)
	if res.Err != nil {
		texts = append(texts, res.Err.Error())
	}
	for _, text := range texts {
		if strings.Contains(text, tcpSecret) {
			t.Errorf("secret leaked in %q", text)
		}
	}
}

func TestTCPStepsPass(t *testing.T) {
	srv := startFake(t, script(
		"C: AUTH "+tcpSecret, "S: +OK",
		"C: PING", "S: +PONG",
		"C: QUIT", "S: +OK",
	))
	res := deep(t, tcpTarget(t, srv, TLSPlain, redisSteps()...))
	srv.wait()
	expectOK(t, res)
	assertNoTCPSecret(t, res)
	want := []string{
		"C: AUTH ", "C: " + redacted, `C: \r\n`, "S: +OK",
		`C: PING\r\n`, "S: +PONG",
		`C: QUIT\r\n`, "S: +OK",
	}
	if got := exchanged(res); !slices.Equal(got, want) {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	expectStepNames(t, res, "connect", "send", "send", "send", "expect", "send", "expect", "send", "expect")
}

func TestTCPStepsImplicitTLS(t *testing.T) {
	srv := startFake(t, script("-- TLS", "S: * OK banner", "C: PING", "S: PONG"))
	res := deep(t, tcpTarget(t, srv, TLSImplicit, expect("OK"), send("PING\r\n"), expect("PONG")))
	srv.wait()
	expectOK(t, res)
	if res.TLSVersion == "" {
		t.Errorf("no TLS version recorded")
	}
}

func TestTCPConnectOnlySendsNothing(t *testing.T) {
	srv := startFake(t, script())
	tg := tcpTarget(t, srv, TLSPlain, send("PING\r\n"), expect("PONG"))
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{Transcript: true})
	srv.wait()
	expectOK(t, res)
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server read %q in a connect-only check", got)
	}
}

func TestTCPExpectMismatchScrubsEchoedSecret(t *testing.T) {
	srv := startFake(t, script("C: AUTH "+tcpSecret, "S: -WRONGPASS "+tcpSecret+" is not it"))
	var logs bytes.Buffer
	p := &Prober{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	res := p.Check(context.Background(), tcpTarget(t, srv, TLSPlain, redisSteps()...), PhaseDeep, Options{Transcript: true})
	srv.wait()
	expectFail(t, res, ReasonProtocol, `TCP tcp_steps[3] expected a line containing "+OK", response: -WRONGPASS <redacted> is not it`)
	assertNoTCPSecret(t, res)
	if strings.Contains(logs.String(), tcpSecret) {
		t.Errorf("secret in logs: %s", logs.String())
	}
	if last := res.Transcript[len(res.Transcript)-1]; last != "S: -WRONGPASS <redacted> is not it" {
		t.Errorf("last transcript line = %q", last)
	}
	if res.FailedPhase != PhaseDeep {
		t.Errorf("failed phase = %q", res.FailedPhase)
	}
}

func TestTCPDeepWithoutStepsSaysWhatToDo(t *testing.T) {
	srv := startFake(t, script())
	res := deep(t, tcpTarget(t, srv, TLSPlain))
	srv.wait()
	expectFail(t, res, ReasonConfig, "has no tcp_steps for its deep check (list at least one step, or check it connect-only)")
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server read %q", got)
	}
}

func TestTCPSecretRefusedWithoutTLS(t *testing.T) {
	srv := startFake(t, script())
	tg := tcpTarget(t, srv, TLSPlain, redisSteps()...)
	tg.AllowPlaintextAuth = false
	res := deep(t, tg)
	srv.wait()
	expectFail(t, res, ReasonConfig, "refusing to send a secret tcp_steps value to 127.0.0.1:")
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server read %q", got)
	}
	assertNoTCPSecret(t, res)
}

func TestTCPExpectRegexMismatch(t *testing.T) {
	srv := startFake(t, script("S: SSH-1.99-old"))
	res := deep(t, tcpTarget(t, srv, TLSPlain, expectRe(`^SSH-2\.0-`)))
	srv.wait()
	expectFail(t, res, ReasonProtocol, `TCP tcp_steps[0] expected a line matching "^SSH-2\\.0-", response: SSH-1.99-old`)
}

// Hostile servers: a line past max_bytes, a line cut by the close, a
// slow drip that never ends a line, control characters.
func TestTCPHostileServer(t *testing.T) {
	t.Run("oversized line", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) {
			_, _ = c.conn.Write(bytes.Repeat([]byte("A"), 1<<20))
			_, _ = io.Copy(io.Discard, c.conn)
		})
		st := expect("+OK")
		st.MaxBytes = 16
		res := deep(t, tcpTarget(t, srv, TLSPlain, st))
		srv.wait()
		expectFail(t, res, ReasonProtocol, "server sent more than 16 bytes without a line end (max_bytes)")
		want := []string{"S: " + strings.Repeat("A", 16)}
		if got := exchanged(res); !slices.Equal(got, want) {
			t.Errorf("transcript = %q, want %q", got, want)
		}
	})
	t.Run("line of exactly max_bytes", func(t *testing.T) {
		for _, line := range []string{"+OK45678901\r\n", "+OK45678901\n"} {
			srv := startFake(t, func(c *fakeConn) {
				_, _ = io.WriteString(c.conn, line)
				_, _ = io.Copy(io.Discard, c.conn)
			})
			st := expect("+OK")
			st.MaxBytes = 11 // the line without its line end
			res := deep(t, tcpTarget(t, srv, TLSPlain, st))
			srv.wait()
			expectOK(t, res)
		}
	})
	t.Run("line one byte over max_bytes", func(t *testing.T) {
		srv := startFake(t, script("S: +OK456789012"))
		st := expect("+OK")
		st.MaxBytes = 11
		res := deep(t, tcpTarget(t, srv, TLSPlain, st))
		srv.wait()
		expectFail(t, res, ReasonProtocol, "server sent more than 11 bytes without a line end (max_bytes)")
	})
	t.Run("max_bytes across reader buffers", func(t *testing.T) {
		// 5000 bytes and CR LF: past one 4 KiB buffer, within max_bytes.
		srv := startFake(t, script("S: +OK"+strings.Repeat("x", 4997)))
		st := expect("+OK")
		st.MaxBytes = 5000
		res := deep(t, tcpTarget(t, srv, TLSPlain, st))
		srv.wait()
		expectOK(t, res)
	})
	t.Run("truncated line", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) { _, _ = io.WriteString(c.conn, "+O") })
		res := deep(t, tcpTarget(t, srv, TLSPlain, expect("+OK")))
		srv.wait()
		expectFail(t, res, ReasonProtocol, "connection closed by server after 2 bytes without a line end")
		if got := exchanged(res); !slices.Equal(got, []string{"S: +O"}) {
			t.Errorf("transcript = %q", got)
		}
	})
	t.Run("closed before any byte", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) {})
		res := deep(t, tcpTarget(t, srv, TLSPlain, expect("+OK")))
		srv.wait()
		expectFail(t, res, ReasonProtocol, "connection closed by server")
	})
	t.Run("slow drip", func(t *testing.T) {
		done := make(chan struct{})
		srv := startFake(t, func(c *fakeConn) {
			for {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
				if _, err := io.WriteString(c.conn, "x"); err != nil {
					return
				}
			}
		})
		tg := tcpTarget(t, srv, TLSPlain, expect("+OK"))
		tg.DeepTimeout = 200 * time.Millisecond
		res := deep(t, tg)
		close(done)
		srv.wait()
		// The deep deadline ends the check, whatever the drip sent so far.
		expectFail(t, res, ReasonTimeout, "TCP tcp_steps[0] expect from 127.0.0.1:")
	})
	t.Run("control characters", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) {
			_, _ = io.WriteString(c.conn, "+OK\x1b[31m\x00\x85\xff evil\r\n")
			_, _ = io.Copy(io.Discard, c.conn)
		})
		res := deep(t, tcpTarget(t, srv, TLSPlain, expect("+OK ready")))
		srv.wait()
		// Invalid UTF-8 reads as one U+FFFD.
		expectFail(t, res, ReasonProtocol, `response: +OK\x1b[31m\x00`+"\ufffd evil")
		if got := exchanged(res); !slices.Equal(got, []string{`S: +OK\x1b[31m\x00` + "\ufffd evil"}) {
			t.Errorf("transcript = %q", got)
		}
	})
	t.Run("expect with control characters", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) {
			_, _ = c.conn.Write([]byte("\x00\x01banner\r\n"))
			_, _ = io.Copy(io.Discard, c.conn)
		})
		res := deep(t, tcpTarget(t, srv, TLSPlain, expect("\x00\x01ban")))
		srv.wait()
		expectOK(t, res)
	})
}

func TestTCPStepsFromConfig(t *testing.T) {
	re := regexp.MustCompile(`^\+PONG`)
	ct := &config.Target{
		Protocol: "tcp", Host: "127.0.0.1", Port: 6379, TLSMode: "plain", DeepCheck: true,
		TCPSteps: []config.TCPStep{
			{Send: `AUTH \x41pw\r\n`, Secret: true}, // not validated: decoded here
			{Expect: `+OK`},
			{ExpectRegex: `^\+PONG`, Regexp: re, MaxBytes: 64},
		},
	}
	tg, err := NewTarget(ct)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tg.TCPSteps[0].Send); got != "AUTH Apw\r\n" {
		t.Errorf("send = %q", got)
	}
	if tg.TCPSteps[1].MaxBytes != config.DefaultTCPExpectMaxBytes || tg.TCPSteps[2].MaxBytes != 64 || tg.TCPSteps[2].Regexp != re {
		t.Errorf("steps = %+v", tg.TCPSteps)
	}
	if got := tg.Secrets(); !slices.Equal(got, []string{"AUTH Apw\r\n", "AUTH Apw"}) {
		t.Errorf("secrets = %q", got)
	}

	ct.TCPSteps = []config.TCPStep{{Send: `bad \q escape`, Secret: true}}
	if _, err := NewTarget(ct); err == nil || strings.Contains(err.Error(), "bad") {
		t.Errorf("err = %v, want an error that does not quote the value", err)
	}
	ct.TLSMode = "starttls"
	ct.TCPSteps = nil
	if _, err := NewTarget(ct); err == nil || !strings.Contains(err.Error(), "tcp has no STARTTLS") {
		t.Errorf("err = %v", err)
	}
}

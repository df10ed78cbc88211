package probe

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// Review tests: a server that echoes the secret of a send step in a form
// other than the whole value must not get it, or a part of it, into the
// transcript or the error.

// assertNoSecretPart fails when part (a piece of the secret that alone
// gives it away) appears in the transcript or error.
func assertNoSecretPart(t *testing.T, res Result, part string) {
	t.Helper()
	texts := append([]string(nil), res.Transcript...)
	if res.Err != nil {
		texts = append(texts, res.Err.Error())
	}
	for _, text := range texts {
		if strings.Contains(strings.ToLower(text), strings.ToLower(part)) {
			t.Errorf("secret part %q leaked in %q", part, text)
		}
	}
}

func TestReviewTCPSecretEchoCutAtMaxBytes(t *testing.T) {
	// The echo runs past max_bytes: the noted first max_bytes bytes end
	// in the middle of the secret.
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len("AUTH "+tcpSecret+"\r\n"))))
		_, _ = io.WriteString(c.conn, "-ERR bad: "+tcpSecret+strings.Repeat("x", 100)+"\r\n")
		_, _ = io.Copy(io.Discard, c.conn)
	})
	st := expect("+OK")
	st.MaxBytes = len("-ERR bad: ") + len(tcpSecret) - 3
	res := deep(t, tcpTarget(t, srv, TLSPlain, send("AUTH "), secret(tcpSecret), send("\r\n"), st))
	srv.wait()
	expectFail(t, res, ReasonProtocol, "max_bytes")
	assertNoSecretPart(t, res, tcpSecret[:len(tcpSecret)-3])
}

func TestReviewTCPSecretEchoedInParts(t *testing.T) {
	// Redis before 6 answers an unknown HELLO by listing its arguments:
	// the password comes back without the rest of the step.
	const value = "HELLO 3 AUTH default " + tcpSecret + "\r\n"
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len(value))))
		_, _ = io.WriteString(c.conn, "-ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `"+tcpSecret+"`, \r\n")
		_, _ = io.Copy(io.Discard, c.conn)
	})
	res := deep(t, tcpTarget(t, srv, TLSPlain, secret(value), expect("+OK")))
	srv.wait()
	expectFail(t, res, ReasonProtocol, "expected a line containing")
	assertNoSecretPart(t, res, tcpSecret)
}

func TestReviewTCPSecretEchoedOneLineOfMany(t *testing.T) {
	// A secret step of two commands; the server echoes the second line.
	value := "AUTH " + tcpSecret + "\r\nPING\r\n"
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len(value))))
		_, _ = io.WriteString(c.conn, "-ERR no: AUTH "+tcpSecret+"\r\n")
		_, _ = io.Copy(io.Discard, c.conn)
	})
	res := deep(t, tcpTarget(t, srv, TLSPlain, secret(value), expect("+OK")))
	srv.wait()
	expectFail(t, res, ReasonProtocol, "expected a line containing")
	assertNoSecretPart(t, res, tcpSecret)
}

func TestReviewTCPSecretEchoedInAnotherCase(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len(tcpSecret)+2)))
		_, _ = io.WriteString(c.conn, "-ERR UNKNOWN USER "+strings.ToUpper(tcpSecret)+"\r\n")
		_, _ = io.Copy(io.Discard, c.conn)
	})
	res := deep(t, tcpTarget(t, srv, TLSPlain, secret(tcpSecret+"\r\n"), expect("+OK")))
	srv.wait()
	expectFail(t, res, ReasonProtocol, "expected a line containing")
	assertNoSecretPart(t, res, tcpSecret)
}

func TestReviewTCPSecretWithControlBytesEchoed(t *testing.T) {
	// A secret with a tab and a NUL: the error quotes the raw line
	// scrubbed, the transcript the escaped one.
	value := "pw\twith\x00nul"
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len(value))))
		_, _ = io.WriteString(c.conn, "-ERR "+value+"\r\n")
		_, _ = io.Copy(io.Discard, c.conn)
	})
	res := deep(t, tcpTarget(t, srv, TLSPlain, secret(value), expect("+OK")))
	srv.wait()
	for _, part := range []string{"with", `with\x00nul`} {
		assertNoSecretPart(t, res, part)
	}
	if !bytes.Contains([]byte(res.Err.Error()), []byte("<redacted>")) {
		t.Errorf("error = %v", res.Err)
	}
}

// Semantics against HAProxy's tcp-check (docs/operations.md): an expect
// reads the next line, and lines a server sent before a send step are
// not dropped: the expect after it reads the banner first.
func TestReviewTCPBannerBeforeSendIsReadFirst(t *testing.T) {
	srv := startFake(t, script("S: * banner", "C: PING", "S: +PONG"))
	res := deep(t, tcpTarget(t, srv, TLSPlain, send("PING\r\n"), expect("+PONG")))
	srv.wait()
	expectFail(t, res, ReasonProtocol, `TCP tcp_steps[1] expected a line containing "+PONG", response: * banner`)
}

// A line split across TLS records (and TCP segments) is one line.
func TestReviewTCPLineAcrossTLSRecords(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		if !c.startTLS() {
			return
		}
		for _, part := range []string{"+PO", "NG wi", "th\x00nul\r", "\n"} {
			if _, err := io.WriteString(c.conn, part); err != nil {
				return
			}
		}
		c.drain()
	})
	st := expectRe("^\\+PONG with\x00nul$")
	st.MaxBytes = len("+PONG with\x00nul")
	res := deep(t, tcpTarget(t, srv, TLSImplicit, st))
	srv.wait()
	expectOK(t, res)
}

// A CR alone does not end a line: a server answering "+PONG\r" and
// waiting is a timeout at the deep deadline, not a match.
func TestReviewTCPCROnlyLineEnd(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.WriteString(c.conn, "+PONG\r")
		c.drain()
	})
	tg := tcpTarget(t, srv, TLSPlain, expect("+PONG"))
	tg.DeepTimeout = 100 * time.Millisecond
	res := deep(t, tg)
	srv.wait()
	expectFail(t, res, ReasonTimeout, "TCP tcp_steps[0] expect from")
}

// An expect that quotes the secret (a server expected to echo it) does
// not bring it into the mismatch error.
func TestReviewTCPExpectQuotingSecretScrubbed(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len(tcpSecret)+2)))
		_, _ = io.WriteString(c.conn, "-ERR no\r\n")
		c.drain()
	})
	res := deep(t, tcpTarget(t, srv, TLSPlain, secret(tcpSecret+"\r\n"), expect("+OK "+tcpSecret)))
	srv.wait()
	expectFail(t, res, ReasonProtocol, `expected a line containing "+OK <redacted>"`)
	assertNoSecretPart(t, res, tcpSecret)
}

// A step NewTarget gets unvalidated with two actions is refused, not
// sent as the two values run together.
func TestReviewTCPStepsTwoActionsRefused(t *testing.T) {
	_, err := tcpSteps([]config.TCPStep{{Send: "PING\r\n", Expect: "+PONG"}})
	if err == nil || strings.Contains(err.Error(), "PING") {
		t.Errorf("err = %v", err)
	}
}

// The server closes in the middle of echoing the secret: the start of it
// at the end of the noted bytes is withheld.
func TestReviewTCPSecretEchoCutByClose(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, int64(len(tcpSecret)+2)))
		_, _ = io.WriteString(c.conn, "-ERR "+tcpSecret[:len(tcpSecret)-2])
	})
	res := deep(t, tcpTarget(t, srv, TLSPlain, secret(tcpSecret+"\r\n"), expect("+OK")))
	srv.wait()
	expectFail(t, res, ReasonProtocol, "connection closed by server after")
	assertNoSecretPart(t, res, tcpSecret[:len(tcpSecret)-2])
}

// A secret step goes over implicit TLS without allow_plaintext_auth,
// with and without a PROXY v2 header before the handshake.
func TestReviewTCPSecretOverImplicitTLS(t *testing.T) {
	for _, proxy := range []bool{false, true} {
		srv := startFake(t, func(c *fakeConn) {
			if proxy {
				_ = c.readRaw(16)
			}
			if !c.startTLS() {
				return
			}
			if !c.expect(tcpSecret) {
				return
			}
			c.send("+OK")
			c.drain()
		})
		tg := tcpTarget(t, srv, TLSImplicit, secret(tcpSecret+"\r\n"), expect("+OK"))
		tg.AllowPlaintextAuth = false
		tg.HAProxyV2 = proxy
		res := deep(t, tg)
		srv.wait()
		expectOK(t, res)
		assertNoTCPSecret(t, res)
	}
}

// A huge secret value of many words yields a bounded list of forms.
func TestReviewTCPSecretFormsBounded(t *testing.T) {
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, "word%05d ", i)
	}
	forms := tcpSecretForms([]TCPStep{secret(b.String() + "\r\n")})
	if len(forms) > 2*(3+maxSecretWords) {
		t.Errorf("%d forms", len(forms))
	}
}

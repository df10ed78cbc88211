package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func connectCheck(tg *Target) Result {
	return (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{Transcript: true})
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tg := &Target{Protocol: "imap", Host: "127.0.0.1", Port: port, TLSMode: TLSPlain}
	expectFail(t, connectCheck(tg), ReasonRefused, "TCP dial 127.0.0.1:")
}

func TestConnectAccepted(t *testing.T) {
	srv := silentServer(t)
	res := connectCheck(newTarget(t, "imap", srv, TLSPlain))
	expectOK(t, res)
	expectStepNames(t, res, "connect")
	if len(res.Transcript) != 1 || res.Transcript[0] != "-- connect "+newTarget(t, "imap", srv, TLSPlain).Address() {
		t.Errorf("transcript = %q", res.Transcript)
	}
}

// The LOCAL preface is exactly 16 bytes and comes before anything else,
// here before the IMAP greeting is even read.
func TestConnectProxyV2Local(t *testing.T) {
	want := []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00}
	srv := startFake(t, func(c *fakeConn) {
		if got := c.readRaw(16); !bytes.Equal(got, want) {
			c.srv.t.Errorf("PROXY header = % x, want % x", got, want)
			return
		}
		script(
			"S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot harness-c ready.",
			"C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
			"S: a1 OK Logged in",
			"C: a2 LOGOUT",
		)(c)
	})
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.HAProxyV2 = true
	tg.AllowPlaintextAuth = true
	res := deep(t, tg)
	expectOK(t, res)
	expectStepNames(t, res, "connect", "proxy", "greeting", "auth", "logout")
}

// The PROXY command carries the real tuple: our side as source, the
// backend as destination, as the server sees the socket.
func TestConnectProxyV2ProxyCommand(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		client := c.conn.RemoteAddr().(*net.TCPAddr)
		server := c.conn.LocalAddr().(*net.TCPAddr)
		want := []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 127, 0, 0, 1, 127, 0, 0, 1}
		want = binary.BigEndian.AppendUint16(want, uint16(client.Port))
		want = binary.BigEndian.AppendUint16(want, uint16(server.Port))
		if got := c.readRaw(28); !bytes.Equal(got, want) {
			c.srv.t.Errorf("PROXY header = % x, want % x", got, want)
		}
		c.drain()
	})
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.HAProxyV2, tg.HAProxyV2Proxy = true, true
	res := connectCheck(tg)
	expectOK(t, res)
	expectStepNames(t, res, "connect", "proxy")
	srv.wait()
	if got := srv.rawBytes(); len(got) != 28 {
		t.Errorf("server read %d header bytes", len(got))
	}
}

func TestProxyV2HeaderIPv6(t *testing.T) {
	src := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 40000}
	dst := &net.TCPAddr{IP: net.ParseIP("2001:db8::2"), Port: 993}
	h, err := proxyV2Header(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 16+36 || h[12] != 0x21 || h[13] != 0x21 || binary.BigEndian.Uint16(h[14:]) != 36 {
		t.Fatalf("header = % x", h)
	}
	if !net.IP(h[16:32]).Equal(src.IP) || !net.IP(h[32:48]).Equal(dst.IP) ||
		binary.BigEndian.Uint16(h[48:]) != 40000 || binary.BigEndian.Uint16(h[50:]) != 993 {
		t.Errorf("address block = % x", h[16:])
	}
}

func TestConnectImplicitTLS(t *testing.T) {
	handshakeOnly := func(c *fakeConn) {
		tc := tls.Server(c.conn, getPKI(t).serverConfig)
		if tc.Handshake() == nil {
			drainQuietly(&fakeConn{srv: c.srv, conn: tc})
		}
	}
	t.Run("verified", func(t *testing.T) {
		srv := startFake(t, handshakeOnly)
		res := connectCheck(newTarget(t, "imap", srv, TLSImplicit))
		expectOK(t, res)
		expectStepNames(t, res, "connect", "tls")
		if res.CertNotAfter.IsZero() {
			t.Error("CertNotAfter not set")
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		srv := startFake(t, handshakeOnly)
		tg := newTarget(t, "imap", srv, TLSImplicit)
		tg.TLSConfig.RootCAs = getPKI(t).otherRoots
		expectFail(t, connectCheck(tg), ReasonTLS, "TLS handshake failed (host=127.0.0.1 port=")
	})
	t.Run("wrong name", func(t *testing.T) {
		srv := startFake(t, handshakeOnly)
		tg := newTarget(t, "imap", srv, TLSImplicit)
		tg.TLSConfig.ServerName = "mail.example.org"
		expectFail(t, connectCheck(tg), ReasonTLS, "mail.example.org")
	})
	t.Run("skip verify", func(t *testing.T) {
		srv := startFake(t, handshakeOnly)
		tg := newTarget(t, "imap", srv, TLSImplicit)
		tg.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "mail.example.org", InsecureSkipVerify: true}
		expectOK(t, connectCheck(tg))
	})
	t.Run("handshake never completes", func(t *testing.T) {
		srv := silentServer(t)
		tg := newTarget(t, "imap", srv, TLSImplicit)
		tg.TLSTimeout = 200 * time.Millisecond
		expectFail(t, connectCheck(tg), ReasonTimeout, "TLS handshake failed")
	})
	t.Run("plain server", func(t *testing.T) {
		srv := startFake(t, func(c *fakeConn) {
			c.send("* OK [CAPABILITY IMAP4rev1] plain text where TLS was expected")
			drainQuietly(c)
		})
		expectFail(t, connectCheck(newTarget(t, "imap", srv, TLSImplicit)), ReasonTLS, "TLS handshake failed")
	})
}

func TestConnectTranscript(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) {
		c.readRaw(16)
		if c.startTLS() {
			drainQuietly(c)
		}
	})
	tg := newTarget(t, "imap", srv, TLSImplicit)
	tg.HAProxyV2 = true
	res := connectCheck(tg)
	expectOK(t, res)
	tlsLine := fmt.Sprintf("-- TLS established: TLS 1.3, TLS_AES_128_GCM_SHA256; certificate %q issued by %q, valid until %s",
		"CN=localhost", "CN=backline test CA", res.CertNotAfter.UTC().Format(time.RFC3339))
	want := []string{"-- connect " + tg.Address(), "-- PROXY v2 header sent", tlsLine}
	if !slices.Equal(res.Transcript, want) {
		t.Errorf("transcript = %q, want %q", res.Transcript, want)
	}
	if res.RemoteAddr != tg.Address() || res.TLSVersion != "TLS 1.3" || res.CertSubject != "CN=localhost" || res.CertIssuer != "CN=backline test CA" {
		t.Errorf("result: remote %q version %q subject %q issuer %q", res.RemoteAddr, res.TLSVersion, res.CertSubject, res.CertIssuer)
	}
}

// A host name shows the address it resolved to.
func TestConnectTranscriptShowsResolvedAddress(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) { drainQuietly(c) })
	tg := newTarget(t, "imap", srv, TLSPlain)
	_, port, _ := net.SplitHostPort(tg.Address())
	tg.Host = "localhost"
	res := connectCheck(tg)
	if len(res.Transcript) == 0 || !strings.HasPrefix(res.Transcript[0], "-- connect localhost:"+port+" (") {
		t.Fatalf("transcript %q", res.Transcript)
	}
	if host, _, _ := net.SplitHostPort(res.RemoteAddr); net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("RemoteAddr %q, want a loopback IP", res.RemoteAddr)
	}
}

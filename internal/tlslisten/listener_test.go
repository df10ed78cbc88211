package tlslisten

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/backline/backline/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// served is a Listener with an http.Server on it that answers with the
// protocol and whether r.TLS was set.
type served struct {
	ln   *Listener
	pki  *testutil.PKI
	addr string
}

func serve(t *testing.T, cfg *tls.Config, opts Options, pki *testutil.PKI) *served {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(inner, cfg, opts)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto+" tls="+boolString(r.TLS != nil))
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		_ = ln.Close()
	})
	return &served{ln: ln, pki: pki, addr: inner.Addr().String()}
}

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func serverConfig(leaf testutil.Leaf, protos ...string) *tls.Config {
	if len(protos) == 0 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{Certificates: []tls.Certificate{leaf.Cert}, MinVersion: tls.VersionTLS12, NextProtos: protos}
}

func newServed(t *testing.T, opts Options) *served {
	pki := testutil.NewPKI(t)
	return serve(t, serverConfig(pki.Server(t, 1)), opts, pki)
}

func (s *served) get(t *testing.T, h2 bool) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: s.pki.ClientConfig(), ForceAttemptHTTP2: h2}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitFailures waits until reason has been counted n times; the bound
// only stops a broken test.
func (s *served) waitFailures(t *testing.T, reason string, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.ln.Failures(reason) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%s failures: %d, want %d", reason, s.ln.Failures(reason), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHTTP1AndHTTP2OverTLS(t *testing.T) {
	s := newServed(t, Options{Name: "api"})
	if got := s.get(t, false); got != "HTTP/1.1 tls=yes" {
		t.Fatalf("HTTP/1.1 client: %q", got)
	}
	if got := s.get(t, true); got != "HTTP/2.0 tls=yes" {
		t.Fatalf("h2 client: %q", got)
	}
}

func TestHTTP2Off(t *testing.T) {
	pki := testutil.NewPKI(t)
	s := serve(t, serverConfig(pki.Server(t, 1), "http/1.1"), Options{}, pki)
	if got := s.get(t, true); got != "HTTP/1.1 tls=yes" {
		t.Fatalf("h2 offered to a listener without http2: %q", got)
	}
}

// A client that sends plain HTTP gets net/http's answer for an HTTPS
// server and is counted; garbage and a cut-off handshake are counted, and
// none of them stops the listener.
func TestHostileHandshakes(t *testing.T) {
	s := newServed(t, Options{Name: "api"})
	raw := func(payload string) string {
		t.Helper()
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, payload)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.0 400 Bad Request") ||
		!strings.Contains(got, "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP got %q", got)
	}
	s.waitFailures(t, ReasonPlainHTTP, 1)

	garbage := strings.Repeat("\x00\xff garbage ", 50)
	if got := raw(garbage); strings.Contains(got, "HTTP/") {
		t.Fatalf("garbage got an HTTP answer: %q", got)
	}
	s.waitFailures(t, ReasonProtocol, 1)

	// A record header that announces 512 bytes, then 10 of them.
	raw("\x16\x03\x01\x02\x00" + strings.Repeat("\x01", 10))
	raw("\x16\x03")
	s.waitFailures(t, ReasonEOF, 2)

	if got := s.get(t, false); got != "HTTP/1.1 tls=yes" {
		t.Fatalf("after the hostile clients: %q", got)
	}
}

// A client that never finishes its handshake is cut off at the handshake
// timeout, and it holds up no other client meanwhile.
func TestSlowHandshakeTimesOutAlone(t *testing.T) {
	s := newServed(t, Options{Name: "api", HandshakeTimeout: 200 * time.Millisecond})
	slow, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_, _ = io.WriteString(slow, "\x16\x03\x01") // the start of a record, then nothing
	if got := s.get(t, false); got != "HTTP/1.1 tls=yes" {
		t.Fatalf("a client next to a slow handshake: %q", got)
	}
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := slow.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("slow client: %v, want the connection closed", err)
	}
	s.waitFailures(t, ReasonTimeout, 1)
}

func peerSerial(t *testing.T, c *tls.Conn) int64 {
	t.Helper()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// SetConfig (a reload) serves the new certificate to new connections; a
// connection made before keeps working.
func TestSetConfigSwapsTheCertificate(t *testing.T) {
	pki := testutil.NewPKI(t)
	s := serve(t, serverConfig(pki.Server(t, 101), "http/1.1"), Options{}, pki)
	old, err := tls.Dial("tcp", s.addr, pki.ClientConfig("http/1.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if got := peerSerial(t, old); got != 101 {
		t.Fatalf("first serial %d", got)
	}
	s.ln.SetConfig(serverConfig(pki.Server(t, 202), "http/1.1"))
	fresh, err := tls.Dial("tcp", s.addr, pki.ClientConfig("http/1.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if got := peerSerial(t, fresh); got != 202 {
		t.Fatalf("serial after SetConfig %d, want 202", got)
	}
	for _, c := range []*tls.Conn{old, fresh} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("serial %d: %v", peerSerial(t, c), err)
		}
		resp.Body.Close()
	}
}

// With client CAs, a client without a certificate is refused and counted;
// one with a certificate of the CA gets in.
func TestClientCertificateRequired(t *testing.T) {
	pki := testutil.NewPKI(t)
	cfg := serverConfig(pki.Server(t, 1), "http/1.1")
	cfg.ClientCAs = pki.ClientConfig().RootCAs
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	s := serve(t, cfg, Options{}, pki)

	exchange := func(cc *tls.Config) error {
		c, err := tls.Dial("tcp", s.addr, cc)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	if err := exchange(pki.ClientConfig()); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	s.waitFailures(t, ReasonProtocol, 1)
	other := testutil.NewPKI(t) // a certificate from a CA the listener does not trust
	cc := pki.ClientConfig()
	cc.Certificates = []tls.Certificate{other.Issue(t, "intruder", 7, time.Now().Add(time.Hour), true).Cert}
	if err := exchange(cc); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
	cc.Certificates = []tls.Certificate{pki.Issue(t, "dovecot", 8, time.Now().Add(time.Hour), true).Cert}
	if err := exchange(cc); err != nil {
		t.Fatalf("a client with a certificate of the CA: %v", err)
	}
}

// signalListener tells taken about each connection it hands out.
type signalListener struct {
	net.Listener
	taken chan struct{}
}

func (l signalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.taken <- struct{}{}
	}
	return c, err
}

// Close ends handshakes under way; goleak (TestMain) checks that nothing
// stays behind. The handshake timeout is an hour, so only Close can end
// the handshake; Close waits for it, and the bound only stops a broken
// test.
func TestCloseEndsPendingHandshakes(t *testing.T) {
	pki := testutil.NewPKI(t)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inner := signalListener{tcp, make(chan struct{}, 1)}
	ln := New(inner, serverConfig(pki.Server(t, 1)), Options{HandshakeTimeout: time.Hour})
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	slow, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	<-inner.taken // the handshake has begun, or is about to
	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close still waits for the pending handshake")
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := slow.Read(make([]byte, 1)); err == nil {
		t.Fatal("the pending handshake's connection stays open")
	}
	if n := ln.Failures(ReasonEOF) + ln.Failures(ReasonProtocol) + ln.Failures(ReasonTimeout); n != 0 {
		t.Fatalf("a closing listener counted %d client failures", n)
	}
}

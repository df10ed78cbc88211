package probe

// Shared helpers for the probe tests (part A and part B may both use them).
//
// startFake(t, handler) listens on 127.0.0.1:0 and runs handler for every
// accepted connection; script(...) builds a handler from transcript lines:
//
//	"S: <line>"   the server sends <line> CRLF
//	"C: <line>"   the server reads one line; it must equal <line> exactly
//	"-- TLS"      server side of a TLS handshake with the test certificate
//	"-- close"    the server closes the connection
//
// After the last step a script reads until EOF and fails the test for any
// further client line. srv.wait() waits for the handlers (the client must
// have closed first); srv.received() is every line the server read.
// newTarget builds a Target trusting the test CA, with generous timeouts:
// tests never assert durations. TestMain runs goleak for the package.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/backline/backline/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testUser     = "healthcheck-user"
	testPassword = "healthcheck-password"
	// testPlainBlob is SASL PLAIN of the test account, as in the transcripts.
	testPlainBlob = "AGhlYWx0aGNoZWNrLXVzZXIAaGVhbHRoY2hlY2stcGFzc3dvcmQ="
)

// testPKI is a CA and a server certificate for localhost and 127.0.0.1,
// plus an unrelated CA for "unknown authority" cases.
type testPKI struct {
	serverConfig *tls.Config
	roots        *x509.CertPool
	otherRoots   *x509.CertPool
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func getPKI(t testing.TB) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		ca, other := testutil.NewPKI(t), testutil.NewPKI(t)
		pki.serverConfig = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, 2).Cert}}
		pki.roots = ca.Pool()
		pki.otherRoots = other.Pool()
	})
	return pki
}

type fakeServer struct {
	t        testing.TB
	ln       net.Listener
	handlers sync.WaitGroup
	accept   sync.WaitGroup

	mu     sync.Mutex
	idle   *sync.Cond // signalled when a handler ends
	conns  []net.Conn
	active int // handlers running
	got    []string
	raw    []byte

	serverTLS *tls.Config // nil: getPKI's serverConfig
}

func startFake(t testing.TB, handler func(c *fakeConn)) *fakeServer {
	t.Helper()
	return startFakeTLS(t, nil, handler)
}

// startFakeTLS is startFake whose "-- TLS" steps use serverTLS (a server
// asking for client certificates, say); nil means the test certificate.
func startFakeTLS(t testing.TB, serverTLS *tls.Config, handler func(c *fakeConn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fakeServer{t: t, ln: ln, serverTLS: serverTLS}
	srv.idle = sync.NewCond(&srv.mu)
	srv.accept.Add(1)
	go func() {
		defer srv.accept.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			srv.mu.Lock()
			srv.conns = append(srv.conns, conn)
			srv.active++
			srv.mu.Unlock()
			srv.handlers.Add(1)
			go func() {
				defer srv.handlers.Done()
				defer func() {
					srv.mu.Lock()
					srv.active--
					srv.idle.Broadcast()
					srv.mu.Unlock()
				}()
				defer conn.Close()
				handler(&fakeConn{srv: srv, conn: conn, r: bufio.NewReader(conn)})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		srv.accept.Wait()
		// Handlers end when the client has closed; the timer only rescues a
		// test whose client is stuck, so that it fails instead of hanging.
		rescue := time.AfterFunc(30*time.Second, func() {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for _, c := range srv.conns {
				c.Close()
			}
		})
		srv.handlers.Wait()
		rescue.Stop()
	})
	return srv
}

func (srv *fakeServer) port() int { return srv.ln.Addr().(*net.TCPAddr).Port }

// wait blocks until a connection was accepted and every handler has
// returned; call it only after a check that connected.
func (srv *fakeServer) wait() {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for len(srv.conns) == 0 || srv.active > 0 {
		srv.idle.Wait()
	}
}

func (srv *fakeServer) received() []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]string(nil), srv.got...)
}

func (srv *fakeServer) rawBytes() []byte {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]byte(nil), srv.raw...)
}

type fakeConn struct {
	srv  *fakeServer
	conn net.Conn
	r    *bufio.Reader
}

func (c *fakeConn) send(line string) {
	_, _ = io.WriteString(c.conn, line+"\r\n")
}

func (c *fakeConn) readLine() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	c.srv.mu.Lock()
	c.srv.got = append(c.srv.got, line)
	c.srv.mu.Unlock()
	return line, nil
}

// readRaw reads exactly n bytes (a PROXY header, say) and records them.
func (c *fakeConn) readRaw(n int) []byte {
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		c.srv.t.Errorf("fake server: reading %d raw bytes: %v", n, err)
		return nil
	}
	c.srv.mu.Lock()
	c.srv.raw = append(c.srv.raw, buf...)
	c.srv.mu.Unlock()
	return buf
}

func (c *fakeConn) expect(want string) bool {
	got, err := c.readLine()
	if err != nil {
		c.srv.t.Errorf("fake server: want client line %q, got error %v", want, err)
		return false
	}
	if got != want {
		c.srv.t.Errorf("fake server: client sent %q, want %q", got, want)
		return false
	}
	return true
}

// bufferedConn reads through the fake connection's reader, so bytes it
// already buffered (a ClientHello right behind a PROXY header) are not lost.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (c *fakeConn) startTLS() bool {
	if err := c.handshakeTLS(); err != nil {
		c.srv.t.Errorf("fake server: TLS handshake: %v", err)
		return false
	}
	return true
}

// tryStartTLS is startTLS where the client may give up during the
// handshake (its deadline is what the test is about).
func (c *fakeConn) tryStartTLS() bool { return c.handshakeTLS() == nil }

func (c *fakeConn) handshakeTLS() error {
	cfg := c.srv.serverTLS
	if cfg == nil {
		cfg = getPKI(c.srv.t).serverConfig
	}
	tc := tls.Server(bufferedConn{c.conn, c.r}, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
	return nil
}

// drain reads until the client closes; any line is unexpected.
func (c *fakeConn) drain() {
	for {
		line, err := c.readLine()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				c.srv.t.Errorf("fake server: after the script: %v", err)
			}
			return
		}
		c.srv.t.Errorf("fake server: unexpected client line after the script: %q", line)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// script is a handler that plays a transcript (see the file comment).
func script(steps ...string) func(*fakeConn) {
	return func(c *fakeConn) {
		for _, step := range steps {
			switch {
			case strings.HasPrefix(step, "S: "):
				c.send(step[3:])
			case strings.HasPrefix(step, "C: "):
				if !c.expect(step[3:]) {
					return
				}
			case step == "-- TLS":
				if !c.startTLS() {
					return
				}
			case step == "-- close":
				return
			default:
				c.srv.t.Errorf("fake server: bad script step %q", step)
				return
			}
		}
		c.drain()
	}
}

// newTarget is a deep-check target for srv that trusts the test CA.
func newTarget(t testing.TB, protocol string, srv *fakeServer, mode TLSMode) *Target {
	t.Helper()
	return &Target{
		Name:           protocol + "-test",
		Protocol:       protocol,
		Host:           "127.0.0.1",
		Port:           srv.port(),
		TLSMode:        mode,
		TLSConfig:      &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "localhost", RootCAs: getPKI(t).roots},
		ConnectTimeout: 10 * time.Second,
		TLSTimeout:     10 * time.Second,
		DeepTimeout:    10 * time.Second,
		DeepCheck:      true,
		Username:       testUser,
		Password:       testPassword,
		Mechanism:      "auto",
	}
}

// assertNoLeak fails when the password or one of its encodings appears in
// the error text or the transcript.
func assertNoLeak(t testing.TB, res Result) {
	t.Helper()
	secrets := []string{
		testPassword,
		testPlainBlob,
		base64.StdEncoding.EncodeToString([]byte(testPassword)),
		base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword)),
	}
	texts := append([]string(nil), res.Transcript...)
	if res.Err != nil {
		texts = append(texts, res.Err.Error())
	}
	for _, text := range texts {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q leaked in %q", secret, text)
			}
		}
	}
}

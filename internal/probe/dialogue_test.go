package probe

// Scripted fake mail servers for the POP3/SMTP/LMTP tests: each test lists
// the exact lines a real server sent (from the harness transcripts) and the
// exact lines the probe must send back.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// The SASL LOGIN payloads of the test account (fakeserver_test.go), as in
// the transcripts.
const (
	dlgUserB64 = "aGVhbHRoY2hlY2stdXNlcg=="
	dlgPassB64 = "aGVhbHRoY2hlY2stcGFzc3dvcmQ="
)

// dlgStep is one turn: the server waits for expect (unless empty), then
// sends reply, then upgrades to TLS if startTLS is set.
type dlgStep struct {
	expect   string
	reply    []string
	startTLS bool
}

func serverSays(lines ...string) dlgStep { return dlgStep{reply: lines} }

func clientSends(line string, reply ...string) dlgStep {
	return dlgStep{expect: line, reply: reply}
}

// dlgServer is a one-connection loopback server playing a script.
type dlgServer struct {
	ln       net.Listener
	implicit bool
	steps    []dlgStep
	// raw, when set, replaces the script (hostile servers).
	raw func(c net.Conn)
	// tlsServer and tlsClient come from the package's test PKI.
	tlsServer, tlsClient *tls.Config

	done     chan struct{}
	mu       sync.Mutex
	received []string
	mismatch string
}

func startDialogue(t *testing.T, implicitTLS bool, steps ...dlgStep) *dlgServer {
	t.Helper()
	return startServer(t, &dlgServer{implicit: implicitTLS, steps: steps})
}

func startRaw(t *testing.T, raw func(c net.Conn)) *dlgServer {
	t.Helper()
	return startServer(t, &dlgServer{raw: raw})
}

func startServer(t *testing.T, srv *dlgServer) *dlgServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.ln, srv.done = ln, make(chan struct{})
	pki := getPKI(t)
	srv.tlsServer = pki.serverConfig
	srv.tlsClient = &tls.Config{RootCAs: pki.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	go srv.serve()
	t.Cleanup(func() { ln.Close(); <-srv.done })
	return srv
}

func (d *dlgServer) serve() {
	defer close(d.done)
	c, err := d.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	// A broken probe must not hang the test binary.
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if d.raw != nil {
		d.raw(c)
		return
	}
	var conn net.Conn = c
	if d.implicit {
		conn = tls.Server(c, d.tlsServer)
	}
	r := bufio.NewReader(conn)
	for i, st := range d.steps {
		if st.expect != "" {
			line, err := r.ReadString('\n')
			if err != nil {
				d.fail("step %d: wanted %q, read error %v", i, st.expect, err)
				return
			}
			line = strings.TrimRight(line, "\r\n")
			d.record(line)
			if line != st.expect {
				d.fail("step %d: wanted %q, got %q", i, st.expect, line)
				return
			}
		}
		for _, l := range st.reply {
			if _, err := fmt.Fprintf(conn, "%s\r\n", l); err != nil {
				return
			}
		}
		if st.startTLS {
			tc := tls.Server(conn, d.tlsServer)
			if err := tc.Handshake(); err != nil {
				d.fail("step %d: TLS handshake: %v", i, err)
				return
			}
			conn, r = tc, bufio.NewReader(tc)
		}
	}
	// Anything after the script is recorded so tests can assert on it.
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			d.record(strings.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

func (d *dlgServer) record(line string) {
	d.mu.Lock()
	d.received = append(d.received, line)
	d.mu.Unlock()
}

func (d *dlgServer) fail(format string, args ...any) {
	d.mu.Lock()
	if d.mismatch == "" {
		d.mismatch = fmt.Sprintf(format, args...)
	}
	d.mu.Unlock()
}

// finish waits for the server and returns what the client sent.
func (d *dlgServer) finish(t *testing.T) []string {
	t.Helper()
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mismatch != "" {
		t.Errorf("fake server: %s\nreceived: %q", d.mismatch, d.received)
	}
	return d.received
}

func (d *dlgServer) port() int { return d.ln.Addr().(*net.TCPAddr).Port }

// dlgTarget is a deep-check target for srv with the test account.
func dlgTarget(srv *dlgServer, protocol string, mode TLSMode, mechanism string) *Target {
	return &Target{
		Name: "t", Protocol: protocol, Host: "127.0.0.1", Port: srv.port(),
		TLSMode: mode, TLSConfig: srv.tlsClient,
		ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 5 * time.Second,
		DeepCheck: true, Username: testUser, Password: testPassword, Mechanism: mechanism,
	}
}

// runDeep plays the connect phase by hand (dial, implicit TLS) and then
// calls check on a session, with the conn deadline the checker would set.
func runDeep(t *testing.T, tg *Target, deadline time.Duration, check func(*session) error) (Result, error) {
	t.Helper()
	c, err := net.Dial("tcp", tg.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var conn net.Conn = c
	if tg.TLSMode == TLSImplicit {
		tc := tls.Client(c, tg.TLSConfig)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		conn = tc
	}
	var res Result
	s := newSession(conn, tg, &res, Options{Transcript: true})
	// The test's deadline replaces deep_timeout for the whole phase.
	s.deadline = time.Now().Add(deadline)
	_ = conn.SetDeadline(s.deadline)
	err = check(s)
	if s.conn != conn {
		defer s.conn.Close()
	}
	return res, err
}

// assertNoSecret checks that nothing a user can see holds the password.
func assertNoSecret(t *testing.T, res Result, err error) {
	t.Helper()
	texts := append([]string{}, res.Transcript...)
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, text := range texts {
		for _, secret := range []string{testPassword, dlgPassB64, testPlainBlob} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q leaked in %q", secret, text)
			}
		}
	}
}

func wantReason(t *testing.T, err error, want Reason) {
	t.Helper()
	if got := Classify(err); got != want {
		t.Fatalf("reason = %q, want %q (err: %v)", got, want, err)
	}
}

func wantReceived(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("server received:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

package probe

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

// mtlsCase is one protocol and TLS mode against a server that requires a
// client certificate; steps are a script (fakeserver_test.go) of a deep
// check without credentials.
type mtlsCase struct {
	name, protocol string
	mode           TLSMode
	steps          []string
}

var mtlsCases = []mtlsCase{
	{"imap implicit", "imap", TLSImplicit, []string{"-- TLS",
		"S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready", "C: a1 LOGOUT"}},
	{"imap starttls", "imap", TLSStartTLS, []string{
		"S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready", "C: a1 STARTTLS", "S: a1 OK go ahead", "-- TLS",
		"C: a2 CAPABILITY", "S: * CAPABILITY IMAP4rev1 AUTH=PLAIN", "S: a2 OK done", "C: a3 LOGOUT"}},
	{"pop3 starttls", "pop3", TLSStartTLS, []string{
		"S: +OK ready", "C: CAPA", "S: +OK", "S: STLS", "S: .", "C: STLS", "S: +OK go ahead", "-- TLS",
		"C: CAPA", "S: +OK", "S: USER", "S: .", "C: QUIT"}},
	{"smtp starttls", "smtp", TLSStartTLS, []string{
		"S: 220 ready", "C: " + ehlo, "S: 250-host", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead", "-- TLS",
		"C: " + ehlo, "S: 250-host", "S: 250 AUTH PLAIN", "C: QUIT"}},
	{"lmtp starttls", "lmtp", TLSStartTLS, []string{
		"S: 220 ready", "C: LHLO localhost.localdomain", "S: 250-host", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go ahead", "-- TLS",
		"C: LHLO localhost.localdomain", "S: 250-host", "S: 250 8BITMIME", "C: QUIT"}},
	{"sieve starttls", "sieve", TLSStartTLS, []string{
		`S: "SASL" "PLAIN"`, `S: "STARTTLS"`, `S: OK "ready"`, "C: STARTTLS", `S: OK "go ahead"`, "-- TLS",
		`S: "SASL" "PLAIN"`, `S: OK "ready"`, "C: LOGOUT"}},
	{"http implicit", "http", TLSImplicit, []string{"-- TLS",
		"C: GET / HTTP/1.1", "C: Host: 127.0.0.1:PORT", "C: User-Agent: backline-healthcheck", "C: Accept: */*",
		"C: Connection: close", "C: ",
		"S: HTTP/1.1 200 OK", "S: Content-Length: 0", "S: Connection: close", "S: ", "-- close"}},
}

// mtlsPKI is a CA, a server requiring client certificates of that CA, and
// files for a client certificate: files holds tls_ca_file, tls_cert_file
// and tls_key_file.
type mtlsPKI struct {
	server                    *tls.Config
	caFile, certFile, keyFile string
	client                    testutil.Leaf
}

func newMTLSPKI(t *testing.T, minVersion, maxVersion uint16) mtlsPKI {
	t.Helper()
	ca := testutil.NewPKI(t)
	dir := t.TempDir()
	client := ca.Issue(t, "backline health check", 10, time.Now().Add(24*time.Hour), true)
	certFile, keyFile := client.Write(t, dir)
	return mtlsPKI{
		server: &tls.Config{
			Certificates: []tls.Certificate{ca.Server(t, 2).Cert},
			ClientCAs:    ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert,
			MinVersion: minVersion, MaxVersion: maxVersion,
		},
		caFile: ca.WriteCA(t, dir), certFile: certFile, keyFile: keyFile, client: client,
	}
}

// mtlsTarget builds the target through NewTarget, as serve does, with or
// without the client certificate.
func mtlsTarget(t *testing.T, c mtlsCase, p mtlsPKI, srv *fakeServer, withCert bool) *Target {
	t.Helper()
	ct := &config.Target{Name: c.name, Protocol: c.protocol, Host: "127.0.0.1", Port: srv.port(),
		TLSMode: string(c.mode), DeepCheck: true, TLSCAFile: p.caFile, TLSServerName: "localhost",
		ConnectTimeout: 10 * time.Second, TLSTimeout: 10 * time.Second, DeepTimeout: 10 * time.Second}
	if withCert {
		ct.TLSCertFile, ct.TLSKeyFile = p.certFile, p.keyFile
	}
	tg, err := NewTarget(ct)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// refusingScript plays steps up to the TLS handshake, which the server
// side must refuse (no client certificate, or one it does not trust), and
// stops there.
func refusingScript(t *testing.T, steps []string) func(*fakeConn) {
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
				if err := c.handshakeTLS(); err == nil {
					t.Error("server refused no client certificate")
				}
				// Read what the client sent after its Finished (close_notify)
				// until it goes: closing with unread data would reset the
				// connection, which may overtake the alert.
				_, _ = io.Copy(io.Discard, c.r)
				return
			}
		}
	}
}

func TestClientCertificateEveryProtocol(t *testing.T) {
	for _, version := range []struct {
		name string
		v    uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		p := newMTLSPKI(t, version.v, version.v)
		for _, c := range mtlsCases {
			t.Run(version.name+"/"+c.name+"/with certificate", func(t *testing.T) {
				srv := startFakeTLS(t, p.server, func(fc *fakeConn) {
					steps := make([]string, len(c.steps))
					for i, s := range c.steps {
						steps[i] = replacePort(s, fc.srv.port())
					}
					script(steps...)(fc)
				})
				expectOK(t, deep(t, mtlsTarget(t, c, p, srv, true)))
			})
			t.Run(version.name+"/"+c.name+"/without certificate", func(t *testing.T) {
				srv := startFakeTLS(t, p.server, refusingScript(t, c.steps))
				res := deep(t, mtlsTarget(t, c, p, srv, false))
				expectFail(t, res, ReasonTLS, "requires a client certificate and none is configured (tls_cert_file, tls_key_file)")
			})
		}
	}
}

// A certificate the server does not trust is named in the failure, and
// nothing of its key appears in the error or the transcript.
func TestClientCertificateRefusedKeyNeverAppears(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	other := testutil.NewPKI(t).Issue(t, "stranger", 11, time.Now().Add(time.Hour), true)
	p.certFile, p.keyFile = other.Write(t, t.TempDir())
	c := mtlsCases[0]
	srv := startFakeTLS(t, p.server, refusingScript(t, c.steps))
	res := deep(t, mtlsTarget(t, c, p, srv, true))
	expectFail(t, res, ReasonTLS, `refused the client certificate "CN=stranger" (issuer "CN=backline test CA")`)
	texts := append([]string{res.Err.Error()}, res.Transcript...)
	for _, text := range texts {
		for _, line := range strings.Split(string(other.KeyPEM), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
				t.Errorf("key material appears in %q", text)
			}
		}
	}
}

// The files are read once, by NewTarget (at start or reload), never by a
// check: with them gone the checks still present the certificate.
func TestClientCertificateReadOnce(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS12, tls.VersionTLS13)
	c := mtlsCases[1]
	srv := startFakeTLS(t, p.server, script(c.steps...))
	tg := mtlsTarget(t, c, p, srv, true)
	for _, f := range []string{p.certFile, p.keyFile} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	expectOK(t, deep(t, tg))
}

// Only alerts about the client certificate are reworded: one naming a
// certificate, or, after the server asked for one, the alerts TLS 1.2
// servers refuse a missing certificate with.
func TestClientCertFailureWording(t *testing.T) {
	tg := &Target{Host: "127.0.0.1", Port: 993}
	alert := func(text string) error { return &net.OpError{Op: "remote error", Err: errors.New(text)} }
	for _, c := range []struct {
		text    string
		asked   bool
		reword  bool
		comment string
	}{
		{"tls: certificate required", false, true, "TLS 1.3, no certificate"},
		{"tls: bad certificate", false, true, "refused"},
		{"tls: handshake failure", true, true, "TLS 1.2 after a request"},
		{"tls: access denied", true, true, "after a request"},
		{"tls: handshake failure", false, false, "no request: a cipher mismatch, say"},
		{"tls: protocol version not supported", true, false, "not about the certificate"},
	} {
		refused, err := clientCertFailure(tg, &Result{clientCertAsked: c.asked}, alert(c.text))
		reworded := strings.Contains(err.Error(), "requires a client certificate")
		if reworded != c.reword || refused != c.reword || Classify(err) != ReasonTLS {
			t.Errorf("%s (%s): %q, reason %q", c.text, c.comment, err, Classify(err))
		}
	}
	plain := errors.New("plain")
	if refused, err := clientCertFailure(tg, &Result{clientCertAsked: true}, plain); refused || err != plain {
		t.Error("an error without an alert was changed")
	}
}

// A plain target never presents its client certificate, so its status
// (InfoOf reads Certificates) must not claim one.
func TestClientCertificateIgnoredWithPlainMode(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS12, tls.VersionTLS13)
	tg, err := NewTarget(&config.Target{Protocol: "imap", Host: "127.0.0.1", Port: 143, TLSMode: string(TLSPlain),
		TLSCertFile: p.certFile, TLSKeyFile: p.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tg.TLSConfig.Certificates); n != 0 {
		t.Errorf("plain target carries %d client certificate(s)", n)
	}
}

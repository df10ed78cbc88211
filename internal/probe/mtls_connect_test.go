package probe

import (
	"context"
	"crypto/tls"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// connectOnlyCases are the implicit-TLS ports a connect-only check meets:
// imaps, pop3s, smtps and https. accept is the server's side once it took
// the certificate: a greeting, or (HTTP) nothing until the client goes.
var connectOnlyCases = []struct {
	protocol string
	accept   []string
}{
	{"imap", []string{"-- TLS", "S: * OK ready"}},
	{"pop3", []string{"-- TLS", "S: +OK ready"}},
	{"smtp", []string{"-- TLS", "S: 220 ready"}},
	{"http", []string{"-- TLS"}},
}

// connectOnly runs a connect-only check with a transcript.
func connectOnly(t *testing.T, tg *Target) Result {
	t.Helper()
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{Transcript: true})
	assertNoLeak(t, res)
	return res
}

func implicitCase(protocol string) mtlsCase {
	return mtlsCase{name: protocol + " implicit", protocol: protocol, mode: TLSImplicit}
}

// expectConnectFailure asserts a failure of the connect phase with
// reason tls and the wording of clientCertFailure.
func expectConnectFailure(t *testing.T, res Result, want string) {
	t.Helper()
	expectFail(t, res, ReasonTLS, want)
	if res.FailedPhase != PhaseConnect {
		t.Errorf("FailedPhase = %q, want connect", res.FailedPhase)
	}
}

// With TLS 1.3 a connect-only check used to pass although the server then
// refused the certificate: it now waits for the server's verdict.
func TestConnectOnlyClientCertificateTLS13(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	strangerCert, strangerKey := testutil.NewPKI(t).Issue(t, "stranger", 11, time.Now().Add(time.Hour), true).Write(t, t.TempDir())
	for _, c := range connectOnlyCases {
		mc := implicitCase(c.protocol)
		t.Run(c.protocol+"/accepted", func(t *testing.T) {
			srv := startFakeTLS(t, p.server, script(c.accept...))
			res := connectOnly(t, mtlsTarget(t, mc, p, srv, true))
			expectOK(t, res)
			expectStepNames(t, res, "connect", "tls", "client_cert")
			if !slices.ContainsFunc(res.Transcript, func(l string) bool { return strings.Contains(l, "server accepted the client certificate") }) {
				t.Errorf("transcript does not say the certificate was accepted:\n%s", strings.Join(res.Transcript, "\n"))
			}
		})
		t.Run(c.protocol+"/none configured", func(t *testing.T) {
			srv := startFakeTLS(t, p.server, refusingScript(t, c.accept))
			res := connectOnly(t, mtlsTarget(t, mc, p, srv, false))
			expectConnectFailure(t, res, "requires a client certificate and none is configured (tls_cert_file, tls_key_file)")
		})
		t.Run(c.protocol+"/wrong CA", func(t *testing.T) {
			srv := startFakeTLS(t, p.server, refusingScript(t, c.accept))
			wrong := p
			wrong.certFile, wrong.keyFile = strangerCert, strangerKey
			res := connectOnly(t, mtlsTarget(t, mc, wrong, srv, true))
			expectConnectFailure(t, res, `refused the client certificate "CN=stranger" (issuer "CN=backline test CA")`)
		})
	}
}

// TLS 1.2: the server's verdict is part of the handshake, so a connect-only
// check does not wait for more (a server that greets late is not held
// against it) and a refusal fails the handshake, as before.
func TestConnectOnlyClientCertificateTLS12(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS12, tls.VersionTLS12)
	for _, c := range connectOnlyCases {
		mc := implicitCase(c.protocol)
		t.Run(c.protocol+"/accepted", func(t *testing.T) {
			// No greeting: the check must not read one.
			srv := startFakeTLS(t, p.server, script("-- TLS"))
			res := connectOnly(t, mtlsTarget(t, mc, p, srv, true))
			expectOK(t, res)
			expectStepNames(t, res, "connect", "tls")
		})
		t.Run(c.protocol+"/none configured", func(t *testing.T) {
			srv := startFakeTLS(t, p.server, refusingScript(t, c.accept))
			res := connectOnly(t, mtlsTarget(t, mc, p, srv, false))
			expectConnectFailure(t, res, "requires a client certificate and none is configured")
			if !strings.Contains(res.Err.Error(), "TLS handshake failed") {
				t.Errorf("TLS 1.2 refusal not in the handshake: %v", res.Err)
			}
		})
	}
}

// A TLS 1.3 server that does not ask for a certificate has no verdict to
// give: the check ends after the handshake, without reading.
func TestConnectOnlyNoCertificateRequest(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	noAsk := p.server.Clone()
	noAsk.ClientAuth = tls.NoClientCert
	srv := startFakeTLS(t, noAsk, script("-- TLS"))
	res := connectOnly(t, mtlsTarget(t, implicitCase("imap"), p, srv, true))
	expectOK(t, res)
	expectStepNames(t, res, "connect", "tls")
}

// A server that asks but does not insist (optional client certificates)
// and greets is fine without one.
func TestConnectOnlyOptionalCertificate(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	optional := p.server.Clone()
	optional.ClientAuth = tls.VerifyClientCertIfGiven
	srv := startFakeTLS(t, optional, script("-- TLS", "S: * OK ready"))
	res := connectOnly(t, mtlsTarget(t, implicitCase("imap"), p, srv, false))
	expectOK(t, res)
	expectStepNames(t, res, "connect", "tls", "client_cert")
}

// A mail server that ends the connection after the handshake, without an
// alert and without a greeting, has not accepted the check.
func TestConnectOnlyClosedWithoutGreeting(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	srv := startFakeTLS(t, p.server, script("-- TLS", "-- close"))
	res := connectOnly(t, mtlsTarget(t, implicitCase("imap"), p, srv, true))
	expectConnectFailure(t, res, "ended the connection after the TLS handshake without a greeting or an alert")
}

// Silence after the handshake ends at the TLS deadline: for a mail server a
// missing greeting is a timeout; an HTTPS server that neither refuses nor
// answers close_notify did not refuse. (The short tls_timeout only bounds
// the test's wait; nothing is asserted about durations.)
func TestConnectOnlySilentAfterHandshake(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	silent := func(c *fakeConn) {
		raw := bufferedConn{c.conn, c.r}
		if err := tls.Server(raw, p.server).Handshake(); err != nil {
			t.Errorf("fake server: TLS handshake: %v", err)
			return
		}
		// Below TLS, so that close_notify does not end it: only the
		// client closing the connection does.
		_, _ = io.Copy(io.Discard, raw)
	}
	for _, c := range []struct {
		protocol string
		reason   Reason
		want     string
	}{
		{"imap", ReasonTimeout, "no greeting from"},
		{"http", ReasonNone, "counted as accepted"},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			srv := startFakeTLS(t, p.server, silent)
			tg := mtlsTarget(t, implicitCase(c.protocol), p, srv, true)
			tg.TLSTimeout = time.Second
			res := connectOnly(t, tg)
			if c.reason != ReasonNone {
				expectFail(t, res, c.reason, c.want)
				return
			}
			expectOK(t, res)
			if !slices.ContainsFunc(res.Transcript, func(l string) bool { return strings.Contains(l, c.want) }) {
				t.Errorf("transcript does not say %q:\n%s", c.want, strings.Join(res.Transcript, "\n"))
			}
		})
	}
}

// A deep check of an implicit-TLS port reads the TLS 1.3 refusal with the
// greeting or the HTTP response; it is still the connect phase that failed.
func TestDeepClientCertificateRefusalIsConnectPhase(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	for _, c := range []mtlsCase{mtlsCases[0], mtlsCases[len(mtlsCases)-1], mtlsCases[1]} {
		t.Run(c.name, func(t *testing.T) {
			srv := startFakeTLS(t, p.server, refusingScript(t, c.steps))
			res := deep(t, mtlsTarget(t, c, p, srv, false))
			want := PhaseConnect
			if c.mode == TLSStartTLS {
				want = PhaseDeep // the handshake is part of the deep phase
			}
			expectFail(t, res, ReasonTLS, "requires a client certificate")
			if res.FailedPhase != want {
				t.Errorf("FailedPhase = %q, want %q", res.FailedPhase, want)
			}
		})
	}
}

// The refused certificate's key appears nowhere in a connect-only failure.
func TestConnectOnlyRefusedKeyNeverAppears(t *testing.T) {
	p := newMTLSPKI(t, tls.VersionTLS13, tls.VersionTLS13)
	other := testutil.NewPKI(t).Issue(t, "stranger", 12, time.Now().Add(time.Hour), true)
	p.certFile, p.keyFile = other.Write(t, t.TempDir())
	for _, c := range connectOnlyCases {
		srv := startFakeTLS(t, p.server, refusingScript(t, c.accept))
		res := connectOnly(t, mtlsTarget(t, implicitCase(c.protocol), p, srv, true))
		if res.OK {
			t.Fatalf("%s: passed with a certificate of another CA", c.protocol)
		}
		for _, text := range append([]string{res.Err.Error()}, res.Transcript...) {
			for _, line := range strings.Split(string(other.KeyPEM), "\n") {
				if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
					t.Errorf("%s: key material appears in %q", c.protocol, text)
				}
			}
		}
	}
}

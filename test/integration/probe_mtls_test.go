package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
	"github.com/backline/backline/internal/testutil"
)

// TestProbeClientCertificateTLS13 runs connect-only and deep checks against
// HAProxy requiring a client certificate of the fixture CA over TLS 1.3
// (OpenSSL, refusing with an alert after the client's handshake): an
// imaps port in front of Dovecot A and an https port in front of nginx.
// A connect-only check must see the refusal; before it waited for the
// server's verdict it passed.
func TestProbeClientCertificateTLS13(t *testing.T) {
	f := testfixture.Load(t)
	stranger := testutil.NewPKI(t).Issue(t, "stranger", 2, time.Now().Add(time.Hour), true)
	strangerCert, strangerKey := stranger.Write(t, t.TempDir())
	for _, port := range []struct{ name, protocol, key, uri string }{
		{"imaps", "imap", "HAPROXY_MTLS_IMAPS", ""},
		{"https", "http", "HAPROXY_MTLS_HTTPS", "/public"},
	} {
		for _, c := range []struct {
			name, cert, key string
			want            string // "" must pass
		}{
			{"fixture client certificate", f.ClientCertFile, f.ClientKeyFile, ""},
			{"no certificate", "", "", "requires a client certificate and none is configured"},
			{"certificate of another CA", strangerCert, strangerKey, `refused the client certificate "CN=stranger"`},
		} {
			for _, phase := range []probe.Phase{probe.PhaseConnect, probe.PhaseDeep} {
				t.Run(port.name+"/"+c.name+"/"+string(phase), func(t *testing.T) {
					ct := &config.Target{
						Protocol: port.protocol, Host: "127.0.0.1", Port: f.Port(port.key), TLSMode: "implicit",
						TLSCAFile: f.CAFile, TLSServerName: "localhost", TLSCertFile: c.cert, TLSKeyFile: c.key,
						DeepCheck: true, RequestURI: port.uri, AuthMechanism: "auto",
						ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 10 * time.Second,
					}
					if port.protocol == "imap" {
						ct.TestUsername, ct.TestPassword = f.User, f.Password
					}
					tg, err := probe.NewTarget(ct)
					if err != nil {
						t.Fatal(err)
					}
					res := (&probe.Prober{}).Check(context.Background(), tg, phase, probe.Options{Transcript: true})
					transcript := strings.Join(res.Transcript, "\n")
					if c.want == "" {
						if !res.OK {
							t.Fatalf("failed: %s: %v\n%s", res.Reason, res.Err, transcript)
						}
						if res.TLSVersion != "TLS 1.3" {
							t.Errorf("TLS version %q", res.TLSVersion)
						}
						return
					}
					if res.OK || res.Reason != probe.ReasonTLS || res.FailedPhase != probe.PhaseConnect ||
						!strings.Contains(res.Err.Error(), c.want) {
						t.Fatalf("ok=%v reason=%q phase=%q err=%v, want tls in the connect phase with %q\n%s",
							res.OK, res.Reason, res.FailedPhase, res.Err, c.want, transcript)
					}
					if strings.Contains(res.Err.Error()+transcript, "PRIVATE KEY") {
						t.Error("key material in the error or transcript")
					}
				})
			}
		}
	}
}

package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// testPKI is a private CA with one server and one client certificate, as PEM files.
type testPKI struct {
	dir                           string
	caFile, clientCert, clientKey string
	pool                          *x509.CertPool
	server                        tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca := testutil.NewPKI(t)
	p := &testPKI{dir: t.TempDir(), pool: ca.Pool()}
	p.caFile = ca.WriteCA(t, p.dir)
	// virtual.example: a backend's hostname is the name the gateway checks.
	valid := time.Now().Add(time.Hour)
	p.server = ca.Issue(t, "localhost", 2, valid, false, "localhost", "virtual.example", "127.0.0.1").Cert
	client := ca.Issue(t, "gateway-client", 3, valid, true)
	p.clientCert = p.write(t, "client.pem", client.CertPEM)
	// SEC 1, not PKCS #8: newPKIMaterial derives the other forms from it.
	p.clientKey = p.write(t, "client-key.pem", client.SEC1KeyPEM(t))
	return p
}

func (p *testPKI) write(t *testing.T, name string, data []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsOrigin answers with the client certificate's name and the protocol.
func (p *testPKI) origin(t *testing.T, http2, requireClient bool) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = w.Write([]byte(r.Proto + " " + cn + " " + r.Host))
	}))
	s.EnableHTTP2 = http2
	s.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}}
	if requireClient {
		s.TLS.ClientAuth, s.TLS.ClientCAs = tls.RequireAndVerifyClientCert, p.pool
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestTLSPrivateCAAndClientCertificate(t *testing.T) {
	p := newTestPKI(t)
	o := p.origin(t, false, true)
	h := newHarness(t, gatewayYAML(o.URL, `      hostname: virtual.example
      tls:
        server_ca_certificate_file: `+p.caFile+`
        client_certificate_file: `+p.clientCert+`
        client_private_key_file: `+p.clientKey+`
`, `    - path: /x
      proxy:
        backend: api
    - path: /nocert
      proxy:
        backend:
          origin: `+o.URL+`
          tls:
            server_ca_certificate_file: `+p.caFile+`
    - path: /untrusted
      proxy:
        backend:
          origin: `+o.URL+`
`))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	if resp.StatusCode != 200 || body != "HTTP/1.1 gateway-client virtual.example" {
		t.Fatalf("status %d body %q logs %s", resp.StatusCode, body, h.logs.String())
	}
	resp, body = h.do(http.MethodGet, "/nocert", nil, nil)
	expectError(t, resp, body, 502, "backend")
	resp, body = h.do(http.MethodGet, "/untrusted", nil, nil)
	expectError(t, resp, body, 502, "backend")
}

func TestHTTP2Origin(t *testing.T) {
	p := newTestPKI(t)
	o := p.origin(t, true, false)
	tlsBlock := "      tls:\n        server_ca_certificate_file: " + p.caFile + "\n"
	h := newHarness(t, gatewayYAML(o.URL, tlsBlock+"      http2: true\n", `    - path: /h2
      proxy:
        backend: api
    - path: /h1
      proxy:
        backend:
          origin: `+o.URL+`
          disable_certificate_validation: true
`))
	if _, body := h.do(http.MethodGet, "/h2", nil, nil); body != "HTTP/2.0  "+o.Listener.Addr().String() {
		t.Fatalf("http2 backend: %q", body)
	}
	if _, body := h.do(http.MethodGet, "/h1", nil, nil); body != "HTTP/1.1  "+o.Listener.Addr().String() {
		t.Fatalf("http1 backend: %q", body)
	}
}

package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// gatewayWarnings are the warnings about gateway backends' tls blocks.
func gatewayTLSWarnings(c *Config) []string {
	var out []string
	for _, w := range c.Warnings() {
		if strings.Contains(w, ".tls.") {
			out = append(out, w)
		}
	}
	return out
}

// A gateway backend's client certificate that expired or expires within
// the warning window is a warning at its key path and line; a valid one is
// not. No part of the key reaches the text.
func TestGatewayClientCertificateExpiryWarning(t *testing.T) {
	ca := testutil.NewPKI(t)
	for _, c := range []struct {
		name string
		leaf testutil.Leaf
		want string
	}{
		{"expired", ca.Issue(t, "old", 2, time.Now().Add(-time.Minute), true), `client certificate "CN=old" expired at`},
		{"expiring", ca.Issue(t, "soon", 3, time.Now().Add(72*time.Hour), true), `client certificate "CN=soon" expires at`},
		{"in 13 days", ca.Issue(t, "d13", 4, time.Now().Add(13*24*time.Hour+time.Hour), true), "in 13 day(s); renew it and reload"},
		{"valid", ca.Issue(t, "fine", 5, time.Now().Add(365*24*time.Hour), true), ""},
		{"server certificate", ca.Issue(t, "server", 6, time.Now().Add(365*24*time.Hour), false), "lacks clientAuth"},
	} {
		cert, key := c.leaf.Write(t, t.TempDir())
		w := gatewayTLSWarnings(mustParse(t, tlsBackend("client_certificate_file: "+cert+"\nclient_private_key_file: "+key+"\n")))
		if c.want == "" {
			if len(w) != 0 {
				t.Errorf("%s: warnings %q", c.name, w)
			}
			continue
		}
		if len(w) != 1 || !strings.HasPrefix(w[0], tlsPath+"client_certificate_file (line 6): ") || !strings.Contains(w[0], c.want) {
			t.Errorf("%s: warnings %q, want one at line 6 containing %q", c.name, w, c.want)
		}
		for _, s := range w {
			if strings.Contains(s, "PRIVATE") || strings.Contains(s, string(c.leaf.KeyPEM[40:80])) {
				t.Errorf("%s: key material in %q", c.name, s)
			}
		}
	}
}

// Inline material: the warning names client_certificate; an inline
// backend of an endpoint is warned about under its own path.
func TestGatewayClientCertificateExpiryWarningInline(t *testing.T) {
	ca := testutil.NewPKI(t)
	soon := ca.Issue(t, "soon", 2, time.Now().Add(48*time.Hour), true)
	w := gatewayTLSWarnings(mustParse(t, tlsBackend("client_certificate: "+block(string(soon.CertPEM))+"client_private_key: "+block(string(soon.KeyPEM)))))
	if len(w) != 1 || !strings.HasPrefix(w[0], tlsPath+"client_certificate (line 6): ") {
		t.Fatalf("inline material: %q", w)
	}
	if strings.Contains(w[0], "BEGIN") {
		t.Fatalf("PEM text in %q", w[0])
	}

	cert, key := soon.Write(t, t.TempDir())
	yml := `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          origin: https://127.0.0.1:9
          tls:
            client_certificate_file: ` + cert + `
            client_private_key_file: ` + key + "\n"
	w = gatewayTLSWarnings(mustParse(t, yml))
	if len(w) != 1 || !strings.HasPrefix(w[0], "gateway.endpoints[0].proxy.backend.tls.client_certificate_file (line 9): ") {
		t.Fatalf("inline backend: %q", w)
	}
}

// One warning per certificate file, however many backends share it, at
// the first one and with their number; another file has its own warning.
func TestGatewayClientCertificateExpiryWarningOncePerFile(t *testing.T) {
	ca := testutil.NewPKI(t)
	soonCert, soonKey := ca.Issue(t, "soon", 2, time.Now().Add(72*time.Hour), true).Write(t, t.TempDir())
	oldCert, oldKey := ca.Issue(t, "old", 3, time.Now().Add(-time.Hour), true).Write(t, t.TempDir())
	var b strings.Builder
	b.WriteString("definitions:\n  backends:\n")
	for i := range 200 {
		cert, key := soonCert, soonKey
		if i == 100 {
			cert, key = oldCert, oldKey
		}
		fmt.Fprintf(&b, "    b%03d:\n      origin: https://127.0.0.1:9\n      tls: {client_certificate_file: %s, client_private_key_file: %s}\n", i, cert, key)
	}
	w := gatewayTLSWarnings(mustParse(t, b.String()))
	if len(w) != 2 {
		t.Fatalf("%d warnings, want 2: %q", len(w), w[:min(len(w), 3)])
	}
	if !strings.HasPrefix(w[0], "definitions.backends.b000.tls.client_certificate_file (line 5): ") ||
		!strings.HasSuffix(w[0], "(199 backends use this certificate)") {
		t.Errorf("shared file: %q", w[0])
	}
	if !strings.HasPrefix(w[1], "definitions.backends.b100.tls.client_certificate_file") || strings.Contains(w[1], "backends use") {
		t.Errorf("file of one backend: %q", w[1])
	}
}

// A load that fails on the pair warns about nothing; a later load of a
// renewed file (a reload) no longer warns; a backend built in code,
// never validated, is skipped.
func TestGatewayClientCertificateExpiryWarningReload(t *testing.T) {
	ca := testutil.NewPKI(t)
	dir := t.TempDir()
	old := ca.Issue(t, "svc", 2, time.Now().Add(-time.Hour), true)
	cert, key := old.Write(t, dir)
	yml := tlsBackend("client_certificate_file: " + cert + "\nclient_private_key_file: " + key + "\n")
	if w := gatewayTLSWarnings(mustParse(t, yml)); len(w) != 1 {
		t.Fatalf("expired: %q", w)
	}
	other := ca.Issue(t, "svc", 3, time.Now().Add(365*24*time.Hour), true)
	writeSecret(t, dir, "cert.pem", string(other.CertPEM), 0o644)
	if got := strings.Join(parseErrors(t, yml), "\n"); !strings.Contains(got, "does not match") {
		t.Fatalf("mismatched pair: %s", got)
	}
	writeSecret(t, dir, "key.pem", string(other.KeyPEM), 0o600)
	if w := gatewayTLSWarnings(mustParse(t, yml)); len(w) != 0 {
		t.Fatalf("renewed: %q", w)
	}

	c := &Config{}
	c.Definitions.Backends = map[string]*Backend{"api": {BackendAttrs: BackendAttrs{TLS: &BackendTLS{ClientCertificateFile: cert}}}}
	_ = c.Warnings()
}

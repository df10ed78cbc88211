package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check --no-secrets relaxes reading a missing file, nothing else: a tls
// block serve refuses for what is written (one half of the client pair
// without the other, a value and its _file both set) is refused by check
// --no-secrets too, at the same key, whether the named file is here or not.
func TestGatewayBackendTLSNoSecretsKeepsWrittenRules(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"certificate file without a key", "client_certificate_file: /nonexistent/backline/gw.crt\n",
			tlsPath + "client_private_key_file (line 5): tls: missing client private key (client_certificate_file is set)"},
		{"key file without a certificate", "client_private_key_file: /nonexistent/backline/gw.key\n",
			tlsPath + "client_certificate_file (line 5): tls: missing client certificate (client_private_key_file is set)"},
		{"CA inline and as a file", "server_ca_certificate: AAAA\nserver_ca_certificate_file: /nonexistent/backline/ca.pem\n",
			tlsPath + "server_ca_certificate (line 6): set either server_ca_certificate or server_ca_certificate_file, not both"},
		{"certificate inline and as a file", "client_certificate: AAAA\nclient_certificate_file: /nonexistent/backline/gw.crt\nclient_private_key_file: /nonexistent/backline/gw.key\n",
			tlsPath + "client_certificate (line 6): set either client_certificate or client_certificate_file, not both"},
		{"key inline and as a file", "client_certificate_file: /nonexistent/backline/gw.crt\nclient_private_key: AAAA\nclient_private_key_file: /nonexistent/backline/gw.key\n",
			tlsPath + "client_private_key (line 7): set either client_private_key or client_private_key_file, not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yml")
			writeFile(t, path, tlsBackend(c.body))
			for _, o := range []LoadOptions{{}, {NoSecrets: true}} {
				_, err := LoadWith(path, o)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("no-secrets %v: %v\nwant %q", o.NoSecrets, err, c.want)
				}
			}
		})
	}
}

// An inline backend an oauth2 token is fetched through, nested in an
// endpoint's inline backend, warns at its own key and line.
func TestGatewayInlineTokenBackendTLSNoSecrets(t *testing.T) {
	const yml = `definitions:
  backends:
    api:
      origin: https://127.0.0.1:9
gateway:
  address: 127.0.0.1:9
  endpoints:
    - path: /api/**
      proxy:
        backend:
          origin: https://127.0.0.1:9
          oauth2:
            grant_type: client_credentials
            token_endpoint: https://127.0.0.1:9/token
            client_id: id
            client_secret: s
            backend:
              origin: https://127.0.0.1:9
              tls:
                server_ca_certificate_file: /nonexistent/backline/idp-ca.pem
`
	path := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, path, yml)
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("load --no-secrets: %v", err)
	}
	want := "gateway.endpoints[0].proxy.backend.oauth2.backend.tls.server_ca_certificate_file (line 20): cannot read"
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}
}

// A client key that is here but open to other users is warned about by
// check --no-secrets as by check, also when the certificate is missing.
func TestGatewayBackendKeyModeWarnedUnderNoSecrets(t *testing.T) {
	f := writeTLSFiles(t)
	if err := os.Chmod(f.key, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, path, tlsBackend("client_certificate_file: /nonexistent/backline/gw.crt\nclient_private_key_file: "+f.key+"\n"))
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("load --no-secrets: %v", err)
	}
	want := tlsPath + "client_private_key_file (line 7): "
	w := strings.Join(c.Warnings(), "\n")
	if !strings.Contains(w, want) || !strings.Contains(w, "chmod 600") {
		t.Errorf("warnings lack the mode warning at %q:\n%s", want, w)
	}
}

// A client certificate that is here and has expired is warned about by
// check --no-secrets when only the key is missing (the certificate is
// public, the key is the secret a CI machine lacks).
func TestGatewayBackendExpiredCertWarnedWithoutKey(t *testing.T) {
	f := writeTLSFiles(t)
	path := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, path, tlsBackend("client_certificate_file: "+f.expiredCert+"\nclient_private_key_file: /nonexistent/backline/gw.key\n"))
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("load --no-secrets: %v", err)
	}
	want := tlsPath + "client_certificate_file (line 6): client certificate \"CN=old\" expired at"
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}
}

package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// check --no-secrets treats a gateway backend's tls files as it treats a
// target's tls_ca_file and tls_cert_file: one missing on this machine is a
// warning at its key and line, the backend is checked without it.
func TestGatewayBackendTLSFilesNoSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	writeFile(t, path, tlsBackend("server_ca_certificate_file: /nonexistent/backline/ca.pem\n"+
		"client_certificate_file: /nonexistent/backline/gw.crt\n"+
		"client_private_key_file: /nonexistent/backline/gw.key\n"))
	if _, err := LoadWith(path, LoadOptions{}); err == nil || !strings.Contains(err.Error(), tlsPath+"server_ca_certificate_file (line 6)") {
		t.Fatalf("load without --no-secrets: %v", err)
	}
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("load --no-secrets: %v", err)
	}
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		tlsPath + "server_ca_certificate_file (line 6): cannot read",
		tlsPath + "client_certificate_file (line 7): cannot read",
		tlsPath + "client_private_key_file (line 8): cannot read",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if n := strings.Count(w, "(--no-secrets: checked without it)"); n != 3 {
		t.Errorf("%d --no-secrets warnings, want 3:\n%s", n, w)
	}
	// What is missing is told as for a target (Target.NoSecretsAbsent).
	b := c.Definitions.Backends["api"]
	if a := b.TLS.NoSecretsAbsent; a == nil || !a.CA || !a.ClientPair || a.Leaf != nil {
		t.Errorf("NoSecretsAbsent = %+v, want CA and ClientPair", a)
	}
	// The gateway built from it (check builds one) reads no missing file.
	if _, err := b.TLS.LoadServerCAs(); err != nil {
		t.Errorf("server CAs after --no-secrets: %v", err)
	}
	if cert, err := b.TLS.LoadClientCertificate(); err != nil || cert != nil {
		t.Errorf("client certificate after --no-secrets: %v, %v", cert, err)
	}
}

// Without one half of the client pair, the other is still read: a broken
// certificate or key is an error at its key, not hidden behind the missing
// file's warning.
func TestGatewayBackendTLSNoSecretsChecksTheOtherHalf(t *testing.T) {
	f := writeTLSFiles(t)
	pki := testutil.NewPKI(t)
	clientCert, _ := pki.Issue(t, "gw", 9, time.Now().Add(90*24*time.Hour), true).Write(t, t.TempDir())
	path := filepath.Join(t.TempDir(), "c.yml")
	for _, c := range []struct{ cert, key, want string }{
		{f.garbage, "/nonexistent/backline/gw.key", tlsPath + "client_certificate_file (line 6): holds no PEM CERTIFICATE block"},
		{"/nonexistent/backline/gw.crt", f.garbage, tlsPath + "client_private_key_file (line 7): is not a PKCS #8, PKCS #1 or SEC 1 private key"},
		{clientCert, "/nonexistent/backline/gw.key", ""},
		{"/nonexistent/backline/gw.crt", f.key, ""},
	} {
		writeFile(t, path, tlsBackend("client_certificate_file: "+c.cert+"\nclient_private_key_file: "+c.key+"\n"))
		_, err := LoadWith(path, LoadOptions{NoSecrets: true})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("cert %s, key %s: %v", c.cert, c.key, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("cert %s, key %s: err %v, want %q", c.cert, c.key, err, c.want)
		}
	}
	// A broken CA next to a missing client pair is still an error.
	writeFile(t, path, tlsBackend("server_ca_certificate_file: "+f.garbage+"\nclient_certificate_file: /nonexistent/c\nclient_private_key_file: /nonexistent/k\n"))
	if _, err := LoadWith(path, LoadOptions{NoSecrets: true}); err == nil || !strings.Contains(err.Error(), tlsPath+"server_ca_certificate_file (line 6)") {
		t.Errorf("broken CA: %v", err)
	}
}

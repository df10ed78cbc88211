package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// check prints every problem of server.tls and gateway.tls, each with its
// key and line, not only the first; no line quotes the key files.
func TestCheckReportsEveryListenerTLSProblem(t *testing.T) {
	pki := testutil.NewPKI(t)
	_, otherKey := pki.Server(t, 1).Write(t, t.TempDir())
	expired, _ := pki.Issue(t, "old", 2, time.Now().Add(-time.Minute), false).Write(t, t.TempDir())
	notPEM := writeFile(t, "not-pem", "not a certificate\n")
	missing := filepath.Join(t.TempDir(), "missing-key.pem")
	path := writeFile(t, "backline.yml", "server:\n  tls:\n    cert_file: "+notPEM+"\n    key_file: "+missing+"\n"+
		"gateway:\n  address: 127.0.0.1:18080\n  tls:\n    cert_file: "+expired+"\n    key_file: "+otherKey+"\n")
	code, stdout, stderr := backline(t, "check", "--config", path)
	if code != exitFail {
		t.Fatalf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"server.tls.cert_file (line 3): holds neither a PEM nor a DER certificate",
		`server.tls.key_file (line 4): cannot read "` + missing + `"`,
		`gateway.tls.cert_file (line 8): certificate "CN=old" expired at`,
		"gateway.tls.key_file (line 9): does not match the public key of the first certificate in cert_file",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr+stdout, "PRIVATE KEY") {
		t.Errorf("key material in the output:\n%s\n%s", stdout, stderr)
	}
}

// check names each target's client certificate (subject, issuer, expiry)
// and never anything of its key.
func TestCheckShowsTargetClientCertificate(t *testing.T) {
	leaf := testutil.NewPKI(t).Issue(t, "backline probe", 3, time.Now().Add(90*24*time.Hour), true)
	cert, key := leaf.Write(t, t.TempDir())
	path := writeFile(t, "backline.yml", "auth:\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n      targets:\n"+
		"        - {name: imap-a, protocol: imap, host: 127.0.0.1, port: 993, tls: true, proxy_port: 143, tls_cert_file: "+cert+", tls_key_file: "+key+"}\n")
	code, stdout, stderr := backline(t, "check", "--config", path)
	if code != exitOK {
		t.Fatalf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := `auth.services.backend_health_checks.targets[0] (imap-a): client certificate "CN=backline probe" issued by "CN=backline test CA", valid until ` +
		leaf.Cert.Leaf.NotAfter.UTC().Format(time.RFC3339)
	if !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if strings.Contains(stdout+stderr, "PRIVATE KEY") || strings.Contains(stdout+stderr, key) {
		t.Errorf("the key or its file in the output:\n%s\n%s", stdout, stderr)
	}
}

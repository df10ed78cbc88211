package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// check --no-secrets with half of a target's client pair missing: the
// probes still build, the missing file is a warning at its key and line,
// and what is here is still judged (an expired certificate, a key open to
// other users). check without --no-secrets refuses the same file.
func TestCheckNoSecretsTargetClientPairHalfMissing(t *testing.T) {
	pki := testutil.NewPKI(t)
	oldCert, openKey := pki.Issue(t, "old", 5, time.Now().Add(-time.Minute), true).Write(t, t.TempDir())
	if err := os.Chmod(openKey, 0o644); err != nil {
		t.Fatal(err)
	}
	target := func(name, cert, key string) string {
		return "        - {name: " + name + ", protocol: imap, host: 127.0.0.1, port: 993, tls: true, proxy_port: 143, tls_cert_file: " + cert + ", tls_key_file: " + key + "}\n"
	}
	path := writeFile(t, "prod.yml", `auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
`+target("keyless", oldCert, "/nonexistent/backline/client.key")+target("certless", "/nonexistent/backline/client.crt", openKey))
	if code, _, stderr := backline(t, "check", "--config", path); code != exitFail || !strings.Contains(stderr, "targets[0].tls_key_file (line 6)") {
		t.Errorf("check without --no-secrets: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := backline(t, "check", "--no-secrets", "--config", path)
	if code != exitOK {
		t.Fatalf("check --no-secrets: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	const tp = "warning: auth.services.backend_health_checks.targets"
	for _, want := range []string{
		tp + "[0].tls_key_file (line 6): cannot read",
		tp + `[0].tls_cert_file (line 6): client certificate "CN=old" expired at`,
		tp + "[1].tls_cert_file (line 7): cannot read",
		tp + "[1].tls_key_file (line 7): ",
		"chmod 600",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check --no-secrets: stdout lacks %q:\n%s", want, stdout)
		}
	}
}

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testfixture"
)

// TestConfigAcceptsFixtureFiles loads a file that points at the fixture's
// servers, CA certificates and a password file, as an operator's would.
func TestConfigAcceptsFixtureFiles(t *testing.T) {
	f := testfixture.Load(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "healthcheck-password")
	if err := os.WriteFile(pwFile, []byte(f.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf(`auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - name: dovecot-a-imaps
          protocol: imap
          host: 127.0.0.1
          port: %d
          tls: true
          proxy_port: %d
          tls_ca_file: %q
          tls_server_name: %s
          deep_check: true
          test_username: %s
          test_password_file: %q
        - name: dovecot-b-sieve
          protocol: sieve
          host: localhost
          port: %d
          tls_ca_file: %q
          deep_check: true
        - name: haproxy-accept-proxy
          protocol: imap
          host: 127.0.0.1
          port: %d
          haproxy_v2: true
`, f.Port("DOVECOT_A_IMAPS"), f.Port("DOVECOT_A_IMAP"), f.CAFile, f.ServerName, f.User, pwFile,
		f.Port("DOVECOT_B_SIEVE"), f.OtherCAFile,
		f.Port("HAPROXY_ACCEPT_PROXY_IMAP"))
	path := filepath.Join(dir, "backline.yml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	targets := cfg.Auth.Services.BackendHealthChecks.Targets
	if got := targets[0].TestPassword; got != f.Password {
		t.Error("test_password_file content not loaded")
	}
	if targets[0].TLSMode != config.TLSImplicit || targets[1].TLSMode != config.TLSStartTLS || targets[2].HAProxyV2Command != config.HAProxyCommandLocal {
		t.Errorf("effective settings: tls_mode %s, %s; haproxy_v2_command %q", targets[0].TLSMode, targets[1].TLSMode, targets[2].HAProxyV2Command)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
}

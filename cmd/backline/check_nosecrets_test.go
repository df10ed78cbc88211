package main

import (
	"strings"
	"testing"
)

// A production file names variables and secret files this machine does not
// have: check fails on each, check --no-secrets reports them as warnings
// (key path and line) and still finds the real mistakes.
func TestCheckNoSecrets(t *testing.T) {
	const file = `server:
  api_auth:
    username: ops
    password: ${BACKLINE_NO_SUCH_VARIABLE_X}
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - name: mbox1
          protocol: imap
          host: 127.0.0.1
          port: 993
          tls: true
          tls_ca_file: /nonexistent/backline/ca.pem
          deep_check: true
          test_username: probe
          test_password_file: /nonexistent/backline/probe-password
  passdb:
    - name: users
      type: passwd_file
      path: /nonexistent/backline/users.passwd
`
	path := writeFile(t, "prod.yml", file)
	code, _, stderr := backline(t, "check", "--config", path)
	if code != exitFail {
		t.Fatalf("check without --no-secrets: exit %d", code)
	}
	for _, want := range []string{"BACKLINE_NO_SUCH_VARIABLE_X is not set", "tls_ca_file (line 15)", "test_password_file (line 18)", "passdb[0].path (line 22)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check: stderr lacks %q:\n%s", want, stderr)
		}
	}

	code, stdout, stderr := backline(t, "check", "--no-secrets", "--config", path)
	if code != exitOK {
		t.Fatalf("check --no-secrets: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"warning: server.api_auth.password (line 4): environment variable BACKLINE_NO_SUCH_VARIABLE_X is not set (--no-secrets",
		"warning: auth.services.backend_health_checks.targets[0].tls_ca_file (line 15): ",
		"warning: auth.services.backend_health_checks.targets[0].test_password_file (line 18): ",
		"warning: auth.passdb[0].path (line 22): cannot read passwd-file",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check --no-secrets: stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "no-secrets-stand-in") {
		t.Errorf("the stand-in value shows:\n%s", stdout)
	}

	// Real mistakes are still errors.
	bad := writeFile(t, "bad.yml", strings.Replace(file, "port: 993", "port: 99999", 1))
	code, _, stderr = backline(t, "check", "--no-secrets", "--config", bad)
	if code != exitFail || !strings.Contains(stderr, "targets[0].port (line 13)") {
		t.Errorf("a bad port under --no-secrets: exit %d\n%s", code, stderr)
	}
}

package main

import (
	"strings"
	"testing"
)

// A gateway backend's tls files missing on this machine are warnings under
// check --no-secrets, as a target's CA and client certificate are: the
// gateway check builds goes without them.
func TestCheckNoSecretsGatewayBackendTLS(t *testing.T) {
	const file = `definitions:
  backends:
    api:
      origin: https://127.0.0.1:9
      tls:
        server_ca_certificate_file: /nonexistent/backline/origin-ca.pem
        client_certificate_file: /nonexistent/backline/gw.crt
        client_private_key_file: /nonexistent/backline/gw.key
gateway:
  address: 127.0.0.1:9
  endpoints:
    - path: /api/**
      proxy:
        backend: api
`
	path := writeFile(t, "gw.yml", file)
	if code, _, stderr := backline(t, "check", "--config", path); code != exitFail || !strings.Contains(stderr, "tls.client_private_key_file (line 8)") {
		t.Fatalf("check without --no-secrets: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := backline(t, "check", "--no-secrets", "--config", path)
	if code != exitOK {
		t.Fatalf("check --no-secrets: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"warning: definitions.backends.api.tls.server_ca_certificate_file (line 6): ",
		"warning: definitions.backends.api.tls.client_certificate_file (line 7): ",
		"warning: definitions.backends.api.tls.client_private_key_file (line 8): ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

const validConfig = `server:
  address: 127.0.0.1:9080
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - protocol: imap
          host: 127.0.0.1
          port: 143
        - protocol: pop3
          host: 127.0.0.1
          port: 110
          tls_skip_verify: true
          tls: true
          proxy_port: 1110
`

func TestCheckValid(t *testing.T) {
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "ok.yml", validConfig))
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	want := "configuration OK: 2 targets, 0 gateway endpoints\n" +
		"warning: auth.services.backend_health_checks.targets[1].tls_skip_verify (line 14): certificate verification is off: the check cannot tell the backend from an impostor\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestCheckInvalid(t *testing.T) {
	path := writeFile(t, "bad.yml", `auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_timeout: soon
      targets:
        - protocol: imap
          host: 127.0.0.1
          port: 99999
        - protocol: gopher
          host: 127.0.0.1
          port: 70
          colour: blue
`)
	code, stdout, stderr := backline(t, "check", "--config", path)
	if code != exitFail || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{
		path + ": 4 error(s):",
		"auth.services.backend_health_checks.connect_timeout (line 5): invalid duration \"soon\"",
		"auth.services.backend_health_checks.targets[0].port (line 9): must be 1..65535, got 99999",
		"auth.services.backend_health_checks.targets[1].protocol (line 10): unknown protocol \"gopher\"",
		"auth.services.backend_health_checks.targets[1].colour (line 13): unknown key",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestCheckMissingFile(t *testing.T) {
	code, _, stderr := backline(t, "check", "--config", t.TempDir()+"/none.yml")
	if code != exitFail || !strings.Contains(stderr, "none.yml") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestServeInvalidConfig(t *testing.T) {
	code, _, stderr := backline(t, "serve", "--config", writeFile(t, "bad.yml", "server:\n  log_level: loud\n"))
	if code != exitFail || !strings.Contains(stderr, "server.log_level (line 2)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// A beta_health probe moved to another port or scheme is printed with its
// effective URL, so the operator sees where the checks will go; errors in
// the new keys name their key path and line.
func TestCheckMovedHealthProbe(t *testing.T) {
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "gw.yml", `definitions:
  backends:
    api:
      origin: https://127.0.0.1:8443/v1
      beta_health:
        path: /healthz
        port: 9000
        scheme: http
        initial_state: unhealthy
    plain:
      origin: http://127.0.0.1:8080
      beta_health: {}
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /a/**
      proxy:
        backend: api
    - path: /p/**
      proxy:
        backend: plain
`))
	want := "configuration OK: 0 targets, 2 gateway endpoints\n" +
		"definitions.backends.api.beta_health: gateway:api@https://127.0.0.1:8443 is probed at http://127.0.0.1:9000/healthz\n"
	if code != exitOK || stderr != "" || stdout != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	code, _, stderr = backline(t, "check", "--config", writeFile(t, "bad.yml", `definitions:
  backends:
    api:
      origin: https://127.0.0.1:8443
      beta_health:
        port: 70000
        scheme: ftp
        initial_state: down
`))
	for _, w := range []string{
		"definitions.backends.api.beta_health.port (line 6): must be 1..65535, got 70000",
		`definitions.backends.api.beta_health.scheme (line 7): must be http or https, got "ftp"`,
		`definitions.backends.api.beta_health.initial_state (line 8): must be healthy or unhealthy, got "down"`,
	} {
		if code != exitFail || !strings.Contains(stderr, w) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, w, stderr)
		}
	}
}

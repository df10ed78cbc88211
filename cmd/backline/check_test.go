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
